"""``mimo describe`` and ``mimo ask``: one request, rendered as it streams."""

import sys
from typing import Annotated, Any

import typer

from mimo_cli.cli.app import app, state
from mimo_cli.cli.options import Common, debug_log, notice_for, with_common
from mimo_cli.cli.segment import JOBS_HELP
from mimo_cli.errors import Kind, MimoError, usage_error


def run(
    ctx: typer.Context, inputs: list[str], question: str | None, opts: Common, single: bool, jobs: int = 4
) -> None:
    """Resolve the inputs, build one request, send it and render the answer (see :mod:`mimo_cli.core`)."""
    from mimo_cli import core
    from mimo_cli.render import answer
    from mimo_cli.render.console import info, print_json, status_line, use_utf8

    use_utf8()
    st = state(ctx)
    if opts.debug:
        st.debug = True
    started = st.clock.monotonic()
    renderer: Any = None
    status = None
    request = None
    job: core.Job | None = None
    failed: MimoError | None = None
    try:
        settings = opts.settings()
        job = core.Job(inputs, core.prompt_of(settings, question), settings, single=single)
        if settings.segment is not None:  # a long video in parts: mimo_cli.segment
            from mimo_cli.cli.segment import run_segmented

            merge = settings.merge if settings.merge is not None else not single
            failed = run_segmented(job, opts, st, jobs, merge)  # its record is printed already
            return
        status = status_line(opts.quiet)
        request = core.prepare(job, notice_for(opts.quiet), info=None if opts.quiet else info, status=status)
        if opts.dry_run:
            from mimo_cli.render.reports import show_dry_run
            from mimo_cli.transport.client import preview

            show_dry_run(preview(request), opts.json_out)
            return
        core.require_key(settings)
        as_data = settings.schema is not None
        renderer = answer.make_renderer(job.record_input, opts.json_out, opts.reasoning, opts.quiet, as_data)
        from mimo_cli.transport.client import Client

        notice = notice_for(opts.quiet, dim=True)
        structured = core.structured(settings, notice)
        with Client(settings, notice=notice, debug=debug_log(st.debugging()), clock=st.clock) as client:
            result = core.send(request, client, _after_status(status, renderer.delta), structured)
        if status is not None:
            status(None)
        renderer.finish(result)
    except MimoError as e:
        if opts.json_out and e.kind is not Kind.USAGE and job is not None:
            print_json(core.record(job, error=e, elapsed_s=st.clock.monotonic() - started))
        raise
    finally:
        if status is not None:
            status(None)
        if renderer is not None:
            renderer.stop()  # after an error: end open lines, keep a partial answer on screen
        if request is not None:
            request.close()
        if failed is not None:
            raise failed  # a segmented run that was sent: its record is printed, its files closed


def _after_status(status: Any, on_delta: Any) -> Any:
    """ "waiting for the model…" on a terminal until the first text arrives, then the answer alone."""
    if status is None:
        return on_delta
    status("waiting for the model…")

    def delta(kind: str, text: str) -> None:
        status(None)
        on_delta(kind, text)

    return delta


@app.command(
    epilog="""\b
Examples:
  mimo describe clip.mp4
  mimo describe https://example.com/v.mp4 --fps 1 --resolution max
  cat clip.mp4 | mimo describe - --preset caption
  mimo describe clip.mp4 -p "What breed is the cat?"
  mimo describe clip.mp4 --json | jq -r .answer
  mimo describe clip.mp4 --schema 'title, tags list, people int, speech bool: is anyone talking'
  mimo describe clip.mp4 --schema scene.schema.json | jq .tags
  mimo describe phone.mov --fit
  mimo describe talk.mkv --fit --start 1:00 --end 2:30
  mimo describe http://nas.local/v.mp4 --inline-url --fit
  mimo describe clip.mp4 --dry-run
  mimo describe lecture.mp4 --segment auto
  mimo describe lecture.mp4 --segment 10m -j 8 --json"""
)
@with_common
def describe(
    ctx: typer.Context,
    input: Annotated[
        str,
        typer.Argument(metavar="INPUT", help="A video file, an http(s) URL, a data: URI, or - for stdin."),
    ],
    opts: Common,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=256, metavar="N", help=JOBS_HELP)] = 4,
) -> None:
    """Describe one video, with the prompt of a preset (default: detailed)."""
    run(ctx, [input], None, opts, single=True, jobs=jobs)


@app.command(
    epilog="""\b
Examples:
  mimo ask clip.mp4 "How many people are in the video?"
  mimo ask a.mp4 b.mov "Which of the two clips is shot at night?"
  echo "What is said at the start?" | mimo ask clip.mp4 -
  mimo ask match.mkv --segment 15m "When is the first goal scored?"
  mimo ask a.mp4 b.mp4 --preset summary
  mimo ask clip.mp4 "Is anyone hurt?" --schema 'hurt bool, who: who is hurt'"""
)
@with_common
def ask(
    ctx: typer.Context,
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT... QUESTION",
            help="One or more videos, then the question (- reads it from stdin). With --prompt or --preset, "
            "every argument is a video.",
        ),
    ],
    opts: Common,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=256, metavar="N", help=JOBS_HELP)] = 4,
) -> None:
    """Ask a question about one or more videos, sent together in one request."""
    if opts.prompt is not None or opts.preset is not None:
        inputs, question = list(args), None
    else:
        if len(args) < 2:
            raise usage_error(
                "ask needs at least one INPUT and a QUESTION",
                'e.g. mimo ask clip.mp4 "What happens at the end?"',
            )
        inputs, question = list(args[:-1]), args[-1]
        if question == "-":
            if "-" in inputs:
                raise usage_error(
                    "the question cannot come from stdin when a video does",
                    "give the question as an argument",
                )
            question = sys.stdin.read().strip()
        if not question.strip():
            raise usage_error("the question is empty")
    run(ctx, inputs, question, opts, single=False, jobs=jobs)
