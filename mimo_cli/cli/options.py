"""The options describe, ask and batch share, and how a command receives them (one ``opts`` argument).

No ``from __future__ import annotations`` in the command modules: typer reads their annotations at run time.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from mimo_cli.cli.wiring import _complete_presets, _complete_profiles, _complete_resolutions, with_common_of
from mimo_cli.cli.wiring import debug_log as debug_log
from mimo_cli.cli.wiring import notice_for as notice_for
from mimo_cli.cli.wiring import resolve_settings as resolve_settings
from mimo_cli.errors import usage_error
from mimo_cli.settings import Settings

REQ = "Request"
OUT = "Output"
CONN = "Connection"
INP = "Input"


ProfileOption = Annotated[
    str | None,
    typer.Option("--profile", metavar="NAME", help="Config file profile [env: MIMO_PROFILE; default: default].",
                 autocompletion=_complete_profiles, show_default=False, rich_help_panel=CONN),
]  # fmt: skip
ConfigOption = Annotated[
    str | None,
    typer.Option("--config", metavar="FILE", help="Config file [env: MIMO_CONFIG; default: see mimo config path].",
                 show_default=False, rich_help_panel=CONN),
]  # fmt: skip
BaseUrlOption = Annotated[
    str | None,
    typer.Option("--base-url", metavar="URL", help="API base URL [env: MIMO_BASE_URL; default: https://api.xiaomimimo.com/v1].",
                 show_default=False, rich_help_panel=CONN),
]  # fmt: skip
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", metavar="KEY", help="API key [env: MIMO_API_KEY].", show_default=False, rich_help_panel=CONN),
]  # fmt: skip

TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", metavar="SECONDS", help="Seconds the request may take as a whole [default: 300].",
                 show_default=False, rich_help_panel=CONN),
]  # fmt: skip


@dataclass
class Common:
    """The options shared by describe, ask and batch (None: not given, so a lower layer decides)."""

    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            metavar="NAME",
            help="Model name [env: MIMO_MODEL; default: mimo-v2-omni].",
            rich_help_panel=REQ,
        ),
    ] = None
    fps: Annotated[
        float | None,
        typer.Option(
            "--fps",
            metavar="FPS",
            help="Frames per second the model samples, 0.1 to 10 [default: 2].",
            rich_help_panel=REQ,
        ),
    ] = None
    resolution: Annotated[
        str | None,
        typer.Option(
            "--resolution",
            metavar="default|max",
            help="Frame resolution: default or max [default: default].",
            rich_help_panel=REQ,
            autocompletion=_complete_resolutions,
        ),
    ] = None
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            metavar="NAME",
            help="Prompt preset: detailed, caption, summary, tags, transcript, chapters "
            "(mimo presets lists them) [default: detailed].",
            rich_help_panel=REQ,
            autocompletion=_complete_presets,
        ),
    ] = None
    prompt: Annotated[
        str | None,
        typer.Option(
            "--prompt",
            "-p",
            metavar="TEXT",
            help="The prompt text (replaces the preset's).",
            rich_help_panel=REQ,
        ),
    ] = None
    system: Annotated[
        str | None,
        typer.Option(
            "--system",
            metavar="TEXT",
            help='System prompt (replaces the default; "" sends none).',
            rich_help_panel=REQ,
        ),
    ] = None
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            metavar="N",
            help="Longest answer, in tokens (max_completion_tokens).",
            rich_help_panel=REQ,
        ),
    ] = None
    temperature: Annotated[
        float | None,
        typer.Option(
            "--temperature", metavar="T", help="Sampling temperature, 0 to 1.5.", rich_help_panel=REQ
        ),
    ] = None
    top_p: Annotated[
        float | None,
        typer.Option("--top-p", metavar="P", help="Nucleus sampling, 0.01 to 1.", rich_help_panel=REQ),
    ] = None
    thinking: Annotated[
        bool | None,
        typer.Option(
            "--thinking/--no-thinking",
            help="Turn the model's thinking on or off [default: the model's].",
            show_default=False,
            rich_help_panel=REQ,
        ),
    ] = None
    extra_body: Annotated[
        str | None,
        typer.Option(
            "--extra-body",
            metavar="JSON",
            help="More top-level fields of the request body, as a JSON object, for a server or gateway "
            "that needs its own (vLLM's mm_processor_kwargs, LiteLLM's allowed_openai_params); adds to the "
            "profile's extra_body.",
            rich_help_panel=REQ,
        ),
    ] = None
    stream: Annotated[
        bool | None,
        typer.Option(
            "--stream/--no-stream",
            help="Stream the answer as it is written [default: stream].",
            show_default=False,
            rich_help_panel=REQ,
        ),
    ] = None
    max_inline_mb: Annotated[
        float | None,
        typer.Option(
            "--max-inline-mb",
            metavar="MIB",
            help="Largest inline data URI, in MiB [default: 10].",
            rich_help_panel=INP,
        ),
    ] = None
    max_download_mb: Annotated[
        float | None,
        typer.Option(
            "--max-download-mb",
            metavar="MIB",
            help="With --fit or --start/--end: the most of a --inline-url download or of standard input "
            "copied here before ffmpeg, in MiB [default: 2048].",
            rich_help_panel=INP,
        ),
    ] = None
    force_mime: Annotated[
        str | None,
        typer.Option(
            "--force-mime",
            metavar="MIME",
            help="Send local videos with this MIME type, skipping detection.",
            rich_help_panel=INP,
        ),
    ] = None
    fit: Annotated[
        bool | None,
        typer.Option(
            "--fit",
            help="Convert a local video that is too large or of another container "
            "(WebM, MKV…) to an MP4 that fits the inline limit (needs ffmpeg).",
            show_default=False,
            rich_help_panel=INP,
        ),
    ] = None
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            metavar="TIME",
            help="Send the video from this time on: seconds, [h:]mm:ss or 1m30s (needs ffmpeg).",
            rich_help_panel=INP,
        ),
    ] = None
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            metavar="TIME",
            help="Send the video up to this time: seconds, [h:]mm:ss or 1m30s (needs ffmpeg).",
            rich_help_panel=INP,
        ),
    ] = None
    inline_url: Annotated[
        bool | None,
        typer.Option(
            "--inline-url",
            help="Download http(s) URLs here and send them inline (for URLs the API cannot reach).",
            show_default=False,
            rich_help_panel=INP,
        ),
    ] = None
    segment: Annotated[
        str | None,
        typer.Option(
            "--segment",
            metavar="DURATION|auto",
            help="Send a long local video in consecutive parts of this length (10m, 1h30m, 90s, mm:ss), "
            "or auto: at most 10 min and 2,048 frames each (needs ffmpeg).",
            show_default=False,
            rich_help_panel=INP,
        ),
    ] = None
    merge: Annotated[
        bool | None,
        typer.Option(
            "--merge/--no-merge",
            help="With --segment: one more request that merges the parts' answers into one "
            "[default: on for ask, off for describe and batch].",
            show_default=False,
            rich_help_panel=INP,
        ),
    ] = None
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            metavar="SCHEMA",
            help="Answer with one JSON object matching this JSON Schema: a .json file, inline JSON, or "
            "fields like 'title, tags list, people int, speech bool: is anyone talking' "
            "(types str, int, float, bool, list).",
            show_default=False,
            rich_help_panel=OUT,
        ),
    ] = None
    schema_retries: Annotated[
        int | None,
        typer.Option(
            "--schema-retries",
            metavar="N",
            help="Repair requests (text only) when an answer does not match --schema [default: 1].",
            show_default=False,
            rich_help_panel=OUT,
        ),
    ] = None
    timestamps: Annotated[
        bool | None,
        typer.Option(
            "--timestamps",
            help="Ask for the time of every line of the answer and read them into events on the video's "
            "timeline (in --json records; needs the video's duration: ffprobe or its MP4/MOV header).",
            show_default=False,
            rich_help_panel=OUT,
        ),
    ] = None
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON record (answer, usage, error) instead of text.",
            rich_help_panel=OUT,
        ),
    ] = False
    reasoning: Annotated[
        bool | None,
        typer.Option(
            "--reasoning/--no-reasoning",
            help="Show the model's reasoning (on stderr) [default: on a terminal only].",
            show_default=False,
            rich_help_panel=OUT,
        ),
    ] = None
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the request that would be sent (key hidden) and send nothing.",
            rich_help_panel=OUT,
        ),
    ] = False
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Only the answer and errors: no usage, warnings or notices.",
            rich_help_panel=OUT,
        ),
    ] = False
    cache: Annotated[
        bool | None,
        typer.Option(
            "--cache/--no-cache",
            help="Answer from the run log, sending nothing, when it holds an ok answer to the same request "
            "(same content, span, model and options) [env: MIMO_CACHE; config: cache].",
            show_default=False,
            rich_help_panel=OUT,
        ),
    ] = None
    log: Annotated[
        bool | None,
        typer.Option(
            "--log/--no-log",
            help="Record the request in the run log (mimo logs) [env: MIMO_LOG; config: log; default: on].",
            show_default=False,
            rich_help_panel=OUT,
        ),
    ] = None
    base_url: BaseUrlOption = None
    api_key: ApiKeyOption = None
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Seconds one attempt may take, streaming included [default: 300].",
            rich_help_panel=CONN,
        ),
    ] = None
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show request and response headers (the key masked) on stderr [env: MIMO_DEBUG].",
            rich_help_panel=CONN,
        ),
    ] = False
    retries: Annotated[
        int | None,
        typer.Option(
            "--retries",
            metavar="N",
            help="Retries of a failed request that may succeed later [default: 3].",
            rich_help_panel=CONN,
        ),
    ] = None
    profile: ProfileOption = None
    config: ConfigOption = None

    def settings(self) -> Settings:
        """The settings of this run: these options > environment > config file profile > defaults."""
        options = {
            name: getattr(self, name)
            for name in ("model", "fps", "resolution", "preset", "prompt", "system", "max_tokens",
                         "temperature", "top_p", "thinking", "extra_body", "stream", "max_inline_mb",
                         "max_download_mb", "force_mime", "fit", "start", "end", "inline_url", "base_url",
                         "api_key", "timeout", "retries", "log", "cache", "timestamps", "merge")
        }  # fmt: skip
        if self.segment is not None:
            from mimo_cli.segment.plan import parse_segment

            options["segment"] = parse_segment(self.segment)
        options.update(self.schema_options())
        return resolve_settings(options, self.config, self.profile)

    def schema_options(self) -> dict[str, Any]:
        """--schema loaded and checked (a usage error before anything is sent), and --schema-retries."""
        options: dict[str, Any] = {}
        if self.schema_retries is not None:
            if not 0 <= self.schema_retries <= 100:
                raise usage_error(f"--schema-retries must be between 0 and 100, got {self.schema_retries}")
            options["schema_retries"] = self.schema_retries
        if self.schema is not None:
            from mimo_cli.schema import load_schema

            options["schema"] = load_schema(self.schema)
        return options


def with_common(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options of :class:`Common` to a command, which receives them as one ``opts`` argument."""
    return with_common_of(Common, func)
