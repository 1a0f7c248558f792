"""``mimo batch``: many videos, one request each; JSON Lines out, resumable and shardable."""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mimo_cli.cli.app import HardExit, app, state
from mimo_cli.cli.options import Common, debug_log, with_common
from mimo_cli.errors import ExitCode, Kind, MimoError, usage_error
from mimo_cli.redact import redact

if TYPE_CHECKING:
    from mimo_cli.batch.runner import Outcome
    from mimo_cli.settings import Settings

BATCH = "Batch"


def sidecar_ext(sidecar: str | None, opts: Common) -> str | None:
    """The --sidecar extension checked; srt and vtt (subtitles, made of events) turn --timestamps on."""
    from mimo_cli.batch.sidecar import check_sidecar_ext
    from mimo_cli.timeline.subtitles import SUBTITLE_FORMATS

    if sidecar is None:
        return None
    ext = check_sidecar_ext(sidecar)
    if ext.lower() in SUBTITLE_FORMATS:
        opts.timestamps = True
    return ext


@app.command(
    epilog="""\b
Examples:
  mimo batch videos/ -o captions.jsonl --preset caption
  mimo batch videos/ -o captions.jsonl --preset caption --resume
  mimo batch videos/ -j 8 --rpm 120 --exclude 'raw/*' -o out.jsonl
  mimo batch videos/ --sidecar txt --out-dir captions/ --preset caption
  mimo batch lectures/ --sidecar vtt -o out.jsonl
  find . -name '*.mov' | mimo batch - -o out.jsonl
  mimo batch videos/ --shard 2/4 -o part-2.jsonl
  mimo batch videos/ -o out.jsonl --dry-run --resume
  mimo batch lectures/ --segment auto -j 8 -o out.jsonl
  mimo batch videos/ --schema scene.schema.json -o scenes.jsonl
  mimo batch videos/ -o out.jsonl --budget 2000000
  mimo batch videos/ -o out.jsonl --cache    (answers already in the run log are not asked again)
\b
Exit codes: 0 every input done (or skipped), 1 an input failed, 2 usage error, 3 authentication or
quota problem (the batch stops at the first), 130 interrupted (--resume continues)."""
)
@with_common
def batch(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help="Video files, directories (searched recursively), http(s) URLs, or - to read one per line "
            "from stdin.",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the JSON Lines records here, not to stdout (replaced, unless --resume).",
            rich_help_panel=BATCH,
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Append to --output, skipping inputs it has an ok record for (same "
            "file, same options); failed ones are sent again.",
            rich_help_panel=BATCH,
        ),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs", "-j", min=1, max=256, metavar="N", help="Requests in flight.", rich_help_panel=BATCH
        ),
    ] = 4,
    rpm: Annotated[
        float | None,
        typer.Option(
            "--rpm",
            min=0.001,
            metavar="N",
            help="At most this many requests start per minute (evenly spaced).",
            rich_help_panel=BATCH,
        ),
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            metavar="GLOB",
            help="Only inputs whose path (below the directory), name "
            "or input matches; repeatable; * also matches /.",
            rich_help_panel=BATCH,
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            metavar="GLOB",
            help="Leave out inputs that match; repeatable.",
            rich_help_panel=BATCH,
        ),
    ] = None,
    sidecar: Annotated[
        str | None,
        typer.Option(
            "--sidecar",
            metavar="EXT",
            help="Also write each answer next to its video (clip.mp4 -> clip.EXT; json writes the record; "
            "srt and vtt write its events as subtitles, implying --timestamps).",
            rich_help_panel=BATCH,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir",
            metavar="DIR",
            help="Write the sidecars here, mirroring the tree below each directory given.",
            rich_help_panel=BATCH,
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="K/N",
            help="Take only shard K of N (a stable hash of each input), "
            "to split one batch across N machines.",
            rich_help_panel=BATCH,
        ),
    ] = None,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first failed input.", rich_help_panel=BATCH)
    ] = False,
    budget: Annotated[
        int | None,
        typer.Option(
            "--budget",
            min=1,
            metavar="TOKENS",
            help="Start no request that could take the tokens used past TOKENS (usage so far, plus the "
            "estimates of those in flight and its own); those inputs get a budget record (--resume later).",
            rich_help_panel=BATCH,
        ),
    ] = None,
    *,
    ctx: typer.Context,
    opts: Common,
) -> ExitCode | None:
    """Describe many videos, one request each, in parallel; JSON Lines out, resumable and shardable."""
    from mimo_cli.batch import plan as batch_plan
    from mimo_cli.batch import runner
    from mimo_cli.batch.output import refuse_an_input
    from mimo_cli.batch.sidecar import name_apart
    from mimo_cli.core import prompt_of
    from mimo_cli.render.console import info, use_utf8, warning
    from mimo_cli.render.progress import make_progress

    use_utf8()
    st = state(ctx)
    if resume and output is None:
        raise usage_error("--resume needs --output FILE", "e.g. mimo batch videos/ -o out.jsonl --resume")
    if out_dir is not None and sidecar is None:
        raise usage_error("--out-dir needs --sidecar EXT", "e.g. --sidecar txt --out-dir captions/")
    ext = sidecar_ext(sidecar, opts)
    shard_kn = batch_plan.parse_shard(shard) if shard is not None else None
    if paths.count("-") > 1:
        raise usage_error("- (read paths from stdin) may be given once")
    settings = opts.settings()
    prompt = prompt_of(settings)
    converts = settings.fit or settings.segment is not None  # --segment converts the parts that need it
    left_out: dict[str, int] = {}
    every = batch_plan.plan_all(paths, fit=converts, include=include or (), exclude=exclude or (),
                                left_out=left_out)  # fmt: skip
    if output is not None:
        refuse_an_input(output, every)
    renamed, lines = name_apart(every, ext, out_dir) if ext else ({}, [])  # all shards: the same names
    items = batch_plan.this_shard(every, shard_kn)
    for line in lines if not opts.quiet else ():
        warning(line)
    if opts.dry_run:
        show_dry_run(
            runner.dry_run(items, settings, prompt, output, resume), settings, opts.json_out, opts.quiet
        )
        if left_out and not opts.quiet:
            info(_left_out_line(left_out))
        return None
    if not items and not opts.quiet:
        exts = " ".join(sorted(batch_plan.video_extensions(converts)))
        warning("no inputs found", f"directories are searched for {exts} (see --include, --exclude)")
    if opts.debug:
        st.debug = True
    options = runner.Options(jobs=jobs, rpm=rpm, fail_fast=fail_fast, sidecar=ext, out_dir=out_dir,
                             budget=budget, renamed=renamed)  # fmt: skip
    progress = make_progress(opts.quiet, records_on_terminal=output is None and sys.stdout.isatty())
    outcome = runner.execute(items, settings, prompt, options, output=output, resume=resume, progress=progress,
                             quiet=opts.quiet, debug=debug_log(st.debugging()), clock=st.clock)  # fmt: skip
    info(outcome.summary.line())
    if left_out and not opts.quiet:
        info(_left_out_line(left_out))
    return _exit_code(outcome, output)


def _left_out_line(left_out: dict[str, int]) -> str:
    """``left out 17 videos of other containers (5 .webm, 4 .mkv …): --fit converts and sends them``."""
    kinds = ", ".join(f"{n} {ext}" for ext, n in sorted(left_out.items(), key=lambda kv: (-kv[1], kv[0])))
    n = sum(left_out.values())
    return (f"left out {n} video{'s' if n != 1 else ''} of other containers ({kinds}): --fit converts and "
            "sends them, --include GLOB takes a file of any extension")  # fmt: skip


def _exit_code(outcome: "Outcome", output: Path | None) -> ExitCode | None:
    summary = outcome.summary
    if summary.stopped_by == "broken pipe":  # nobody reads stdout any more (| head): leave without a fuss
        return ExitCode.FAILED
    if summary.output_error:  # a full disk: what was written is kept, whole records only
        hint = "free some space, then run again with --resume" if output is not None else None
        raise MimoError(Kind.SERVER, summary.output_error, hint)
    if summary.interrupted:
        if outcome.abandoned:  # the abandoned requests' threads cannot be joined: leave at once
            raise HardExit(ExitCode.INTERRUPTED)
        return ExitCode.INTERRUPTED
    if outcome.auth_error:
        return ExitCode.AUTH
    if summary.failed or summary.sidecar_failures or summary.over_budget:
        return ExitCode.FAILED
    return None


def show_dry_run(
    entries: "Iterator[dict[str, Any]]", settings: "Settings", as_json: bool, quiet: bool
) -> None:
    """One line (or JSON object) per input with its estimate, then the totals: the last line of the text
    listing, or a line on stderr beside the JSON (so that stdout stays one object per input)."""
    from mimo_cli.batch.runner import dry_run_totals
    from mimo_cli.render.console import info, print_json
    from mimo_cli.render.estimates import send_suffix, totals_line

    shown = []
    for entry in entries:
        shown.append(entry)
        if as_json:
            print_json(entry)
        else:
            suffix = send_suffix(entry["estimate"]) if entry["estimate"] is not None else ""
            sys.stdout.write(redact(f"{entry['action']}  {entry['input']}{suffix}") + "\n")
    sending = [e for e in shown if e["action"] == "send"]
    summed, unknown = dry_run_totals(sending, settings)
    line = totals_line(len(sending), len(shown) - len(sending), summed, unknown)
    if not as_json:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if as_json and not quiet:
        info(line)
