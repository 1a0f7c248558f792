"""Finding ffmpeg and ffprobe, and running them."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mimo_cli.errors import input_error

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

INSTALL_HINT = (
    "install ffmpeg (sudo apt-get install ffmpeg, or brew install ffmpeg), "
    "or the one the ffmpeg extra bundles: pip install 'mimo-cli[ffmpeg]'"
)

# -- finding ffmpeg -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tools:
    ffmpeg: str
    ffprobe: str | None  # None: imageio-ffmpeg bundles no ffprobe; probing reads `ffmpeg -i` instead
    origin: str  # "PATH" or "imageio-ffmpeg"


_found: dict[str, Tools | None] = {}


def locate() -> Tools | None:
    """ffmpeg (and ffprobe) from PATH, else imageio-ffmpeg's bundled binary, else None. Cached."""
    if "tools" not in _found:
        _found["tools"] = _search()
    return _found["tools"]


def _search() -> Tools | None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        return Tools(ffmpeg, shutil.which("ffprobe"), "PATH")
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # ImportError without the extra; RuntimeError when its binary is missing
        return None
    return Tools(str(exe), None, "imageio-ffmpeg")


def require(what: str) -> Tools:
    """The tools, or an input error (exit 2) naming both ways to get ffmpeg."""
    tools = locate()
    if tools is None:
        raise input_error(f"{what} needs ffmpeg, which is not installed", INSTALL_HINT)
    return tools


# -- running it ---------------------------------------------------------------------------------------------


_children: set[subprocess.Popen[bytes]] = set()  # running now, in any thread (see kill_children)
_children_lock = threading.Lock()


def _run(
    args: Sequence[str], progress: Callable[[float], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg/ffprobe to the end; on Ctrl-C or any error the child is killed before re-raising.

    ``progress``: for a command with ``-progress pipe:1``, told the seconds of output written so far as
    ffmpeg reports them (stdout is then read line by line; stderr is collected in a thread).
    """
    with subprocess.Popen(
        list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        with _children_lock:
            _children.add(proc)
        try:
            if progress is None:
                out, err = proc.communicate()
            else:
                out, err = _follow(proc, progress)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            with _children_lock:
                _children.discard(proc)
    return subprocess.CompletedProcess(
        list(args), proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    )


def _follow(proc: subprocess.Popen[bytes], progress: Callable[[float], None]) -> tuple[bytes, bytes]:
    """Read ``-progress pipe:1``'s ``out_time_us=`` lines as they come; return (b"", stderr)."""
    assert proc.stdout is not None and proc.stderr is not None
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    for line in proc.stdout:
        key, _, value = line.partition(b"=")
        if key in (b"out_time_us", b"out_time_ms") and value.strip().isdigit():  # both are microseconds
            progress(int(value) / 1_000_000)
    proc.wait()
    reader.join()
    return b"", b"".join(errors)


def kill_children() -> None:
    """Kill the ffmpeg runs of other threads (an interrupted --segment run does not wait for them)."""
    with _children_lock:
        running = list(_children)
    for proc in running:
        with contextlib.suppress(OSError):
            proc.kill()


_PREFIX = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*")
_NOISE = ("At least one output file must be specified", "Conversion failed!")


def reason(stderr: str, path: Path | str, label: str) -> str:
    """ffmpeg's complaint in one line: its last message, with the first specific one in brackets."""
    lines: list[str] = []
    for raw in stderr.splitlines():
        line = _PREFIX.sub("", raw.strip()).replace(str(path), label).strip()
        if line.startswith(f"{label}: "):
            line = line[len(label) + 2 :]
        if line and not line.startswith(_NOISE) and line not in lines:
            lines.append(line)
    if not lines:
        return "ffmpeg failed without saying why"
    text = lines[-1]
    if len(lines) > 1:
        text += f" ({lines[0]})"
    return text if len(text) <= 200 else text[:199] + "…"


def _unreadable(label: str, stderr: str, path: Path) -> Exception:
    return input_error(
        f"ffmpeg cannot read {label}: {reason(stderr, path, label)}",
        "check that the file plays: it may be damaged, incomplete or not a video",
    )
