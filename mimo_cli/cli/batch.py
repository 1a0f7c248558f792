"""``mimo batch``: many videos, one request each; JSON Lines out, resumable and shardable."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mimo_cli.cli.app import HardExit, app, state
from mimo_cli.cli.options import Common, debug_log, with_common
from mimo_cli.errors import ExitCode, usage_error
from mimo_cli.redact import redact

BATCH = "Batch"


@app.command(
    epilog="""\b
Examples:
  mimo batch videos/ -o captions.jsonl --preset caption
  mimo batch videos/ -o captions.jsonl --preset caption --resume
  mimo batch videos/ -j 8 --rpm 120 --exclude 'raw/*' -o out.jsonl
  mimo batch videos/ --sidecar txt --out-dir captions/ --preset caption
  find . -name '*.mov' | mimo batch - -o out.jsonl
  mimo batch videos/ --shard 2/4 -o part-2.jsonl
  mimo batch videos/ -o out.jsonl --dry-run --resume
  mimo batch lectures/ --segment auto -j 8 -o out.jsonl
  mimo batch videos/ --schema scene.schema.json -o scenes.jsonl
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
            help="Also write each answer next to its video (clip.mp4 -> clip.EXT; json writes the record).",
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
    *,
    ctx: typer.Context,
    opts: Common,
) -> ExitCode | None:
    """Describe many videos, one request each, in parallel; JSON Lines out, resumable and shardable."""
    from mimo_cli.batch import plan as batch_plan
    from mimo_cli.batch import runner
    from mimo_cli.batch.sidecar import check_sidecar_ext
    from mimo_cli.core import prompt_of
    from mimo_cli.render.console import info, print_json, use_utf8, warning
    from mimo_cli.render.progress import make_progress

    use_utf8()
    st = state(ctx)
    if resume and output is None:
        raise usage_error("--resume needs --output FILE", "e.g. mimo batch videos/ -o out.jsonl --resume")
    if out_dir is not None and sidecar is None:
        raise usage_error("--out-dir needs --sidecar EXT", "e.g. --sidecar txt --out-dir captions/")
    ext = check_sidecar_ext(sidecar) if sidecar is not None else None
    shard_kn = batch_plan.parse_shard(shard) if shard is not None else None
    if paths.count("-") > 1:
        raise usage_error("- (read paths from stdin) may be given once")
    settings = opts.settings()
    prompt = prompt_of(settings)
    converts = settings.fit or settings.segment is not None  # --segment converts the parts that need it
    items = batch_plan.plan(paths, fit=converts, include=include or (), exclude=exclude or (),
                            shard=shard_kn)  # fmt: skip
    if opts.dry_run:
        for entry in runner.dry_run(items, settings, prompt, output, resume):
            if opts.json_out:
                print_json(entry)
            else:
                sys.stdout.write(redact(f"{entry['action']}  {entry['input']}") + "\n")
        sys.stdout.flush()
        return None
    if not items and not opts.quiet:
        exts = " ".join(sorted(batch_plan.video_extensions(converts)))
        warning("no inputs found", f"directories are searched for {exts} (see --include, --exclude)")
    if opts.debug:
        st.debug = True
    options = runner.Options(jobs=jobs, rpm=rpm, fail_fast=fail_fast, sidecar=ext, out_dir=out_dir)
    progress = make_progress(opts.quiet, records_on_terminal=output is None and sys.stdout.isatty())
    outcome = runner.execute(items, settings, prompt, options, output=output, resume=resume, progress=progress,
                             quiet=opts.quiet, debug=debug_log(st.debugging()), clock=st.clock)  # fmt: skip
    summary = outcome.summary
    info(summary.line())
    if summary.stopped_by == "broken pipe":  # nobody reads stdout any more (| head): leave without a fuss
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.FAILED
    if summary.interrupted:
        if outcome.abandoned:  # the abandoned requests' threads cannot be joined: leave at once
            raise HardExit(ExitCode.INTERRUPTED)
        return ExitCode.INTERRUPTED
    if outcome.auth_error:
        return ExitCode.AUTH
    if summary.failed or summary.sidecar_failures:
        return ExitCode.FAILED
    return None
