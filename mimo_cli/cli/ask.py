"""``mimo describe`` and ``mimo ask``: one request, rendered as it streams."""

import sys
from typing import Annotated, Any

import typer

from mimo_cli.cli.app import app, state
from mimo_cli.cli.options import Common, debug_log, notice_for, with_common
from mimo_cli.errors import Kind, MimoError, usage_error

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="text|json|srt|vtt|chapters",
        help="What stdout gets: the answer (text), the record (json, as --json), or the answer's events as "
        "subtitles (srt, vtt) or chapters; srt, vtt and chapters imply --timestamps [default: text].",
        show_default=False,
        rich_help_panel="Output",
    ),
]


def output_format(fmt: str | None, opts: Common) -> str:
    """--format checked against --json (one of them is enough); srt, vtt and chapters turn --timestamps on."""
    from mimo_cli.render.timed import FORMATS, TIMED_FORMATS

    if fmt is None:
        return "json" if opts.json_out else "text"
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise usage_error(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if opts.json_out and fmt != "json":
        raise usage_error(f"--json and --format {fmt} ask for two outputs", "give one of them")
    if fmt in TIMED_FORMATS:
        opts.timestamps = True
    opts.json_out = fmt == "json"
    return fmt


def make_renderer(fmt: str, record_input: str | list[str], opts: Common, as_data: bool) -> Any:
    """The renderer of --format: the events (srt, vtt, chapters), else the answer or the record."""
    from mimo_cli.render import answer
    from mimo_cli.render.timed import TIMED_FORMATS, TimedRenderer

    if fmt in TIMED_FORMATS:
        return TimedRenderer(fmt, show_reasoning=bool(opts.reasoning), quiet=opts.quiet)
    return answer.make_renderer(record_input, opts.json_out, opts.reasoning, opts.quiet, as_data)


def run(
    ctx: typer.Context,
    inputs: list[str],
    question: str | None,
    opts: Common,
    single: bool,
    fmt: str | None = None,
) -> None:
    """Resolve the inputs, build one request, send it and render the answer (see :mod:`mimo_cli.core`)."""
    from mimo_cli import core
    from mimo_cli.render.console import info, print_json, status_line, use_utf8

    use_utf8()
    st = state(ctx)
    out_format = output_format(fmt, opts)
    if opts.debug:
        st.debug = True
    started = st.clock.monotonic()
    renderer: Any = None
    status = None
    request = None
    job: core.Job | None = None
    estimate = None
    try:
        settings = opts.settings()
        job = core.Job(inputs, core.prompt_of(settings, question), settings, single=single)
        status = status_line(opts.quiet)
        request = core.prepare(job, notice_for(opts.quiet), info=None if opts.quiet else info, status=status)
        estimate = core.estimate_of(request)
        if opts.dry_run:
            from mimo_cli.render.reports import show_dry_run
            from mimo_cli.transport.client import preview

            shown = {**preview(request), "estimate": core.estimate_record(estimate, settings)}
            show_dry_run(shown, opts.json_out, opts.quiet)
            return
        core.require_key(settings)
        as_data = settings.schema is not None
        renderer = make_renderer(out_format, job.record_input, opts, as_data)
        from mimo_cli.transport.client import Client

        notice = notice_for(opts.quiet, dim=True)
        structured = core.structured(settings, notice)
        with Client(settings, notice=notice, debug=debug_log(st.debugging()), clock=st.clock) as client:
            result = core.send(
                request,
                client,
                _after_status(status, renderer.delta),
                structured,
                estimate=estimate,
                notice=notice_for(opts.quiet),
            )
        if status is not None:
            status(None)
        renderer.finish(result)
    except MimoError as e:
        if opts.json_out and e.kind is not Kind.USAGE and job is not None:
            kept = core.estimate_record(estimate, job.settings) if estimate is not None else None
            print_json(core.record(job, error=e, elapsed_s=st.clock.monotonic() - started, estimate=kept))
        raise
    finally:
        if status is not None:
            status(None)
        if renderer is not None:
            renderer.stop()  # after an error: end open lines, keep a partial answer on screen
        if request is not None:
            request.close()


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
  mimo describe talk.mp4 --timestamps --format srt > talk.srt
  mimo describe vlog.mp4 --preset chapters --format chapters"""
)
@with_common
def describe(
    ctx: typer.Context,
    input: Annotated[
        str,
        typer.Argument(metavar="INPUT", help="A video file, an http(s) URL, a data: URI, or - for stdin."),
    ],
    opts: Common,
    fmt: FormatOption = None,
) -> None:
    """Describe one video, with the prompt of a preset (default: detailed)."""
    run(ctx, [input], None, opts, single=True, fmt=fmt)


@app.command(
    epilog="""\b
Examples:
  mimo ask clip.mp4 "How many people are in the video?"
  mimo ask a.mp4 b.mov "Which of the two clips is shot at night?"
  echo "What is said at the start?" | mimo ask clip.mp4 -
  mimo ask a.mp4 b.mp4 --preset summary
  mimo ask clip.mp4 "Is anyone hurt?" --schema 'hurt bool, who: who is hurt'
  mimo ask match.mp4 "When is a goal scored?" --timestamps --json"""
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
    fmt: FormatOption = None,
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
    run(ctx, inputs, question, opts, single=False, fmt=fmt)
