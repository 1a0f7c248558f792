"""Estimates in --dry-run and records, prices in usage lines, and batch --budget, against the fake server."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fakeserver import DEFAULT_USAGE, FakeServer

from mimo_cli.estimate.tokens import format_cost, video_tokens
from mimo_cli.ffmpeg import tools

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
pytestmark = pytest.mark.skipif(not (FFMPEG and FFPROBE), reason="needs ffmpeg and ffprobe")

# name -> seconds; the silent ones have no audio stream
CLIPS = {"a.mp4": 6.0, "b.mov": 4.0, "c.avi": 8.0, "d.mp4": 2.0}
SILENT = {"d.mp4"}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    for name, seconds in CLIPS.items():
        sound = [] if name in SILENT else ["-f", "lavfi", "-i", f"sine=d={seconds}:sample_rate=8000"]
        audio = [] if name in SILENT else ["-c:a", "pcm_s16le" if name.endswith((".avi", ".mov")) else "aac"]
        subprocess.run(
            [FFMPEG or "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
             f"testsrc2=s=64x48:r=5:d={seconds}", *sound, "-c:v", "mpeg4", *audio, "-shortest",
             str(root / name)],
            check=True, timeout=60,
        )  # fmt: skip
    return root


@pytest.fixture
def media(clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clips copied into ``media/`` below a fresh cwd."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(clips, tmp_path / "media")
    return tmp_path / "media"


def prices(**values: Any) -> None:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "mimo" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())
    path.write_text(f"[profiles.default]\n{body}\n", encoding="utf-8")


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def dry_estimates(mimo: Any, *args: str) -> dict[str, dict[str, Any]]:
    run = mimo("batch", "media", "--dry-run", "--json", *args)
    assert run.exit_code == 0, run.stderr
    return {e["input"]: e["estimate"] for e in records(run.stdout)}


# ---- --dry-run ------------------------------------------------------------------------------------------


def test_describe_dry_run_json_holds_the_estimate_of_the_documentation(
    mimo: Any, server: FakeServer, media: Path
) -> None:
    run = mimo("describe", "media/a.mp4", "--dry-run", "--json", "--fps", "1")
    assert run.exit_code == 0, run.stderr
    est = json.loads(run.stdout)["estimate"]
    assert server.received == []
    assert abs(est["duration_s"] - 6.0) < 0.05
    assert est["frames"] == math.ceil(est["duration_s"] * 1)
    assert est["video_tokens"] == video_tokens(est["duration_s"], 1, "default", 64, 48)
    assert est["audio_tokens"] == math.ceil(est["duration_s"] * 6.25)
    assert est["prompt_tokens"] == est["video_tokens"] + est["audio_tokens"] + est["text_tokens"]
    assert "cost" not in est  # no prices set
    silent = json.loads(mimo("describe", "media/d.mp4", "--dry-run", "--json").stdout)["estimate"]
    assert silent["audio_tokens"] == 0 and silent["frames"] == 4


def test_describe_dry_run_text_prints_the_estimate_on_stderr(
    mimo: Any, server: FakeServer, media: Path
) -> None:
    run = mimo("describe", "media/c.avi", "--dry-run", "--resolution", "max")
    est = json.loads(mimo("describe", "media/c.avi", "--dry-run", "--json", "--resolution", "max").stdout)[
        "estimate"
    ]
    assert run.exit_code == 0 and server.received == []
    json.loads(run.stdout.partition("\n\n")[2])  # stdout is still the request alone
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("estimate: 0:00:08, 16 frames ≈ ")
    assert f"≈ {est['video_tokens']:,} video tokens + {est['audio_tokens']:,} audio" in line
    assert line.endswith(f"= {est['prompt_tokens']:,} prompt tokens")
    assert "estimate" not in mimo("describe", "media/c.avi", "--dry-run", "-q").stderr


def test_a_url_has_no_duration_before_sending(mimo: Any, server: FakeServer) -> None:
    run = mimo("ask", "https://example.com/talk.mp4", "What is said?", "--dry-run", "--json")
    est = json.loads(run.stdout)["estimate"]
    assert run.exit_code == 0 and server.received == []
    assert est["text_tokens"] > 0
    assert [est[k] for k in ("duration_s", "frames", "video_tokens", "audio_tokens", "prompt_tokens")] == [
        None
    ] * 5
    text = mimo("ask", "https://example.com/talk.mp4", "What is said?", "--dry-run")
    assert "duration is not known before sending" in text.stderr


def test_without_ffprobe_the_header_gives_the_same_estimate(
    mimo: Any, server: FakeServer, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_ffprobe = dry_estimates(mimo)
    monkeypatch.setattr(tools, "locate", lambda: None)
    without = dry_estimates(mimo)
    assert set(with_ffprobe) == set(without) == {f"media/{n}" for n in CLIPS}
    for name, est in without.items():
        assert est["frames"] == with_ffprobe[name]["frames"]
        assert est["audio_tokens"] == with_ffprobe[name]["audio_tokens"]
        assert abs(est["duration_s"] - with_ffprobe[name]["duration_s"]) < 0.05


def test_batch_dry_run_lists_estimates_and_ends_with_the_totals(
    mimo: Any, server: FakeServer, media: Path
) -> None:
    estimates = dry_estimates(mimo)
    run = mimo("batch", "media", "https://example.com/x.mp4", "--dry-run")
    assert run.exit_code == 0 and server.received == []
    lines = run.stdout.splitlines()
    assert len(lines) == len(CLIPS) + 2
    assert "send  https://example.com/x.mp4  ≈ ? tokens (duration unknown)" in lines
    for line in lines[:-1]:
        name = line.split()[1]
        if name in estimates:
            assert line.startswith(f"send  {name}  ≈ {estimates[name]['prompt_tokens']:,} tokens (0:00:0")
    total = sum(e["prompt_tokens"] for e in estimates.values())
    assert lines[-1].startswith(f"total: 5 to send ≈ {total:,} prompt tokens (")
    assert "1 of unknown duration not counted" in lines[-1]
    as_json = mimo("batch", "media", "--dry-run", "--json")
    assert all("estimate" in e for e in records(as_json.stdout))  # stdout: one object per input
    assert f"total: 4 to send ≈ {total:,} prompt tokens" in as_json.stderr


# ---- prices -------------------------------------------------------------------------------------------


def test_prices_show_the_cost_in_usage_lines_estimates_and_the_batch_summary(
    mimo: Any, server: FakeServer, media: Path
) -> None:
    prices(price_input=2.5, price_output=10, currency="$")
    run = mimo("describe", "media/a.mp4")
    assert run.exit_code == 0, run.stderr
    usage_cost = (DEFAULT_USAGE["prompt_tokens"] * 2.5 + DEFAULT_USAGE["completion_tokens"] * 10) / 1e6
    usage = next(line for line in run.stderr.splitlines() if line.startswith("tokens: "))
    assert f" · {format_cost(usage_cost, '$')} · " in usage
    est = json.loads(mimo("describe", "media/a.mp4", "--dry-run", "--json").stdout)["estimate"]
    assert est["currency"] == "$" and est["cost"] == pytest.approx(est["prompt_tokens"] * 2.5 / 1e6, abs=1e-6)
    dry = mimo("describe", "media/a.mp4", "--dry-run")
    assert dry.stderr.strip().endswith(f"· ≈ {format_cost(est['cost'], '$')} input")
    batch = mimo("batch", "media", "-o", "out.jsonl")
    summary = batch.stderr.strip().splitlines()[-1]
    assert f" · {format_cost(usage_cost * len(CLIPS), '$')} · " in summary


def test_prices_are_checked_like_every_setting(mimo: Any, server: FakeServer, media: Path) -> None:
    prices(price_input=-1)
    run = mimo("describe", "media/a.mp4")
    assert run.exit_code == 2 and "price_input" in run.stderr and "at least 0" in run.stderr
    assert server.received == []
    prices(currency="")
    assert mimo("describe", "media/a.mp4").exit_code == 2
    prices()
    assert mimo("config", "set", "price_output", "twelve").exit_code == 2
    assert mimo("config", "set", "price_output", "12").exit_code == 0
    assert mimo("config", "set", "currency", "€").exit_code == 0
    est = json.loads(mimo("describe", "media/a.mp4", "--dry-run", "--json").stdout)["estimate"]
    assert est["currency"] == "€" and est["cost"] == 0  # no input price: an estimate's cost is its input's


# ---- records and --budget -------------------------------------------------------------------------------


def test_records_keep_the_estimate_beside_the_usage(mimo: Any, server: FakeServer, media: Path) -> None:
    dry = json.loads(mimo("describe", "media/b.mov", "--dry-run", "--json").stdout)["estimate"]
    record = json.loads(mimo("describe", "media/b.mov", "--json").stdout)
    assert record["usage"] == DEFAULT_USAGE and record["estimate"] == dry
    out = records(mimo("batch", "media", "--include", "*.mov").stdout)
    assert [r["estimate"] for r in out] == [dry]


def test_a_batch_stops_sending_before_it_passes_the_budget(
    mimo: Any, server: FakeServer, media: Path
) -> None:
    estimates = dry_estimates(mimo)
    used = DEFAULT_USAGE["total_tokens"]  # what the fake server reports for each request
    order = sorted(estimates)  # -j 1: sent in this order
    # room for the first two and the third's estimate after two usages; the fourth would pass it
    budget = 2 * used + estimates[order[2]]["prompt_tokens"]
    assert 3 * used + estimates[order[3]]["prompt_tokens"] > budget
    run = mimo("batch", "media", "-j", "1", "-o", "out.jsonl", "--budget", str(budget))
    assert run.exit_code == 1, run.stderr
    assert len(server.received) == 3
    out = {r["input"]: r for r in records(Path("out.jsonl").read_text())}
    over = out[order[3]]
    assert over["status"] == "error" and over["error"]["kind"] == "budget" and over["attempts"] == 0
    assert over["estimate"] == estimates[order[3]]
    assert (
        f"{estimates[order[3]]['prompt_tokens']:,} tokens would pass the budget" in over["error"]["message"]
    )
    assert "batch: 3 done, 0 failed, 0 skipped, 1 not sent (over the budget)" in run.stderr
    again = mimo("batch", "media", "-j", "1", "-o", "out.jsonl", "--resume", "--budget", str(10 * budget))
    assert again.exit_code == 0, again.stderr
    assert len(server.received) == 4  # only the one not sent
    assert "1 done, 0 failed, 3 skipped" in again.stderr


def test_requests_in_flight_count_with_their_estimates(mimo: Any, server: FakeServer, media: Path) -> None:
    estimates = dry_estimates(mimo)
    largest = max(e["prompt_tokens"] for e in estimates.values())
    # room for any one request, never two at once, and none after one has used 1,488 tokens
    run = mimo("batch", "media", "-j", "4", "--budget", str(largest))
    assert run.exit_code == 1
    assert len(server.received) == 1
    kinds = sorted((r["error"] or {}).get("kind", "ok") for r in records(run.stdout))
    assert kinds == ["budget", "budget", "budget", "ok"]
    assert "3 not sent (over the budget)" in run.stderr


def test_a_url_counts_as_the_most_a_video_can_cost(mimo: Any, server: FakeServer, media: Path) -> None:
    run = mimo("batch", "https://example.com/long.mp4", "media/d.mp4", "-j", "1", "--budget", "100000")
    out = {r["input"]: r for r in records(run.stdout)}
    assert out["https://example.com/long.mp4"]["error"]["kind"] == "budget"
    assert out["media/d.mp4"]["status"] == "ok"
    assert len(server.received) == 1 and server.received[0].videos()[0][0] == "video/mp4"
    assert mimo("batch", "media", "--budget", "0").exit_code == 2  # a usage error: nothing sent
    assert len(server.received) == 1
