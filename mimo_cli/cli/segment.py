"""``mimo describe/ask --segment``: a long video in parts, shown as the parts end (see mimo_cli.segment)."""

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from mimo_cli.cli.app import State
from mimo_cli.cli.options import Common, debug_log, notice_for
from mimo_cli.errors import Kind, MimoError

JOBS_HELP = "With --segment: parts sent at a time (and part files on disk at most)."


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends a segmented run as Ctrl-C does (exit 130, part files removed), from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cache_hint(settings: Any) -> str | None:
    """With the run log on, running again with --cache re-sends only the parts that failed."""
    if not settings.log:
        return None
    return (
        "run it again with --cache: the parts that succeeded come from the run log, only the others are sent"
    )


def show_plan(prepared: Any, merge: bool, as_json: bool) -> None:
    """--dry-run with --segment: the parts that would be sent (nothing is cut or sent)."""
    from mimo_cli.render.console import print_json

    parts = [{"index": p.index, "start": round(p.start, 3), "end": round(p.end, 3),
              "cut": "copy" if p.on_keyframes and prepared.source.mime else "convert"}
             for p in prepared.parts]  # fmt: skip
    if as_json:
        print_json({"input": prepared.video.label, "duration": prepared.source.duration, "merge": merge,
                    "segments": parts})  # fmt: skip
        return
    import sys

    sys.stdout.write(
        f"{len(parts)} part(s) of {prepared.source.label}, then {'a merge' if merge else 'no merge'}:\n"
    )
    for p, item in zip(prepared.parts, parts, strict=True):
        sys.stdout.write(f"  part {p.index}: {p.times} ({item['cut']})\n")


def run_segmented(
    job: Any, opts: Common, st: State, jobs: int, merge: bool, budget: int | None = None
) -> MimoError | None:
    """Plan, send the parts (``jobs`` at a time), merge when asked, and show it all.

    Returns the error of a run that was sent (its record is printed already) for the caller to raise;
    raises the errors found before sending."""
    from mimo_cli import core
    from mimo_cli.render import answer
    from mimo_cli.render.console import print_json
    from mimo_cli.render.segments import PartsView
    from mimo_cli.runlog.recorder import Recorder
    from mimo_cli.segment import pipeline

    prepared = pipeline.prepare(job, notice_for(opts.quiet))
    renderer: Any = None
    recorder = Recorder.open(job.settings, notice_for(opts.quiet))
    try:
        if opts.dry_run:
            show_plan(prepared, merge, opts.json_out)
            return None
        core.require_key(job.settings)
        view = PartsView(len(prepared.parts), show_parts=not merge and not opts.json_out, quiet=opts.quiet)
        as_data = job.settings.schema is not None
        if merge and not opts.json_out:
            renderer = answer.make_renderer(job.record_input, False, opts.reasoning, opts.quiet, as_data)
        from mimo_cli.transport.client import Client

        notice = notice_for(opts.quiet, dim=True)
        structured = core.structured(job.settings, notice)
        with (
            Client(job.settings, notice=notice, debug=debug_log(st.debugging()), clock=st.clock) as client,
            sigterm_as_interrupt(),
        ):
            done = pipeline.send(prepared, job, client, jobs=jobs, merge=merge, on_step=view.step,
                                 on_finished=view.finished, on_ready=view.ready,
                                 on_merge_delta=renderer.delta if renderer is not None else None,
                                 notice=notice_for(opts.quiet), structured=structured,
                                 recorder=recorder, budget=_budget(budget))  # fmt: skip
        error = done.error
        if opts.json_out:
            print_json(done.record())
        elif error is None and renderer is not None:
            renderer.finish(done.total())
            renderer = None
        elif error is None:
            view.summary(done.total())
        return _with_hint(error, job.settings) if error is not None else None
    finally:
        if renderer is not None:
            renderer.stop()
        prepared.close()
        recorder.close()


def _with_hint(error: MimoError, settings: Any) -> MimoError:
    hint = cache_hint(settings) if error.kind is not Kind.INTERRUPTED else None
    if hint and not error.hint:
        error.hint = hint
    elif hint:
        error.hint = f"{error.hint}; {hint}"
    return error


def _budget(tokens: int | None) -> Any:
    if tokens is None:
        return None
    from mimo_cli.estimate.budget import Budget

    return Budget(tokens)
