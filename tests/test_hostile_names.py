"""Hostile ground, part 3 (issue 10): names and files that lose answers without a word.

Sidecar collisions, symlinked duplicates and shards, -o naming an input, --resume on a file that is not
JSON Lines, non-UTF-8 and 254-byte file names, numbers too large, a config nested too deep, and what
planning a big tree costs per file.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import subprocess
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hostile_fs_tools import child_env, make_videos, mimo_command, records, sent

if TYPE_CHECKING:
    from fakeserver import FakeServer

# -- sidecars that would land on one file --------------------------------------------------------------


def test_x_mp4_and_x_mov_get_sidecars_of_their_own(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    by_content = make_videos(tmp_path / "media", ["x.mp4", "x.mov", "y.mp4"])
    run = mimo("batch", "media", "--sidecar", "txt")
    assert run.exit_code == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "media").glob("*.txt")) == ["x.mov.txt", "x.mp4.txt", "y.txt"]
    assert (
        "warning: media/x.mov and media/x.mp4 would share media/x.txt: writing media/x.mov.txt and "
        "media/x.mp4.txt" in run.stderr
    )
    assert sorted(sent(server, by_content)) == ["x.mov", "x.mp4", "y.mp4"]
    for path in (tmp_path / "media").glob("*.txt"):
        assert path.read_text().strip() == server.answer


def test_sidecars_are_named_apart_the_same_way_on_every_shard(
    mimo: Any, server: FakeServer, tmp_path: Path
) -> None:
    from mimo_cli.batch.plan import shard_of

    os.chdir(tmp_path)
    make_videos(tmp_path / "media", ["x.mp4", "x.mov"])
    n = next(n for n in range(2, 50) if shard_of("media/x.mp4", n) != shard_of("media/x.mov", n))
    for k in range(1, n + 1):
        assert mimo("batch", "media", "--sidecar", "txt", "--shard", f"{k}/{n}").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "media").glob("*.txt")) == ["x.mov.txt", "x.mp4.txt"]
    assert len(server.received) == 2


def test_two_trees_into_one_out_dir_are_refused_before_sending(
    mimo: Any, server: FakeServer, tmp_path: Path
) -> None:
    os.chdir(tmp_path)
    make_videos(tmp_path, ["one/x.mp4", "two/x.mp4", "two/z.mp4"])
    run = mimo("batch", "one", "two", "--sidecar", "txt", "--out-dir", "captions")
    assert run.exit_code == 2, run.stderr
    assert "error: one/x.mp4 and two/x.mp4 would both write captions/x.txt" in run.stderr
    assert server.received == [] and not (tmp_path / "captions").exists()


# -- symlinked duplicates and shards --------------------------------------------------------------------


def _dry(mimo: Any, *args: str) -> list[str]:
    run = mimo("batch", *args, "--dry-run", "--json")
    assert run.exit_code == 0, run.stderr
    return [json.loads(line)["input"] for line in run.stdout.splitlines()]


def test_a_symlinked_duplicate_keeps_one_name_whatever_the_order(
    mimo: Any, server: FakeServer, tmp_path: Path
) -> None:
    os.chdir(tmp_path)
    make_videos(tmp_path / "media", ["a.mp4", "b.mp4"])
    os.symlink("a.mp4", "media/dup.mp4")
    os.symlink("b.mp4", "media/0-link.mp4")  # a link whose name sorts before its target's
    orders = [["media/dup.mp4", "media/a.mp4", "media"], ["media", "media/a.mp4", "media/dup.mp4"]]
    kept = [_dry(mimo, *paths) for paths in orders]
    assert kept[0] == kept[1] == ["media/0-link.mp4", "media/a.mp4"]  # the smallest name among duplicates
    for n in (2, 3):
        for paths in orders:
            union = sorted(x for k in range(1, n + 1) for x in _dry(mimo, *paths, "--shard", f"{k}/{n}"))
            assert union == ["media/0-link.mp4", "media/a.mp4"]  # on every machine the same one name
    assert server.received == []


# -- -o and --resume on the wrong file ------------------------------------------------------------------


def test_an_output_that_is_one_of_the_inputs_is_refused(
    mimo: Any, server: FakeServer, tmp_path: Path
) -> None:
    os.chdir(tmp_path)
    make_videos(tmp_path / "media", ["a.mp4", "b.mp4"])
    before = Path("media/a.mp4").read_bytes()
    for output in ("media/a.mp4", "./media/../media/a.mp4"):
        run = mimo("batch", "media", "-o", output)
        assert run.exit_code == 2, run.stderr
        assert f"error: --output {Path(output)} is one of the inputs" in run.stderr
    assert Path("media/a.mp4").read_bytes() == before and server.received == []


def test_resume_refuses_a_file_that_is_not_json_lines(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    make_videos(tmp_path / "media", ["a.mp4"])
    Path("notes.txt").write_text("my notes\nthe last line, without a newline")
    before = Path("notes.txt").read_bytes()
    run = mimo("batch", "media", "-o", "notes.txt", "--resume")
    assert run.exit_code == 2, run.stderr
    assert "error: notes.txt is not JSON Lines (line 1)" in run.stderr
    assert Path("notes.txt").read_bytes() == before and server.received == []


def test_a_dry_run_never_mends_the_output(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    """The output may be another batch's, half-way through a record: --dry-run only reads it."""
    os.chdir(tmp_path)
    make_videos(tmp_path / "media", ["a.mp4", "b.mp4"])
    assert mimo("batch", "media", "-o", "out.jsonl", "-j", "1").exit_code == 0  # b.mp4 written last
    torn = Path("out.jsonl").read_bytes()[:-40]
    Path("out.jsonl").write_bytes(torn)
    run = mimo("batch", "media", "-o", "out.jsonl", "--resume", "--dry-run")
    actions = [line.split()[:2] for line in run.stdout.splitlines()[:2]]
    assert run.exit_code == 0 and actions == [["skip", "media/a.mp4"], ["send", "media/b.mp4"]]
    assert Path("out.jsonl").read_bytes() == torn and len(server.received) == 2


# -- file names -----------------------------------------------------------------------------------------


def test_non_utf8_names_are_escaped_in_records(server: FakeServer, tmp_path: Path) -> None:
    make_videos(tmp_path / "media", ["plain.mp4"])
    os.rename(tmp_path / "media" / "plain.mp4", os.fsencode(tmp_path / "media") + b"/caf\xe9.mp4")
    for args in (["batch", "media"], ["batch", "media", "-o", "out.jsonl"], ["describe", "--json", "media"]):
        if args[0] == "describe":
            args = ["describe", "--json", os.fsdecode(b"media/caf\xe9.mp4")]
        proc = subprocess.run(
            [*mimo_command(), *args], cwd=tmp_path, env=child_env(server), capture_output=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        raw = (tmp_path / "out.jsonl").read_bytes() if "-o" in args else proc.stdout
        (record,) = records(raw.decode("utf-8"))  # strict: valid UTF-8
        assert record["input"] == "media/caf\\xe9.mp4", record["input"]
        record["input"].encode("utf-8")  # no lone surrogates either


def test_a_254_byte_name_gets_its_sidecar(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    name = "n" * 250 + ".mp4"
    make_videos(tmp_path / "media", [name])
    run = mimo("batch", "media", "--sidecar", "txt")
    assert run.exit_code == 0, run.stderr
    sidecar = tmp_path / "media" / ("n" * 250 + ".txt")
    assert sidecar.read_text().strip() == server.answer
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == sorted([name, sidecar.name])


# -- numbers too large, a config too deep ---------------------------------------------------------------


@pytest.mark.parametrize(
    "option",
    [
        ["--timeout", "1e10"],
        ["--timeout", "inf"],
        ["--timeout", "nan"],
        ["--max-inline-mb", "1e308"],
        ["--max-inline-mb", "nan"],
    ],
    ids=lambda o: " ".join(o),
)
def test_numbers_too_large_are_usage_errors(
    mimo: Any, server: FakeServer, clip: Path, option: list[str]
) -> None:
    run = mimo("describe", str(clip), *option)
    assert run.exit_code == 2, run.output
    assert run.stderr.startswith(f"error: {option[0]}"), run.stderr
    assert "this is a bug" not in run.stderr and server.received == []


def test_a_config_nested_too_deep_is_a_usage_error(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    run = mimo("describe", "https://example.com/v.mp4", "--config", str(deep))
    assert run.exit_code == 2, run.output
    assert run.stderr.startswith(f"error: the config file {deep} is nested too deep"), run.stderr
    assert "this is a bug" not in run.stderr
    assert server.received == []


# -- planning a big tree ------------------------------------------------------------------------------------


def _tree(root: Path, count: int) -> str:
    for i in range(count):
        folder = root / f"shoot{i % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"take-{i:06d}{'.txt' if i % 10 == 9 else '.mp4'}").touch()
    return str(root)


def _peak(func: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _floor(root: str) -> list[str]:
    names = [os.path.join(d, n) for d, _, files in os.walk(root) for n in files if n.endswith(".mp4")]
    names.sort()
    return [s for s in names if hashlib.sha256(s.encode()).digest()[0] % 4 == 0]


def test_planning_costs_little_memory_per_file(tmp_path: Path) -> None:
    try:
        from mimo_cli.batch.plan import plan
    except ImportError:
        from mimo_cli.batch import plan  # type: ignore[no-redef]
    small, big = _tree(tmp_path / "small", 2_000), _tree(tmp_path / "big", 8_000)
    per_file = {
        n: _peak(lambda r=root: plan([r], shard=(1, 4))) / n for n, root in ((2_000, small), (8_000, big))
    }
    floor = _peak(lambda: _floor(big)) / 8_000
    assert per_file[8_000] <= 1.5 * per_file[2_000], per_file  # linear
    assert per_file[8_000] <= 4 * floor, (per_file, floor)  # and small: a few times the names themselves
    assert len(plan([big])) == 7_200  # every video, once
