"""The typer app: options and commands. No HTTP, no base64, no file sniffing here.

Heavy modules (httpx, python-magic, rich) are imported inside the commands that need them, so
``mimo --version`` and ``mimo --help`` stay about as fast as importing typer.
"""

import functools
import inspect
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mimo_cli import __version__
from mimo_cli.config import Settings, mask_key, resolve
from mimo_cli.errors import ExitCode, Kind, MimoError, register_secret, usage_error
from mimo_cli.prompts import preset_text


class MimoGroup(TyperGroup):
    """Runs the app and turns every expected failure into ``error: …`` / ``hint: …`` and its exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from typer import _click

        kwargs["standalone_mode"] = False
        _set_debug(False)
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
    epilog="Docs, examples and exit codes: see README.md.",
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


@dataclass
class Common:
    """The options shared by describe, ask and batch (None: not given, so a lower layer decides)."""

    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name [env: MIMO_MODEL; default: mimo-v2-omni].",
                                    rich_help_panel=REQ)
    ] = None  # fmt: skip
    fps: Annotated[
        float | None, typer.Option("--fps", help="Frames per second the model samples, 0.1 to 10 [default: 2].",
                                      rich_help_panel=REQ)
    ] = None  # fmt: skip
    resolution: Annotated[
        str | None, typer.Option("--resolution", help="Frame resolution: default or max [default: default].",
                                    rich_help_panel=REQ)
    ] = None  # fmt: skip
    preset: Annotated[
        str | None, typer.Option("--preset", help="Prompt preset: detailed, caption, summary, tags, transcript "
                                    "(mimo presets lists them) [default: detailed].", rich_help_panel=REQ)
    ] = None  # fmt: skip
    prompt: Annotated[
        str | None, typer.Option("--prompt", "-p", help="The prompt text (replaces the preset's).",
                                    rich_help_panel=REQ)
    ] = None  # fmt: skip
    system: Annotated[
        str | None, typer.Option("--system", help='System prompt (replaces the default; "" sends none).',
                                    rich_help_panel=REQ)
    ] = None  # fmt: skip
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", help="Longest answer, in tokens (max_completion_tokens).",
                                    rich_help_panel=REQ)
    ] = None  # fmt: skip
    temperature: Annotated[
        float | None, typer.Option("--temperature", help="Sampling temperature, 0 to 1.5.", rich_help_panel=REQ)
    ] = None  # fmt: skip
    top_p: Annotated[
        float | None, typer.Option("--top-p", help="Nucleus sampling, 0.01 to 1.", rich_help_panel=REQ)
    ] = None  # fmt: skip
    thinking: Annotated[
        bool | None, typer.Option("--thinking/--no-thinking", help="Turn the model's thinking on or off "
                                     "[default: the model's].", show_default=False, rich_help_panel=REQ)
    ] = None  # fmt: skip
    stream: Annotated[
        bool | None, typer.Option("--stream/--no-stream", help="Stream the answer as it is written "
                                     "[default: stream].", show_default=False, rich_help_panel=REQ)
    ] = None  # fmt: skip
    max_inline_mb: Annotated[
        float | None, typer.Option("--max-inline-mb", help="Largest inline data URI, in MiB [default: 10].",
                                      rich_help_panel=INP)
    ] = None  # fmt: skip
    force_mime: Annotated[
        str | None, typer.Option("--force-mime", metavar="MIME", help="Send local videos with this MIME type, "
                                    "skipping detection.", rich_help_panel=INP)
    ] = None  # fmt: skip
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON record (answer, usage, error) instead of text.",
                           rich_help_panel=OUT)
    ] = False  # fmt: skip
    reasoning: Annotated[
        bool | None, typer.Option("--reasoning/--no-reasoning", help="Show the model's reasoning (on stderr) "
                                     "[default: on a terminal only].", show_default=False, rich_help_panel=OUT)
    ] = None  # fmt: skip
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the request that would be sent (key hidden) and send nothing.",
                           rich_help_panel=OUT)
    ] = False  # fmt: skip
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only the answer and errors: no usage, warnings or notices.",
                           rich_help_panel=OUT)
    ] = False  # fmt: skip
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="API base URL [env: MIMO_BASE_URL; default: "
                                    "https://api.xiaomimimo.com/v1].", rich_help_panel=CONN)
    ] = None  # fmt: skip
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="API key [env: MIMO_API_KEY].", show_default=False,
                                    rich_help_panel=CONN)
    ] = None  # fmt: skip
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds one attempt may take, streaming included "
                                      "[default: 300].", rich_help_panel=CONN)
    ] = None  # fmt: skip
    debug: Annotated[
        bool, typer.Option("--debug", help="Show request and response headers (the key masked) on stderr "
                           "[env: MIMO_DEBUG].", rich_help_panel=CONN)
    ] = False  # fmt: skip
    retries: Annotated[
        int | None, typer.Option("--retries", help="Retries of a failed request that may succeed later "
                                    "[default: 3].", rich_help_panel=CONN)
    ] = None  # fmt: skip

    def settings(self) -> Settings:
        options = {
            name: getattr(self, name)
            for name in ("model", "fps", "resolution", "preset", "prompt", "system", "max_tokens",
                         "temperature", "top_p", "thinking", "stream", "max_inline_mb", "force_mime",
                         "base_url", "api_key", "timeout", "retries")
        }  # fmt: skip
        settings = resolve(options)
        register_secret(settings.api_key)
        return settings


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


def _notice(quiet: bool) -> Callable[[str, str | None], None]:
    def notice(message: str, hint: str | None = None) -> None:
        if not quiet:
            from mimo_cli import render

            render.warning(message, hint)

    return notice


def _retry_notice(quiet: bool) -> Callable[[str, str | None], None]:
    def notice(message: str, hint: str | None = None) -> None:
        if not quiet:
            from mimo_cli import render

            render.info(message)

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
        if not settings.api_key:
            raise MimoError(
                Kind.AUTH,
                "no API key is set",
                "export MIMO_API_KEY=sk-... (or pass --api-key); --dry-run shows the request without one",
            )
        if opts.json_out:
            renderer = render.JsonRenderer(record_input, quiet=opts.quiet)
        elif render.stdout_is_terminal():
            renderer = render.TerminalRenderer(show_reasoning=opts.reasoning is not False, quiet=opts.quiet)
        else:
            renderer = render.PlainRenderer(show_reasoning=bool(opts.reasoning), quiet=opts.quiet)
        from mimo_cli.api import Client

        if opts.debug:
            _set_debug(True)
        with Client(settings, notice=_retry_notice(opts.quiet), debug=_debug_log()) as client:
            result = client.chat(request, renderer.delta)
        renderer.finish(result)
    except MimoError as e:
        if renderer is not None and hasattr(renderer, "stop"):
            renderer.stop()
        if opts.json_out and e.kind is not Kind.USAGE:
            model = settings.model if settings else (opts.model or "")
            render.print_json(
                make_record(record_input, model, error=e, elapsed_s=time.monotonic() - started,
                            attempts=e.attempts)
            )  # fmt: skip
        raise
    finally:
        if renderer is not None and hasattr(renderer, "stop"):
            renderer.stop()
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


def main() -> None:
    """The ``mimo`` console script."""
    app()
