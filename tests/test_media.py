"""Input resolution: MIME detection against real files, the inline limit, URLs, data URIs, stdin."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FIXTURES, padded_mp4
from hypothesis import given
from hypothesis import strategies as st

from mimo_cli.errors import Kind, MimoError
from mimo_cli.inputs import resolve as resolving
from mimo_cli.inputs import sniff as sniffing
from mimo_cli.inputs import tempfiles
from mimo_cli.inputs import video as videos
from mimo_cli.inputs.resolve import resolve_input, unreachable_host
from mimo_cli.inputs.sniff import sniff
from mimo_cli.inputs.video import base64_length, largest_fitting
from mimo_cli.settings import Settings

if TYPE_CHECKING:
    from pathlib import Path

LIMIT = 10 * 1024 * 1024
SETTINGS = Settings()


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("clip.mp4", "video/mp4"),
        ("clip.m4v", "video/mp4"),  # libmagic: video/x-m4v, the same container
        ("clip.mov", "video/quicktime"),
        ("clip.avi", "video/x-msvideo"),
        ("clip.wmv", "video/x-ms-wmv"),  # libmagic: video/x-ms-asf
        ("clip.asf", "video/x-ms-wmv"),
    ],
)
def test_accepted_containers(name: str, mime: str) -> None:
    video = resolve_input(str(FIXTURES / name), SETTINGS)
    assert video.mime == mime
    assert video.size == (FIXTURES / name).stat().st_size
    uri = b"".join(video.iter_url()).decode()
    assert uri == f"data:{mime};base64," + base64.b64encode((FIXTURES / name).read_bytes()).decode()
    assert video.url_length() == len(uri)


@pytest.mark.parametrize(
    ("name", "container"),
    [
        ("clip.webm", "WebM"),
        ("clip.mkv", "Matroska"),
        ("clip.flv", "FLV"),
        ("clip.3gp", "3GP"),
        ("clip.mpg", "MPEG program stream"),
        ("clip.ts", "MPEG-TS"),  # libmagic: application/octet-stream; the extension settles it
        ("clip_pat.ts", "MPEG-TS"),  # libmagic: video/MP2T
    ],
)
def test_other_containers_are_refused_with_a_way_out(name: str, container: str) -> None:
    with pytest.raises(MimoError) as err:
        resolve_input(str(FIXTURES / name), SETTINGS)
    assert err.value.kind is Kind.INPUT
    assert container in err.value.message
    assert "--fit" in (err.value.hint or "") and "--force-mime" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("notes.txt", "text/plain"),
        ("fake.mp4", "text/plain"),  # the extension does not make text a video
        ("image.png", "image/png"),
        ("archive.zip", "application/zip"),
        ("audio.mp3", "audio/mpeg"),
    ],
)
def test_non_videos_are_refused_whatever_the_extension(name: str, said: str) -> None:
    with pytest.raises(MimoError) as err:
        resolve_input(str(FIXTURES / name), SETTINGS)
    assert err.value.kind is Kind.INPUT
    assert "is not a video" in err.value.message and said in err.value.message


def test_empty_missing_and_directory(tmp_path: Path) -> None:
    for path, words in [
        (FIXTURES / "empty.mp4", "is empty"),
        (tmp_path / "nope.mp4", "no such file"),
        (tmp_path, "is a directory"),
    ]:
        with pytest.raises(MimoError, match=words) as err:
            resolve_input(str(path), SETTINGS)
        assert err.value.exit_code == 2


def test_octet_stream_with_video_extension_needs_a_matching_signature() -> None:
    mp4_head = (FIXTURES / "clip.mp4").read_bytes()[:64]
    assert sniff("x.mp4", "application/octet-stream", mp4_head) == ("video/mp4", None)
    with pytest.raises(MimoError, match="not a video"):
        sniff("x.mp4", "application/octet-stream", b"\x00\x01random bytes" * 8)


def test_without_libmagic_the_extension_decides_after_a_signature_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notices: list[tuple[str, str | None]] = []
    monkeypatch.setitem(sniffing._magic_state, "module", None)
    sniffing._magic_state.pop("module")

    def broken_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "magic":
            raise ImportError("failed to find libmagic.  Check your installation")
        return real_import(name, *args, **kwargs)

    import builtins

    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", broken_import)
    notice = lambda message, hint=None: notices.append((message, hint))  # noqa: E731
    assert resolve_input(str(FIXTURES / "clip.mov"), SETTINGS, notice=notice).mime == "video/quicktime"
    assert resolve_input(str(FIXTURES / "clip.wmv"), SETTINGS, notice=notice).mime == "video/x-ms-wmv"
    with pytest.raises(MimoError, match="not a video"):
        resolve_input(str(FIXTURES / "fake.mp4"), SETTINGS, notice=notice)
    assert len(notices) == 1  # said once, not per file
    assert "libmagic" in notices[0][0] and "libmagic1" in (notices[0][1] or "")


def test_force_mime_skips_detection() -> None:
    video = resolve_input(str(FIXTURES / "clip.webm"), Settings(force_mime="video/webm"))
    assert video.mime == "video/webm"


@given(st.integers(min_value=0, max_value=10_000))
def test_base64_length_matches_the_encoder(n: int) -> None:
    assert base64_length(n) == len(base64.b64encode(b"\0" * n))


def test_inline_limit_is_checked_from_the_size(tmp_path: Path) -> None:
    fits = largest_fitting(LIMIT, "video/mp4")
    assert fits == 7_864_302  # (10 MiB - len("data:video/mp4;base64,")) // 4 * 3: about 7.5 MiB
    ok = resolve_input(str(padded_mp4(tmp_path / "ok.mp4", fits)), SETTINGS)
    assert ok.url_length() <= LIMIT
    with pytest.raises(MimoError) as err:
        resolve_input(str(padded_mp4(tmp_path / "big.mp4", fits + 1)), SETTINGS)
    message, hint = err.value.message, err.value.hint or ""
    assert "too large" in message and "10.0 MiB limit" in message and "7.5 MiB" in message
    assert "--fit" in hint and "URL" in hint


def test_the_size_check_does_not_read_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = padded_mp4(tmp_path / "big.mp4", 9_000_000)
    reads: list[int] = []
    real_open = open

    def spying_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        handle = real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]
        if str(file) == str(big):
            real_read = handle.read
            handle.read = lambda n=-1: reads.append(n) or real_read(n)
        return handle

    monkeypatch.setattr("builtins.open", spying_open)
    with pytest.raises(MimoError, match="too large"):
        resolve_input(str(big), SETTINGS)
    assert reads and all(0 < n <= sniffing.HEAD for n in reads)  # only the head, for libmagic


def test_chunks_are_bounded_and_concatenate_to_the_whole_uri(tmp_path: Path) -> None:
    path = padded_mp4(tmp_path / "v.mp4", 1_000_003)
    video = resolve_input(str(path), SETTINGS)
    chunks = list(video.iter_url())
    assert max(len(c) for c in chunks) <= 4 * videos.CHUNK // 3
    assert (
        b"".join(chunks) == f"data:video/mp4;base64,{base64.b64encode(path.read_bytes()).decode()}".encode()
    )
    assert list(video.iter_url()) == chunks  # a fresh iterator every time (one per attempt)


def test_a_file_that_shrinks_while_sent_is_an_input_error(tmp_path: Path) -> None:
    path = padded_mp4(tmp_path / "v.mp4", 500_000)
    video = resolve_input(str(path), SETTINGS)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(MimoError, match="got shorter"):
        b"".join(video.iter_url())


@pytest.mark.parametrize(
    ("url", "unreachable"),
    [
        ("https://example.com/v.mp4", False),
        ("https://203.0.113.9/v.mp4", True),  # documentation range: reserved
        ("https://8.8.8.8/v.mp4", False),
        ("http://localhost:8000/v.mp4", True),
        ("http://app.localhost/v.mp4", True),
        ("http://127.0.0.1/v.mp4", True),
        ("http://[::1]/v.mp4", True),
        ("http://10.1.2.3/v.mp4", True),
        ("http://192.168.0.7/v.mp4", True),
        ("http://172.16.5.5/v.mp4", True),
        ("http://169.254.1.1/v.mp4", True),
        ("http://[fe80::1]/v.mp4", True),
        ("http://nas/v.mp4", True),  # a single-label name
        ("http://printer.local/v.mp4", True),
    ],
)
def test_unreachable_hosts(url: str, unreachable: bool) -> None:
    assert (unreachable_host(url) is not None) is unreachable


def test_url_is_kept_as_is_and_warned_about_when_private() -> None:
    notices: list[str] = []
    video = resolve_input(
        "http://192.168.1.5/clip.mp4?x=1", SETTINGS, notice=lambda m, h=None: notices.append(f"{m} {h}")
    )
    assert video.url == "http://192.168.1.5/clip.mp4?x=1" and video.path is None
    assert len(notices) == 1 and "private address" in notices[0] and "--inline-url" in notices[0]
    resolve_input("https://example.com/v.mp4", SETTINGS, notice=lambda m, h=None: notices.append(m))
    assert len(notices) == 1


@pytest.mark.parametrize("text", ["ftp://example.com/v.mp4", "file:///tmp/v.mp4", "s3://bucket/v.mp4"])
def test_other_schemes_are_input_errors(text: str) -> None:
    with pytest.raises(MimoError, match="scheme is not supported") as err:
        resolve_input(text, SETTINGS)
    assert err.value.kind is Kind.INPUT


def test_data_uri_is_sent_as_is_within_the_limit() -> None:
    uri = "data:video/mp4;base64," + base64.b64encode((FIXTURES / "clip.mp4").read_bytes()).decode()
    video = resolve_input(uri, SETTINGS)
    assert video.url == uri
    assert video.label.startswith("data:video/mp4;base64,") and "chars)" in video.label
    with pytest.raises(MimoError, match="over the"):
        resolve_input(uri, Settings(max_inline_mb=(len(uri) - 1) / 1024 / 1024))
    with pytest.raises(MimoError, match="must look like"):
        resolve_input("data:text/plain,hello", SETTINGS)


def test_stdin_is_spooled_to_a_temporary_file_and_removed() -> None:
    data = (FIXTURES / "clip.mov").read_bytes()
    video = resolve_input("-", SETTINGS, stdin=io.BytesIO(data))
    assert video.mime == "video/quicktime" and video.label == "-"
    assert video.path is not None and video.path.read_bytes() == data
    video.close()
    assert not video.path.exists()


def test_stdin_refusals_leave_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    for data, words in [
        (b"", "standard input is empty"),
        (b"hello, world\n" * 20, "standard input is not a video"),
    ]:
        with pytest.raises(MimoError, match=words):
            resolve_input("-", SETTINGS, stdin=io.BytesIO(data))
    assert list(tmp_path.iterdir()) == []


def test_temporary_files_live_in_one_folder_removed_when_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    a, b = tempfiles.temp_file("stdin-"), tempfiles.temp_file("fit-", ".mp4")
    [folder] = list(tmp_path.iterdir())
    assert a.parent == b.parent == folder and folder.stat().st_mode & 0o777 == 0o700
    tempfiles.release_temp(a)
    assert folder.exists() and not a.exists()  # b is still in use
    tempfiles.release_temp(b)
    assert list(tmp_path.iterdir()) == []  # the last one takes the folder with it
    tempfiles.temp_file("url-")  # made, then lost (a Ctrl-C before anyone recorded it) ...
    tempfiles.remove_temp_dir()  # ... is still removed when the command ends
    assert list(tmp_path.iterdir()) == []


def test_a_command_removes_what_an_interrupt_left_behind(
    mimo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def interrupted_spool(*args: object, **kwargs: object) -> object:
        tempfiles.temp_file("stdin-")  # the file exists, but Ctrl-C comes before it is recorded anywhere
        raise KeyboardInterrupt

    monkeypatch.setattr(resolving, "spool_stdin", interrupted_spool)
    run = mimo("describe", "-", input=b"video")
    assert run.exit_code == 130 and "interrupted" in run.stderr
    assert list(tmp_path.iterdir()) == []
