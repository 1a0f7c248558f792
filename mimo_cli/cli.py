"""The typer app: options and commands. No HTTP, no base64, no file sniffing here.

Heavy modules (httpx, python-magic, rich) are imported inside the commands that need them, so
``mimo --version`` and ``mimo --help`` stay about as fast as importing typer.
"""

import enum
import functools
import inspect
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mimo_cli import __version__
from mimo_cli.config import Settings, load_settings, mask_key
from mimo_cli.errors import ExitCode, Kind, MimoError, redact, register_secret, usage_error
from mimo_cli.prompts import preset_text

COMPLETE_VAR = "_MIMO_COMPLETE"


class MimoGroup(TyperGroup):
    """Runs the app and turns every expected failure into ``error: …`` / ``hint: …`` and its exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from typer import _click

        kwargs["standalone_mode"] = False
        _set_debug(False)
        if os.environ.get(COMPLETE_VAR):  # a shell asks for completions (see mimo completions)
            from typer._completion_classes import completion_init

            completion_init()
            kwargs.update(prog_name="mimo", complete_var=COMPLETE_VAR)
        try:
            # typer turns Ctrl-C into a return value of 130 when not in standalone mode
            code = super().main(*args, **kwargs)
        except MimoError as e:
            code = _print_error(e)
        except _click.exceptions.UsageError as e:
            code = _print_error(usage_error(e.format_message(), _usage_hint(e)))
        except _click.exceptions.ClickException as e:
            _print_error(MimoError(Kind.USAGE, e.format_message()))
            code = e.exit_code
        except (typer.Abort, KeyboardInterrupt):
            code = ExitCode.INTERRUPTED
        except Exception as e:
            from mimo_cli.errors import redact

            if _debug():  # the real traceback, still without the key
                import traceback

                sys.stderr.write(redact("".join(traceback.format_exception(type(e), e, e.__traceback__))))
            code = _print_error(
                MimoError(
                    Kind.SERVER,
                    redact(f"unexpected {type(e).__name__}: {e}"),
                    "this is a bug in mimo; run again with --debug for the traceback and report it",
                )
            )
        if code == ExitCode.INTERRUPTED:
            _print_error(MimoError(Kind.INTERRUPTED, "interrupted"))
        media = sys.modules.get("mimo_cli.media")
        if media is not None:  # whatever a Ctrl-C left of temporary files (spooled stdin, conversions)
            media.remove_temp_dir()
        sys.exit(int(code or 0))


def _print_error(e: MimoError) -> ExitCode:
    from mimo_cli import render

    render.error(e)
    return e.exit_code


def _usage_hint(e: Any) -> str:
    ctx = getattr(e, "ctx", None)
    path = ctx.command_path if ctx is not None else "mimo"
    return f"see '{path} --help'"


_debug_flag = False  # set by --debug for this run (MIMO_DEBUG=1 does the same from the environment)


def _set_debug(on: bool) -> None:
    global _debug_flag
    _debug_flag = on


def _debug() -> bool:
    return _debug_flag or os.environ.get("MIMO_DEBUG", "").lower() not in ("", "0", "false", "no")


app = typer.Typer(
    cls=MimoGroup,
    name="mimo",
    help="Ask Xiaomi's MiMo multimodal model about videos.",
    epilog="""\b
Examples:
  mimo describe clip.mp4
  mimo ask a.mp4 b.mov "Which of the two clips is shot at night?"
  mimo config set api_key
  mimo doctor

Docs, examples and exit codes: see README.md.""",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: no rich import for --help
    pretty_exceptions_show_locals=False,  # a traceback never shows a key
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mimo {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar="MIMO_DEBUG",
            help="Show request and response headers (the key masked) and the traceback of unexpected errors.",
        ),
    ] = False,
) -> None:
    """Ask Xiaomi's MiMo multimodal model about videos.

    \b
    Examples:
      mimo describe clip.mp4
      mimo ask a.mp4 b.mov "Which of the two clips is shot at night?"
      mimo describe clip.mp4 --json | jq -r .answer
    """
    if debug:
        _set_debug(True)


# -- the options describe, ask and batch share ------------------------------------------------------------

REQ = "Request"
OUT = "Output"
CONN = "Connection"
INP = "Input"


def _complete_profiles(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of --profile: the profiles of the config file (of --config when given)."""
    from mimo_cli.config import config_path, load_config

    try:
        names = load_config(config_path(ctx.params.get("config")), validate=False).profiles
    except MimoError:
        return []
    return [name for name in sorted(names) if name.startswith(incomplete)]


def _complete_presets(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of --preset: the built-in presets and the config file's (of --config when given)."""
    from mimo_cli.config import config_path, load_config
    from mimo_cli.prompts import BUILTIN_PRESETS

    names = set(BUILTIN_PRESETS)
    try:
        config = load_config(config_path(ctx.params.get("config")), validate=False)
        for table in [config.data.get("presets"), *[p.get("presets") for p in config.profiles.values()]]:
            if isinstance(table, dict):
                names.update(table)
    except MimoError:
        pass
    return [name for name in sorted(names) if name.startswith(incomplete)]


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
        ),
    ] = None
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            metavar="NAME",
            help="Prompt preset: detailed, caption, summary, tags, transcript "
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
            help="Send the video from this time on: seconds or [hh:]mm:ss (needs ffmpeg).",
            rich_help_panel=INP,
        ),
    ] = None
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            metavar="TIME",
            help="Send the video up to this time: seconds or [hh:]mm:ss (needs ffmpeg).",
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
                         "temperature", "top_p", "thinking", "stream", "max_inline_mb", "force_mime",
                         "fit", "start", "end", "inline_url", "base_url", "api_key", "timeout", "retries")
        }  # fmt: skip
        return _settings(options, self.config, self.profile)


def _settings(options: dict[str, Any], config: str | None, profile: str | None) -> Settings:
    """Resolve the settings (reading the config file only now, when a command needs them)."""
    register_secret(options.get("api_key"))
    settings = load_settings(options, config=config, profile=profile)
    register_secret(settings.api_key)
    return settings


def _require_key(settings: Settings) -> None:
    if not settings.api_key:
        raise MimoError(
            Kind.AUTH,
            "no API key is set",
            "export MIMO_API_KEY=sk-... (or pass --api-key, or save it with mimo config set api_key); "
            "--dry-run shows the request without one",
        )


def with_common(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options of :class:`Common` to a command, which receives them as one ``opts`` argument."""
    own = [p for p in inspect.signature(func, eval_str=True).parameters.values() if p.name != "opts"]
    shared = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
        for f in fields(Common)
    ]

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        opts = Common(**{f.name: kwargs.pop(f.name) for f in fields(Common)})
        return func(**kwargs, opts=opts)

    wrapper.__signature__ = inspect.Signature(own + shared)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + shared}
    del wrapper.__wrapped__  # typer must see the new signature, not the function's own
    return wrapper


# -- describe and ask ------------------------------------------------------------------------------------


def _notice(quiet: bool, *, dim: bool = False) -> Callable[[str, str | None], None]:
    """The ``notice`` callback of media and the client: a warning line (a dim line for retries), or
    nothing with --quiet."""

    def notice(message: str, hint: str | None = None) -> None:
        if quiet:
            return
        from mimo_cli import render

        if dim:
            render.info(message)
        else:
            render.warning(message, hint)

    return notice


def _debug_log() -> Callable[[str], None] | None:
    """With --debug or MIMO_DEBUG=1: where the client writes request and response headers."""
    if not _debug():
        return None
    from mimo_cli import render

    return render.debug


def _labels(inputs: list[str]) -> list[str]:
    from mimo_cli.media import shorten_data_uri

    return [shorten_data_uri(text) for text in inputs]


def run(inputs: list[str], question: str | None, opts: Common, single: bool) -> None:
    """Resolve the inputs, build one request, send it and render the answer."""
    from mimo_cli import render
    from mimo_cli.media import resolve_input
    from mimo_cli.request import ChatRequest
    from mimo_cli.result import make_record

    render.use_utf8()
    started = time.monotonic()
    labels = _labels(inputs)
    record_input: Any = labels[0] if single else labels
    videos = []
    renderer: Any = None
    settings: Settings | None = None
    try:
        settings = opts.settings()
        prompt = (
            question
            if question is not None
            else settings.prompt or preset_text(settings.preset, settings.presets)
        )
        notice = _notice(opts.quiet)
        for text in inputs:
            videos.append(resolve_input(text, settings, notice=notice))
        request = ChatRequest(settings, videos, prompt)
        if opts.dry_run:
            show_dry_run(request, opts.json_out)
            return
        _require_key(settings)
        if opts.json_out:
            renderer = render.JsonRenderer(record_input, quiet=opts.quiet)
        elif render.stdout_is_terminal():
            renderer = render.TerminalRenderer(show_reasoning=opts.reasoning is not False, quiet=opts.quiet)
        else:
            renderer = render.PlainRenderer(show_reasoning=bool(opts.reasoning), quiet=opts.quiet)
        from mimo_cli.api import Client

        if opts.debug:
            _set_debug(True)
        with Client(settings, notice=_notice(opts.quiet, dim=True), debug=_debug_log()) as client:
            result = client.chat(request, renderer.delta)
        renderer.finish(result)
    except MimoError as e:
        if opts.json_out and e.kind is not Kind.USAGE:
            model = settings.model if settings else (opts.model or "")
            render.print_json(
                make_record(record_input, model, error=e, elapsed_s=time.monotonic() - started,
                            attempts=e.attempts)
            )  # fmt: skip
        raise
    finally:
        if renderer is not None:
            renderer.stop()  # after an error: end open lines, keep a partial answer on screen
        for video in videos:
            video.close()


def show_dry_run(request: Any, as_json: bool) -> None:
    """Print what would be sent: method, URL, headers (key masked), the body with payloads shortened."""
    import json

    from mimo_cli import render

    s = request.settings
    headers = {
        "Authorization": f"Bearer {mask_key(s.api_key)}" if s.api_key else "(no API key set)",
        "Content-Type": "application/json",
        "Content-Length": str(request.content_length()),
    }
    if s.stream:
        headers["Accept"] = "text/event-stream"
    url = f"{s.base_url}/chat/completions"
    body = request.body(preview=True)
    if as_json:
        render.print_json({"method": "POST", "url": url, "headers": headers, "body": body}, indent=2)
        return
    lines = [f"POST {url}", *[f"{k}: {v}" for k, v in headers.items()], ""]
    lines.append(json.dumps(body, ensure_ascii=False, indent=2))
    from mimo_cli.errors import redact

    sys.stdout.write(redact("\n".join(lines)) + "\n")


@app.command(
    epilog="""\b
Examples:
  mimo describe clip.mp4
  mimo describe https://example.com/v.mp4 --fps 1 --resolution max
  cat clip.mp4 | mimo describe - --preset caption
  mimo describe clip.mp4 -p "What breed is the cat?"
  mimo describe clip.mp4 --json | jq -r .answer
  mimo describe phone.mov --fit
  mimo describe talk.mkv --fit --start 1:00 --end 2:30
  mimo describe http://nas.local/v.mp4 --inline-url --fit
  mimo describe clip.mp4 --dry-run"""
)
@with_common
def describe(
    input: Annotated[
        str,
        typer.Argument(metavar="INPUT", help="A video file, an http(s) URL, a data: URI, or - for stdin."),
    ],
    opts: Common,
) -> None:
    """Describe one video, with the prompt of a preset (default: detailed)."""
    run([input], None, opts, single=True)


@app.command(
    epilog="""\b
Examples:
  mimo ask clip.mp4 "How many people are in the video?"
  mimo ask a.mp4 b.mov "Which of the two clips is shot at night?"
  echo "What is said at the start?" | mimo ask clip.mp4 -
  mimo ask a.mp4 b.mp4 --preset summary"""
)
@with_common
def ask(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT... QUESTION",
            help="One or more videos, then the question (- reads it from stdin). With --prompt or --preset, "
            "every argument is a video.",
        ),
    ],
    opts: Common,
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
    run(inputs, question, opts, single=False)


# -- presets, models, doctor, completions ---------------------------------------------------------------

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command(
    epilog="""\b
Examples:
  mimo presets
  mimo presets --profile dmxapi --json
  mimo config set presets.brief "Describe this video in three sentences."
  mimo describe clip.mp4 --preset brief"""
)
def presets(profile: ProfileOption = None, config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """List the prompt presets and their text."""
    import textwrap

    from mimo_cli.config import config_path, load_config, profile_name
    from mimo_cli.prompts import BUILTIN_PRESETS

    name = profile_name(profile)
    loaded = load_config(config_path(config))
    loaded.profile(name)  # an unknown profile is a usage error
    rows: dict[str, tuple[str, str]] = {n: ("built-in", text) for n, text in BUILTIN_PRESETS.items()}
    sources = [("user", loaded.data.get("presets") or {}),
               (f"user, profile {name}", loaded.profiles.get(name, {}).get("presets") or {})]  # fmt: skip
    for source, table in sources:
        for preset, text in table.items():
            rows[preset] = (source, text)
    if json_out:
        from mimo_cli import render

        items = [{"name": n, "user": s != "built-in", "source": s, "text": t} for n, (s, t) in rows.items()]
        render.print_json(items, indent=2)
        return
    width = max(40, min(100, _terminal_width()) - 4)
    lines = []
    for preset, (source, text) in rows.items():
        replaces = ", replaces the built-in" if preset in BUILTIN_PRESETS and source != "built-in" else ""
        lines.append(f"{preset} ({source}{replaces})")
        lines.extend(textwrap.wrap(text, width, initial_indent="    ", subsequent_indent="    ") or ["    "])
    sys.stdout.write("\n".join(lines) + "\n")


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


@app.command(
    epilog="""\b
Examples:
  mimo models
  mimo models --json | jq -r '.[].id'
  mimo models --profile dmxapi
  mimo models --base-url http://localhost:8000/v1 --api-key none"""
)
def models(
    json_out: JsonOption = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """List the models the endpoint serves.

    Asks GET {base_url}/models; a table on a terminal, one model per line in a pipe.
    """
    from mimo_cli import render
    from mimo_cli.api import Client

    settings = _settings({"base_url": base_url, "api_key": api_key}, config, profile)
    _require_key(settings)
    with Client(settings) as client:
        items = client.models()
    if json_out:
        render.print_json(items, indent=2)
        return
    if not render.stdout_is_terminal():
        sys.stdout.write("".join(f"{m.get('id', '')}\n" for m in items))
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    dated = any(isinstance(m.get("created"), int) and m["created"] for m in items)
    for column in ("", "model", "owned by", *(["created"] if dated else [])):
        table.add_column(column)
    for m in items:
        created = m.get("created")
        day = time.strftime("%Y-%m-%d", time.gmtime(created)) if isinstance(created, int) and created else ""
        mark = "*" if m.get("id") == settings.model else ""
        table.add_row(mark, str(m.get("id", "")), str(m.get("owned_by") or ""), *([day] if dated else []))
    render.console(stderr=False).print(table)
    render.info(f"{len(items)} models at {settings.base_url}; * marks the model mimo uses ({settings.model})")


@app.command(
    epilog="""\b
Examples:
  mimo doctor
  mimo doctor --profile dmxapi
  MIMO_API_KEY=sk-... mimo doctor --base-url https://api.xiaomimimo.com/v1"""
)
def doctor(
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            metavar="NAME",
            help="Model to look for [env: MIMO_MODEL; default: mimo-v2-omni].",
        ),
    ] = None,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Check that mimo is ready to send requests.

    Checks the config file, the key, the endpoint, the model, libmagic and ffmpeg; exits 1 when a
    problem blocks requests (no key, endpoint unreachable or refusing the key, config file broken).
    """
    from rich.text import Text

    from mimo_cli import render
    from mimo_cli.doctor import OK, PROBLEM, WARNING, run_checks

    register_secret(api_key)
    checks = run_checks(
        {"base_url": base_url, "api_key": api_key, "model": model}, config=config, profile=profile
    )
    out = render.console(stderr=False)
    styles = {OK: "green", WARNING: "yellow", PROBLEM: "bold red"}
    for check in checks:
        from mimo_cli.errors import redact

        line = Text()
        line.append(f"{check.status:<8}", style=styles[check.status])
        line.append(f"{check.name:<9}", style="bold")
        line.append(redact(check.detail))
        out.print(line, soft_wrap=True)
        if check.hint:
            out.print(Text(" " * 17 + "hint: " + redact(check.hint), style="cyan"), soft_wrap=True)
    blocking = sum(c.status == PROBLEM for c in checks)
    warnings = sum(c.status == WARNING for c in checks)
    if blocking:
        out.print(Text(f"{blocking} problem(s) block requests; {warnings} warning(s)", style="bold red"))
        raise typer.Exit(ExitCode.FAILED)
    out.print(Text(f"ready to send requests; {warnings} warning(s)", style="green"))


class Shell(str, enum.Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion_script(shell: str) -> str:
    """The completion script of a shell: it asks ``mimo`` itself for the candidates (``_MIMO_COMPLETE``)."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="mimo", complete_var=COMPLETE_VAR, shell=shell) + "\n"


@app.command(
    epilog="""\b
Examples:
  mimo completions bash > ~/.local/share/bash-completion/completions/mimo
  mimo completions zsh > "${fpath[1]}/_mimo"
  mimo completions fish > ~/.config/fish/completions/mimo.fish"""
)
def completions(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the completion script of a shell (bash, zsh, fish)."""
    sys.stdout.write(completion_script(shell.value))


# -- mimo config ----------------------------------------------------------------------------------------

config_app = typer.Typer(
    name="config",
    help="Show or change the config file (profiles).",
    epilog="""\b
Examples:
  mimo config path
  mimo config set api_key            (asks for the key without echoing it)
  mimo config set --profile dmxapi base_url https://www.dmxapi.cn/v1
  mimo config show""",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config_app)


@config_app.command(
    "path",
    epilog="""\b
Examples:
  mimo config path
  $EDITOR "$(mimo config path)\"""",
)
def config_path_command(config: ConfigOption = None) -> None:
    """Print where the config file is (it need not exist yet)."""
    from mimo_cli.config import config_path

    sys.stdout.write(f"{config_path(config)}\n")


@config_app.command(
    "show",
    epilog="""\b
Examples:
  mimo config show
  mimo config show --profile dmxapi""",
)
def config_show(profile: ProfileOption = None, config: ConfigOption = None) -> None:
    """Print the config file, with every key masked.

    With --profile, only that profile.
    """
    from mimo_cli.config import config_path, dumps, load_config

    loaded = load_config(config_path(config), validate=False)
    if not loaded.path.exists():
        from mimo_cli import render

        render.warning(
            f"there is no config file yet at {loaded.path}", "create it: mimo config set KEY VALUE"
        )
        return
    data: dict[str, Any] = loaded.data
    if profile is not None:
        loaded.profile(profile)  # an unknown profile is a usage error
        data = {"profiles": {profile: loaded.profiles.get(profile, {})}}
    shown = _masked(data)
    from mimo_cli.errors import redact

    sys.stdout.write(redact(f"# {loaded.path}\n" + dumps(shown)))


def _masked(data: Any, key: str = "") -> Any:
    if isinstance(data, dict):
        return {k: _masked(v, k) for k, v in data.items()}
    if key == "api_key" and isinstance(data, str):
        return mask_key(data)
    return data


def _read_value(key: str, secret: bool) -> str:
    if sys.stdin.isatty():
        return str(typer.prompt(key, hide_input=secret))
    return sys.stdin.read().rstrip("\r\n")


@config_app.command(
    "set",
    epilog="""\b
Examples:
  mimo config set api_key                  (asks for it; or: ... | mimo config set api_key -)
  mimo config set model mimo-v2-omni
  mimo config set --profile dmxapi base_url https://www.dmxapi.cn/v1
  mimo config set fps 1
  mimo config set presets.brief "Describe this video in three sentences."
  mimo config set --profile dmxapi presets.brief "Describe it in one paragraph.\"""",
)
def config_set(
    key: Annotated[str, typer.Argument(help="A setting (api_key, base_url, model, fps, …) or presets.NAME.")],
    value: Annotated[str | None, typer.Argument(help="The value; - or none reads it from stdin.")] = None,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Set a setting of a profile, or a preset, in the config file."""
    from mimo_cli.config import (
        check_value,
        config_path,
        key_path,
        parse_value,
        read_config,
        save_config,
        set_key,
        toml_value,
    )
    from mimo_cli.prompts import BUILTIN_PRESETS

    path = config_path(config)
    where = key_path(key, profile)
    name = where[-1]
    data = read_config(path)
    text = _read_value(key, secret=name == "api_key") if value in (None, "-") else value
    typed: Any
    if where[-2] == "presets":
        if not text.strip():
            raise usage_error(f"the text of preset {name!r} is empty")
        typed = text
    else:
        if name == "api_key":
            text = text.strip()
            register_secret(text)
        try:
            typed = parse_value(name, text)
        except ValueError as e:
            raise usage_error(f"{name} {e}") from None
        problem = check_value(name, typed)
        if problem:
            raise usage_error(f"{name} {problem}")
        if name == "preset":
            known = {**BUILTIN_PRESETS, **(data.get("presets") or {}),
                     **((data.get("profiles") or {}).get(where[1], {}).get("presets") or {})}  # fmt: skip
            if typed not in known:
                raise usage_error(f"unknown preset {typed!r}", f"known presets: {', '.join(sorted(known))}")
    set_key(data, where, typed)
    written = save_config(path, data)
    shown = mask_key(typed) if name == "api_key" and where[-2] != "presets" else toml_value(typed)
    _info(f"set {'.'.join(where)} = {shown} in {written}")


@config_app.command(
    "unset",
    epilog="""\b
Examples:
  mimo config unset api_key
  mimo config unset --profile dmxapi model
  mimo config unset presets.brief""",
)
def config_unset(
    key: Annotated[str, typer.Argument(help="A setting (api_key, base_url, model, fps, …) or presets.NAME.")],
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove a setting of a profile, or a preset, from the config file."""
    from mimo_cli.config import config_path, key_path, read_config, save_config, unset_key

    path = config_path(config)
    where = key_path(key, profile)
    data = read_config(path)
    if not unset_key(data, where):
        _info(f"{'.'.join(where)} is not set in {path}: nothing to do")
        return
    written = save_config(path, data)
    _info(f"removed {'.'.join(where)} from {written}")


def _info(message: str) -> None:
    from mimo_cli import render

    render.info(message)


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
    opts: Common,
) -> None:
    """Describe many videos, one request each, in parallel; JSON Lines out, resumable and shardable."""
    from mimo_cli import batch as b
    from mimo_cli import render

    render.use_utf8()
    if resume and output is None:
        raise usage_error("--resume needs --output FILE", "e.g. mimo batch videos/ -o out.jsonl --resume")
    if out_dir is not None and sidecar is None:
        raise usage_error("--out-dir needs --sidecar EXT", "e.g. --sidecar txt --out-dir captions/")
    ext = b.check_sidecar_ext(sidecar) if sidecar is not None else None
    shard_kn = b.parse_shard(shard) if shard is not None else None
    if paths.count("-") > 1:
        raise usage_error("- (read paths from stdin) may be given once")
    settings = opts.settings()
    prompt = settings.prompt or preset_text(settings.preset, settings.presets)
    fit = bool(getattr(opts, "fit", False) or getattr(settings, "fit", False))
    items = b.plan(paths, fit=fit, include=include or (), exclude=exclude or (), shard=shard_kn)
    if opts.dry_run:
        for entry in b.dry_run(items, settings, prompt, output, resume):
            if opts.json_out:
                render.print_json(entry)
            else:
                sys.stdout.write(redact(f"{entry['action']}  {entry['input']}") + "\n")
        sys.stdout.flush()
        return
    if not items and not opts.quiet:
        exts = " ".join(sorted(b.video_extensions(fit)))
        render.warning("no inputs found", f"directories are searched for {exts} (see --include, --exclude)")
    if opts.debug:
        _set_debug(True)
    options = b.Options(jobs=jobs, rpm=rpm, fail_fast=fail_fast, sidecar=ext, out_dir=out_dir)
    progress = b.make_progress(opts.quiet, records_on_terminal=output is None and sys.stdout.isatty())
    outcome = b.execute(items, settings, prompt, options, output=output, resume=resume, progress=progress,
                        quiet=opts.quiet, require_key=_require_key, debug=_debug_log())  # fmt: skip
    summary = outcome.summary
    render.info(summary.line())
    if summary.stopped_by == "broken pipe":  # nobody reads stdout any more (| head): leave without a fuss
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(int(ExitCode.FAILED))
    if summary.interrupted:
        if outcome.abandoned:  # the abandoned requests' threads cannot be joined: leave at once
            _print_error(MimoError(Kind.INTERRUPTED, "interrupted"))
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(int(ExitCode.INTERRUPTED))
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    if outcome.auth_error:
        raise typer.Exit(int(ExitCode.AUTH))
    if summary.failed or summary.sidecar_failures:
        raise typer.Exit(int(ExitCode.FAILED))


def main() -> None:
    """The ``mimo`` console script."""
    app(prog_name="mimo")
