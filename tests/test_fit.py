"""--fit, --start/--end and --inline-url: real ffmpeg conversions, checked on what the fake server received.

The inputs are made at test time in a temporary directory (a WebM, an MKV, 40 s of noise in a ~4.5 MB
MP4); the inline limit is lowered with --max-inline-mb so that conversions stay small and fast. Every test
points the temporary directory at its own folder and checks that nothing is left in it.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FIXTURES, http_server

from mimo_cli.core import open_video as resolve_input
from mimo_cli.errors import MimoError
from mimo_cli.ffmpeg import convert, plan, tools
from mimo_cli.ffmpeg import probe as probing
from mimo_cli.settings import Settings, parse_time

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fakeserver import FakeServer

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
pytestmark = pytest.mark.skipif(
    not (FFMPEG and FFPROBE), reason="needs ffmpeg and ffprobe (.ci/run installs them)"
)
MiB = 1024 * 1024


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG or "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs made once per session: WebM (VP8 + Opus), MKV (MPEG-4 + MP3), noise MP4 (H.264 + AAC)."""
    root = tmp_path_factory.mktemp("made")
    src = ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=6", "-f", "lavfi", "-i", "sine=f=300:d=6"]
    ffmpeg(*src, "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k",
           "-c:a", "libopus", "-shortest", str(root / "clip.webm"))  # fmt: skip
    ffmpeg(*src, "-c:v", "mpeg4", "-q:v", "5", "-c:a", "libmp3lame", "-shortest", str(root / "clip.mkv"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=240x180:r=20:d=40,noise=alls=60:allf=t",
           "-f", "lavfi", "-i", "anoisesrc=d=40:c=pink:a=0.3", "-c:v", "libx264", "-preset", "ultrafast",
           "-b:v", "700k", "-c:a", "aac", "-b:a", "96k", "-shortest", str(root / "noise.mp4"))  # fmt: skip
    return {p.name: p for p in root.iterdir()}


@pytest.fixture
def tmpdir_(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory mimo uses (TMPDIR), empty at the start."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(autouse=True)
def fresh_tools() -> Iterator[None]:
    tools._found.clear()
    yield
    tools._found.clear()


def probe(data: bytes, folder: Path) -> dict[str, Any]:
    path = folder / "received.bin"
    path.write_bytes(data)
    out = subprocess.run(
        [FFPROBE or "ffprobe", "-v", "error", "-of", "json", "-show_entries",
         "format=duration,format_name:stream=codec_type,codec_name,width,height", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    path.unlink()
    info = json.loads(out)
    return {
        "format": info["format"]["format_name"],
        "duration": float(info["format"]["duration"]),
        "codecs": {s["codec_type"]: s["codec_name"] for s in info["streams"]},
        "size": next((s["width"], s["height"]) for s in info["streams"] if s["codec_type"] == "video"),
    }


def duration_of(path: Path) -> float:
    return probe(path.read_bytes(), path.parent.parent)["duration"]


def sent(server: FakeServer) -> tuple[str, bytes, int]:
    """The one video of the one request: MIME, bytes, and the length of its data URI."""
    [req] = server.received
    [(mime, data)] = req.videos()
    assert isinstance(data, bytes)
    url = req.json()["messages"][1]["content"][0]["video_url"]["url"]
    return mime, data, len(url)


@pytest.mark.parametrize(
    ("name", "limit_mb", "container"),
    [("clip.webm", 10, "WebM"), ("clip.mkv", 10, "Matroska"), ("noise.mp4", 1, "MP4")],
)
def test_fit_makes_an_mp4_under_the_limit_with_its_duration_and_audio(
    mimo: Any, server: FakeServer, made: dict[str, Path], tmpdir_: Path, name: str, limit_mb: int,
    container: str,
) -> None:  # fmt: skip
    source = made[name]
    run = mimo("describe", str(source), "--fit", "--max-inline-mb", str(limit_mb))
    assert run.exit_code == 0, run.stderr
    mime, data, uri_length = sent(server)
    assert mime == "video/mp4"
    assert uri_length <= limit_mb * MiB
    got = probe(data, tmpdir_)
    assert "mp4" in got["format"] and got["codecs"] == {"video": "h264", "audio": "aac"}
    assert abs(got["duration"] - duration_of(source)) <= 0.5
    [notice] = [line for line in run.stderr.splitlines() if "converted" in line]
    assert f"converted {source}: " in notice and container in notice and "→" in notice and "MP4" in notice
    if name == "noise.mp4":  # too large: the bitrate is chosen to land just under the limit
        assert source.stat().st_size > 3 * limit_mb * MiB
        assert 0.8 * limit_mb * MiB <= uri_length
    else:  # a lean source is re-encoded at constant quality, not inflated to the limit
        assert len(data) < 1.7 * source.stat().st_size
    assert list(tmpdir_.iterdir()) == []


def test_a_span_that_fits_is_cut_without_re_encoding(
    mimo: Any, server: FakeServer, made: dict[str, Path], tmpdir_: Path
) -> None:
    run = mimo("describe", str(made["noise.mp4"]), "--start", "10", "--end", "0:18")
    assert run.exit_code == 0, run.stderr
    assert "without re-encoding" in run.stderr and "0:10.0 to 0:18.0" in run.stderr
    mime, data, _ = sent(server)
    got = probe(data, tmpdir_)
    assert mime == "video/mp4" and got["codecs"] == {"video": "h264", "audio": "aac"}
    assert abs(got["duration"] - 8) <= 0.5
    assert got["size"] == (240, 180)  # the quality is untouched
    assert list(tmpdir_.iterdir()) == []


def test_a_span_is_converted_to_fit(
    mimo: Any, server: FakeServer, made: dict[str, Path], tmpdir_: Path
) -> None:
    run = mimo("describe", str(made["noise.mp4"]), "--fit", "--start", "0:05", "--end", "25.5",
               "--max-inline-mb", "0.5")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert "converted" in run.stderr and "from 0:05.0 to 0:25.5" in run.stderr
    mime, data, uri_length = sent(server)
    assert mime == "video/mp4" and uri_length <= 0.5 * MiB
    got = probe(data, tmpdir_)
    assert abs(got["duration"] - 20.5) <= 0.5 and "audio" in got["codecs"]


def test_without_fit_the_refusals_stand_and_point_at_fit(
    mimo: Any, server: FakeServer, made: dict[str, Path], tmpdir_: Path
) -> None:
    run = mimo("describe", str(made["clip.webm"]), "--start", "1")  # a cut does not change the container
    assert run.exit_code == 2 and "WebM" in run.stderr and "--fit" in run.stderr
    run = mimo("describe", str(made["noise.mp4"]), "--start", "5", "--max-inline-mb", "0.5")
    assert run.exit_code == 2
    assert "still too large" in run.stderr and "add --fit" in run.stderr
    assert server.received == [] and list(tmpdir_.iterdir()) == []


def test_an_undecodable_file_is_exit_2_with_ffmpegs_reason_in_one_line(
    mimo: Any, server: FakeServer, tmp_path: Path, tmpdir_: Path
) -> None:
    broken = tmp_path / "broken.mp4"  # an MP4 header (libmagic: video/mp4), then no moov box: only noise
    broken.write_bytes((FIXTURES / "clip.mp4").read_bytes()[:32] + os.urandom(300_000))
    run = mimo("describe", str(broken), "--fit", "--max-inline-mb", "0.1")
    assert run.exit_code == 2
    error, hint = run.stderr.splitlines()
    assert error.startswith(f"error: ffmpeg cannot read {broken}: ")
    assert "moov atom not found" in error and "0x" not in error
    assert hint.startswith("hint: ")
    assert server.received == [] and list(tmpdir_.iterdir()) == []


def test_start_and_end_are_checked_against_the_duration(
    mimo: Any, server: FakeServer, made: dict[str, Path], tmpdir_: Path
) -> None:
    noise = str(made["noise.mp4"])
    for args, words in [
        (["--start", "50"], "is not before the end of"),
        (["--end", "41"], "is past the end of"),
        (["--start", "30", "--end", "0:20"], "must come after --start"),
        (["--start", "1:75"], "must be below 60"),
        (["--end", "soon"], "must be seconds or [hh:]mm:ss"),
    ]:
        run = mimo("describe", noise, *args)
        assert run.exit_code == 2, args
        assert words in run.stderr, (args, run.stderr)
    assert server.received == [] and list(tmpdir_.iterdir()) == []


def test_without_ffmpeg_fit_start_and_end_name_both_ways_to_get_it(
    mimo: Any, server: FakeServer, made: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools, "_search", lambda: None)
    for args in (
        [str(made["clip.webm"]), "--fit"],
        [str(made["noise.mp4"]), "--fit", "--max-inline-mb", "1"],
        [str(FIXTURES / "clip.mp4"), "--start", "0.5"],
    ):
        run = mimo("describe", *args)
        assert run.exit_code == 2, args
        assert "needs ffmpeg, which is not installed" in run.stderr
        assert "apt-get install ffmpeg" in run.stderr and "pip install 'mimo-cli[ffmpeg]'" in run.stderr
    assert server.received == []
    # a video that needs no conversion is sent as it is, --fit or not
    assert mimo("describe", str(FIXTURES / "clip.mp4"), "--fit").exit_code == 0


def test_imageio_ffmpeg_is_used_when_ffmpeg_is_not_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    fake = type(sys)("imageio_ffmpeg")
    fake.get_ffmpeg_exe = lambda: "/opt/bundled/ffmpeg"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", fake)
    assert tools.locate() == tools.Tools("/opt/bundled/ffmpeg", None, "imageio-ffmpeg")


def test_without_ffprobe_the_streams_are_read_from_ffmpeg(
    made: dict[str, Path], tmpdir_: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools, "_search", lambda: tools.Tools(FFMPEG or "", None, "test"))
    notices: list[str] = []
    settings = Settings(fit=True, start=0.5, end=4.5)
    video = resolve_input(str(made["clip.webm"]), settings, notice=lambda m, h=None: notices.append(m))
    assert video.path is not None
    got = probe(video.path.read_bytes(), tmpdir_.parent)
    assert abs(got["duration"] - 4) <= 0.5 and got["codecs"] == {"video": "h264", "audio": "aac"}
    assert "320×240" in notices[0]
    video.close()
    assert list(tmpdir_.iterdir()) == []


@pytest.mark.parametrize("name", ["clip.mp4", "clip.mov", "clip.webm", "clip.mkv", "clip.avi", "clip.ts"])
def test_the_ffmpeg_banner_says_what_ffprobe_says(name: str) -> None:
    with_probe = probing.probe(tools.Tools(FFMPEG or "", FFPROBE, "test"), FIXTURES / name, name)
    banner = probing.probe(tools.Tools(FFMPEG or "", None, "test"), FIXTURES / name, name)
    assert (banner.video, banner.width, banner.height, banner.audio) == (
        with_probe.video, with_probe.width, with_probe.height, with_probe.audio,
    )  # fmt: skip
    assert abs((banner.duration or 0) - (with_probe.duration or 0)) < 0.05


def test_a_duration_the_header_does_not_give_is_measured(tmp_path: Path) -> None:
    path = tmp_path / "live.webm"  # a live WebM (as MediaRecorder writes it) has no duration in its header
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=3", "-c:v", "libvpx", "-live", "1", str(path))
    found = tools.Tools(FFMPEG or "", FFPROBE, "test")
    assert abs(probing.measure_duration(found, path, "live.webm") - 3) <= 0.2
    assert abs((probing.probe(found, path, "live.webm").duration or 0) - 3) <= 0.2


def test_stdin_converted_leaves_one_file_and_close_removes_it(made: dict[str, Path], tmpdir_: Path) -> None:
    data = made["clip.mkv"].read_bytes()
    video = resolve_input("-", Settings(fit=True), stdin=io.BytesIO(data))
    assert video.temporary and video.mime == "video/mp4" and video.label == "-"
    assert [p for p in tmpdir_.rglob("*") if p.is_file()] == [video.path]  # the spooled input is gone already
    video.close()
    assert list(tmpdir_.iterdir()) == []


def test_a_result_still_too_large_is_encoded_again_smaller(
    made: dict[str, Path], tmpdir_: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(convert, "TARGET", 1.5)  # the first encode aims over the limit on purpose
    encodes: list[list[str]] = []
    real_run = convert._run

    def counting_run(args: list[str], progress: Any = None) -> Any:
        if "libx264" in args:
            encodes.append(args)
        return real_run(args, progress)

    monkeypatch.setattr(convert, "_run", counting_run)
    settings = Settings(fit=True, end=10, max_inline_mb=0.25)
    video = resolve_input(str(made["noise.mp4"]), settings)
    assert len(encodes) == 2
    assert video.url_length() <= settings.inline_limit
    video.close()
    assert list(tmpdir_.iterdir()) == []


def test_a_video_too_long_for_the_limit_says_how_to_send_a_part(made: dict[str, Path], tmpdir_: Path) -> None:
    with pytest.raises(MimoError, match="too long to fit") as err:
        resolve_input(str(made["noise.mp4"]), Settings(fit=True, max_inline_mb=0.05))
    assert "--start/--end" in (err.value.hint or "") and err.value.exit_code == 2
    assert list(tmpdir_.iterdir()) == []


def test_dry_run_shows_the_converted_video_and_sends_nothing(
    mimo: Any, server: FakeServer, made: dict[str, Path], tmpdir_: Path
) -> None:
    run = mimo("describe", str(made["clip.webm"]), "--fit", "--dry-run")
    assert run.exit_code == 0, run.stderr
    assert '"url": "data:video/mp4;base64,' in run.stdout and "converted" in run.stderr
    assert server.received == [] and list(tmpdir_.iterdir()) == []


def test_ctrl_c_during_a_conversion_leaves_no_file(
    server: FakeServer, made: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    env = {**os.environ, "TMPDIR": str(folder), "MIMO_API_KEY": "sk-test", "MIMO_BASE_URL": server.url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimo_cli", "describe", str(made["noise.mp4"]), "--fit", "--max-inline-mb", "1"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not any(p.name.startswith("fit-") for p in folder.rglob("*")):
        assert proc.poll() is None and time.monotonic() < deadline, "the conversion never started"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert list(folder.iterdir()) == [] and server.received == []


# -- --inline-url ---------------------------------------------------------------------------------------


class _Files(http.server.SimpleHTTPRequestHandler):
    endless_sent = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != "/endless.mp4":
            return super().do_GET()
        # a live stream: no Content-Length, and it does not end (up to 64 MiB, so a bug cannot hang the test)
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Connection", "close")
        self.end_headers()
        block = (FIXTURES / "clip.mp4").read_bytes() * 16
        while _Files.endless_sent < 64 * MiB:
            self.wfile.write(block)
            _Files.endless_sent += len(block)


class _Quiet(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a download that mimo stops early breaks the pipe: expected


@pytest.fixture
def files(made: dict[str, Path]) -> Iterator[str]:
    """A static file server on 127.0.0.1 for the made inputs and the fixtures."""
    root = made["clip.webm"].parent
    for name in ("clip.mp4", "notes.txt"):
        if not (root / name).exists():
            shutil.copy(FIXTURES / name, root / name)
    handler = lambda *a, **kw: _Files(*a, directory=str(root), **kw)  # noqa: E731
    with http_server(handler, _Quiet) as url:
        yield url


def test_inline_url_downloads_and_sends_inline(
    mimo: Any, server: FakeServer, files: str, tmpdir_: Path
) -> None:
    run = mimo("describe", f"{files}/clip.mp4", "--inline-url")
    assert run.exit_code == 0, run.stderr
    assert "cannot reach" not in run.stderr  # no warning: it is not the API that fetches it
    assert sent(server)[:2] == ("video/mp4", (FIXTURES / "clip.mp4").read_bytes())
    assert list(tmpdir_.iterdir()) == []


def test_inline_url_with_fit_converts(mimo: Any, server: FakeServer, files: str, tmpdir_: Path) -> None:
    run = mimo("describe", f"{files}/clip.mkv", "--inline-url", "--fit", "--start", "2")
    assert run.exit_code == 0, run.stderr
    mime, data, _ = sent(server)
    got = probe(data, tmpdir_)
    assert mime == "video/mp4" and abs(got["duration"] - 4) <= 0.5
    assert list(tmpdir_.iterdir()) == []


def test_inline_url_refusals(mimo: Any, server: FakeServer, files: str, tmpdir_: Path) -> None:
    for url, args, words in [
        (f"{files}/noise.mp4", ["--max-inline-mb", "1"], "too large to send inline"),
        (f"{files}/clip.webm", [], "WebM"),
        (f"{files}/notes.txt", [], "is not a video"),
        (f"{files}/missing.mp4", [], "HTTP 404"),
    ]:
        run = mimo("describe", url, "--inline-url", *args)
        assert run.exit_code == 2, (url, run.stderr)
        assert words in run.stderr, (url, run.stderr)
    run = mimo("describe", f"{files}/noise.mp4", "--inline-url", "--max-inline-mb", "1")
    assert "--fit" in run.stderr and "leave out --inline-url" in run.stderr
    assert server.received == [] and list(tmpdir_.iterdir()) == []


def test_inline_url_stops_a_download_as_soon_as_it_passes_the_limit(
    mimo: Any, server: FakeServer, files: str, tmpdir_: Path
) -> None:
    _Files.endless_sent = 0
    run = mimo("describe", f"{files}/endless.mp4", "--inline-url", "--max-inline-mb", "1")
    assert run.exit_code == 2 and "too large to send inline" in run.stderr
    assert _Files.endless_sent < 32 * MiB  # it stopped reading long before the stream's end
    assert server.received == [] and list(tmpdir_.iterdir()) == []


def test_start_and_end_on_a_url_need_inline_url(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", "https://example.com/v.mp4", "--start", "5")
    assert run.exit_code == 2 and "--inline-url" in run.stderr
    assert server.received == []


# -- pure helpers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90.5", 90.5), ("1:30", 90), ("01:30.5", 90.5), ("1:02:03", 3723), ("0", 0)],
)
def test_times(text: str, seconds: float) -> None:
    assert parse_time(text) == seconds


def test_plan_shrinks_a_1080p_minute_to_480p_and_keeps_a_lean_source_at_quality() -> None:
    media = probing.Media(duration=60, video="h264", width=1920, height=1080, fps=30, audio="aac", channels=2)
    budget = plan.TARGET * 7_864_302  # the largest MP4 that fits 10 MiB
    p = plan.plan(media, 60, budget, source_kbps=6000, label="x")
    assert (p.long_side, p.fps, p.crf, p.audio_kbps) == (854, 15, None, 96)
    assert 800 < (p.video_kbps or 0) < 900
    lean = plan.plan(media, 60, budget, source_kbps=500, label="x")  # already under the budget
    assert (lean.long_side, lean.crf) == (None, plan.CRF_FIT)
    with pytest.raises(MimoError, match="too long"):
        plan.plan(media, 3 * 3600, budget, source_kbps=6000, label="x")


def test_ffmpegs_reason_is_one_line_without_addresses_or_temp_paths() -> None:
    stderr = (
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55fb50ca6400] moov atom not found\n"
        "/tmp/mimo-stdin-abc: Invalid data found when processing input\n"
    )
    assert tools.reason(stderr, "/tmp/mimo-stdin-abc", "-") == (
        "Invalid data found when processing input (moov atom not found)"
    )


def test_batch_converts_per_job_with_at_most_one_converted_file_each(
    mimo: Any, server: FakeServer, made: dict[str, Path], tmpdir_: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """batch --fit: every input converted in its own job, no more files on disk than jobs, none left."""
    folder = tmp_path / "videos"
    folder.mkdir()
    for i in range(3):
        shutil.copy(made["clip.webm"], folder / f"w{i}.webm")
        shutil.copy(made["clip.mkv"], folder / f"m{i}.mkv")
    on_disk: list[int] = []
    real_convert = convert.convert

    def counting_convert(*args: Any, **kwargs: Any) -> Any:
        video = real_convert(*args, **kwargs)
        on_disk.append(len([p for p in tmpdir_.rglob("*") if p.is_file()]))
        return video

    monkeypatch.setattr(convert, "convert", counting_convert)
    out = tmp_path / "out.jsonl"
    run = mimo("batch", str(folder), "--fit", "-j", "2", "-o", str(out))
    assert run.exit_code == 0, run.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(Path(r["input"]).name for r in records) == sorted(p.name for p in folder.iterdir())
    assert all(r["status"] == "ok" for r in records)
    assert sorted(mime for req in server.received for mime, _ in req.videos()) == ["video/mp4"] * 6
    assert len(on_disk) == 6 and max(on_disk) <= 2  # one converted file per job at most
    assert list(tmpdir_.iterdir()) == []
    notices = [line for line in run.stderr.splitlines() if "converted" in line]
    assert len(notices) == 6 and all(line.count(str(folder)) == 1 for line in notices)  # named once
