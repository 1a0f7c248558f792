"""``mimo describe`` and ``mimo ask``: one request, rendered as it streams."""

import sys
from typing import Annotated, Any

import typer

from mimo_cli.cli.app import app, state
from mimo_cli.cli.options import Common, debug_log, notice_for, with_common
from mimo_cli.cli.segment import JOBS_HELP
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


JobsOption = Annotated[int, typer.Option("--jobs", "-j", min=1, max=256, metavar="N", help=JOBS_HELP)]
BudgetOption = Annotated[
    int | None,
    typer.Option(
        "--budget",
        min=1,
        metavar="TOKENS",
        help="With --segment: send no part that would take the tokens used past TOKENS.",
    ),
]


def run(
    ctx: typer.Context,
    inputs: list[str],
    question: str | None,
    opts: Common,
    single: bool,
    fmt: str | None = None,
    jobs: int = 4,
    budget: int | None = None,
) -> None:
    """Resolve the inputs, build one request, send it (or take its answer from the run log with --cache),
    render the answer and record it (see :mod:`mimo_cli.core`)."""
    from mimo_cli import core
    from mimo_cli.render.console import info, print_json, status_line, use_utf8
    from mimo_cli.runlog.recorder import NO_LOG, Recorder

    use_utf8()
    st = state(ctx)
    out_format = output_format(fmt, opts)
    if opts.debug:
        st.debug = True
    settings = opts.settings()
    kind = "describe" if single else "ask"
    job = core.Job(inputs, core.prompt_of(settings, question), settings, single=single, kind=kind)
    if settings.segment is not None or budget is not None:  # a long video in parts: mimo_cli.segment
        _segmented(job, opts, st, jobs, budget)
        return
    started = st.clock.monotonic()
    prepared: core.Prepared | None = None
    recorder = NO_LOG
    status = None
    estimate = None
    try:
        status = status_line(opts.quiet)
        if opts.dry_run:
            _dry_run(job, opts, status)
            return
        recorder = Recorder.open(settings, notice_for(opts.quiet))
        prepared = core.open_job(job, notice_for(opts.quiet), recorder,
                                 info=None if opts.quiet else info, status=status)  # fmt: skip
        if prepared.hit is None:
            assert prepared.request is not None
            estimate = core.estimate_of(prepared.request)
            core.require_key(settings)
        _answer(st, prepared, recorder, opts, status, estimate, out_format)
    except MimoError as e:
        if e.kind is not Kind.USAGE:
            elapsed = st.clock.monotonic() - started
            kept = core.estimate_record(estimate, job.settings) if estimate is not None else None
            rec = None
            if prepared is not None and prepared.sent:  # record the failure of a request that went out
                rec = core.finish(prepared, recorder, error=e, elapsed_s=elapsed, estimate=kept)
            if opts.json_out:
                print_json(rec or core.record(job, error=e, elapsed_s=elapsed, estimate=kept))
        raise
    finally:
        if status is not None:
            status(None)
        if prepared is not None:
            prepared.close()
        recorder.close()


def _segmented(job: Any, opts: Common, st: Any, jobs: int, budget: int | None) -> None:
    """--segment: the parts, then the merge (default for ask); the record of a run that was sent is
    printed already when its error is raised."""
    if job.settings.segment is None:
        raise usage_error(
            "--budget needs --segment here (mimo batch takes it too)", "e.g. --segment auto --budget 500000"
        )
    from mimo_cli.cli.segment import run_segmented

    merge = job.settings.merge if job.settings.merge is not None else not job.single
    failed = run_segmented(job, opts, st, jobs, merge, budget)
    if failed is not None:
        raise failed


def _dry_run(job: Any, opts: Common, status: Any) -> None:
    from mimo_cli import core
    from mimo_cli.render.reports import show_dry_run
    from mimo_cli.transport.headers import preview

    request = core.prepare(job, notice_for(opts.quiet), status=status)
    try:
        estimate = core.estimate_record(core.estimate_of(request), job.settings)
        show_dry_run({**preview(request), "estimate": estimate}, opts.json_out, opts.quiet)
    finally:
        request.close()


def _answer(
    st: Any, prepared: Any, recorder: Any, opts: Common, status: Any, estimate: Any, fmt: str
) -> None:
    """Show the answer as it streams (or as the run log holds it), and record it."""
    from mimo_cli import core
    from mimo_cli.render import answer

    job = prepared.job
    as_data = job.settings.schema is not None
    renderer = make_renderer(fmt, job.record_input, opts, as_data)
    try:
        if prepared.hit is not None:
            _from_log(prepared.hit, opts.quiet)
            result = core.replay(prepared.hit)
            answer.replay(renderer, result, core.finish(prepared, recorder, result))
            return
        from mimo_cli.transport.client import Client

        notice = notice_for(opts.quiet, dim=True)
        structured = core.structured(job.settings, notice)
        with Client(job.settings, notice=notice, debug=debug_log(st.debugging()), clock=st.clock) as client:
            prepared.sent = True
            on_delta = _after_status(status, renderer.delta)
            result = core.send(
                prepared.request, client, on_delta, structured, notice_for(opts.quiet), estimate=estimate
            )
        if status is not None:
            status(None)
        core.finish(prepared, recorder, result)
        renderer.finish(result)
    finally:
        renderer.stop()  # after an error: end open lines, keep a partial answer on screen


def _from_log(hit: dict[str, Any], quiet: bool) -> None:
    if quiet:
        return
    from mimo_cli.render.console import info

    when = str(hit.get("started_at") or "").replace("T", " ")[:19]
    info(f"answered from the run log (request {hit.get('id')} of {when} UTC): nothing sent, 0 tokens")


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
  mimo describe clip.mp4 --cache     (the same request again: from the run log, nothing sent)
  mimo describe private.mp4 --no-log
  mimo describe clip.mp4 --thinking --extra-body '{"allowed_openai_params": ["thinking"]}'
  mimo describe talk.mp4 --timestamps --format srt > talk.srt
  mimo describe vlog.mp4 --preset chapters --format chapters
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
    fmt: FormatOption = None,
    jobs: JobsOption = 4,
    budget: BudgetOption = None,
) -> None:
    """Describe one video, with the prompt of a preset (default: detailed)."""
    run(ctx, [input], None, opts, single=True, fmt=fmt, jobs=jobs, budget=budget)


@app.command(
    epilog="""\b
Examples:
  mimo ask clip.mp4 "How many people are in the video?"
  mimo ask a.mp4 b.mov "Which of the two clips is shot at night?"
  echo "What is said at the start?" | mimo ask clip.mp4 -
  mimo ask match.mkv --segment 15m "When is the first goal scored?"
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
    jobs: JobsOption = 4,
    budget: BudgetOption = None,
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
        _check_not_a_video(question)
        if question == "-":
            if "-" in inputs:
                raise usage_error(
                    "the question cannot come from stdin when a video does",
                    "give the question as an argument",
                )
            question = sys.stdin.read().strip()
        if not question.strip():
            raise usage_error("the question is empty")
    try:
        run(ctx, inputs, question, opts, single=False, fmt=fmt, jobs=jobs, budget=budget)
    except MimoError as e:
        if question is None and e.kind is Kind.INPUT and e.message.endswith(": no such file"):
            e.hint = (
                "with --preset or --prompt every argument is a video: to ask a question, leave them out "
                '(mimo ask clip.mp4 "What is shown?"), or give it as --prompt "…"'
            )
        raise


def _check_not_a_video(question: str) -> None:
    """``mimo ask a.mp4 b.mov``: the question was forgotten, and b.mov would be sent as the question."""
    import os

    from mimo_cli.inputs.sniff import ACCEPTED_EXT, OTHER_VIDEO_EXT

    suffix = os.path.splitext(question)[1].lower()
    if (suffix in ACCEPTED_EXT or suffix in OTHER_VIDEO_EXT) and os.path.isfile(question):
        raise usage_error(
            f"the last argument of ask is the question, but {question} is a video file: what is the question?",
            'add it at the end, e.g. mimo ask a.mp4 b.mov "Which one is shot at night?" '
            "(with --preset or --prompt, every argument is a video)",
        )
