"""mimo through a real LiteLLM proxy (issue 15, "A real gateway in the test suite").

LiteLLM is installed into a virtual environment of its own (cached under ~/.cache/mimo-tests, keyed by its
version, so only the first run pays for the install), started on loopback without a database, in front of
the test suite's fake server; the installed ``mimo`` command is run through it. Marker ``litellm``: left
out of a plain ``python -m pytest``; ``.ci/run`` runs ``python -m pytest -m litellm``. Where the package
index cannot be reached the install fails and the tests are skipped, saying why.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FIXTURES
from fakeserver import DEFAULT_ANSWER, DEFAULT_REASONING, FakeServer, Reply, error_json

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.litellm

VERSION = "1.108.7"
CACHE = Path(os.environ.get("MIMO_TEST_CACHE") or Path.home() / ".cache" / "mimo-tests")
MASTER_KEY = "sk-gateway-master-0123456789"
UPSTREAM_KEY = "sk-upstream-9876543210"
MODEL = "mimo-v2-omni"
START_TIMEOUT = 300.0  # seconds: LiteLLM imports slowly on a busy machine (15 s of CPU)
RUN_TIMEOUT = 120.0
CLIP = FIXTURES / "clip.mp4"

#: LiteLLM without anything that reaches the network: the cost map from the package, no telemetry.
LITELLM_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOG": "ERROR",
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
}
CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: {upstream}
      api_key: {upstream_key}
litellm_settings:
  telemetry: false
  callbacks: []
  success_callback: []
  failure_callback: []
router_settings:
  num_retries: 0
  disable_cooldowns: true
general_settings:
  master_key: {master_key}
"""


def _install() -> Path:
    """The venv's ``litellm`` script; ``litellm[proxy]==VERSION`` is installed there the first time."""
    venv = CACHE / f"litellm-{VERSION}"
    script = venv / "bin" / "litellm"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"litellm-{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once: the second waits for the first's install
        if (venv / ".complete").exists() and script.exists():
            return script
        shutil.rmtree(venv, ignore_errors=True)  # a half-made one from an interrupted run
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        done = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={VERSION}"],
            capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location")]
            shutil.rmtree(venv, ignore_errors=True)
            pytest.skip(f"cannot install litellm[proxy]=={VERSION}: {' '.join(lines[-3:])[-300:]}")
        (venv / ".complete").write_text(VERSION + "\n")
    return script


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@dataclass
class Gateway:
    url: str  # the proxy's /v1
    upstream: FakeServer
    log: Path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    script = _install()
    folder = tmp_path_factory.mktemp("litellm")
    with FakeServer() as upstream:
        config = folder / "config.yaml"
        config.write_text(CONFIG.format(model=MODEL, upstream=upstream.url, upstream_key=UPSTREAM_KEY,
                                        master_key=MASTER_KEY))  # fmt: skip
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()} | LITELLM_ENV
        log = folder / "litellm.log"
        started = time.monotonic()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [str(script), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=folder,
            )  # fmt: skip
        try:
            root = f"http://127.0.0.1:{port}"
            while not _answers(root + "/health/liveliness"):
                if proc.poll() is not None:
                    pytest.fail(f"litellm exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
                if time.monotonic() - started > START_TIMEOUT:
                    pytest.fail(
                        f"litellm did not answer within {START_TIMEOUT:.0f} s:\n{log.read_text()[-2000:]}"
                    )
                time.sleep(0.5)
            print(f"\nlitellm {VERSION} answered after {time.monotonic() - started:.1f} s", file=sys.stderr)
            yield Gateway(root + "/v1", upstream, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


@pytest.fixture
def upstream(gateway: Gateway) -> Iterator[FakeServer]:
    """The fake server behind the proxy, emptied for each test."""
    fake = gateway.upstream
    fake.received.clear()
    while fake._next_reply() is not None:
        pass
    yield fake


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def record(self) -> dict[str, Any]:
        return json.loads(self.stdout)


@pytest.fixture
def mimo(gateway: Gateway, tmp_path: Path) -> Any:
    """Run the installed ``mimo`` console script (the one next to this Python) through the proxy."""
    script = Path(sys.executable).parent / "mimo"
    if not script.exists():
        pytest.skip(f"no installed mimo next to {sys.executable}: pip install -e .")

    def run(*args: str, key: str = MASTER_KEY) -> Run:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_") and "proxy" not in k.lower()}
        env |= {"MIMO_BASE_URL": gateway.url, "MIMO_API_KEY": key, "MIMO_LOG": "0", "NO_COLOR": "1",
                "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}  # fmt: skip
        done = subprocess.run([str(script), *args], capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT)  # fmt: skip
        return Run(done.returncode, done.stdout, done.stderr)

    return run


def _video_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    user = [m for m in body["messages"] if m["role"] == "user"][-1]
    return [p for p in user["content"] if p["type"] == "video_url"]


# -- what arrives upstream, what comes back ------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_the_video_and_its_options_arrive_unchanged_and_the_details_come_back(
    mimo: Any, upstream: FakeServer, stream: str
) -> None:
    run = mimo("describe", str(CLIP), "--json", stream, "--fps", "1.5", "--resolution", "max")
    assert run.exit_code == 0, run.stderr
    assert len(upstream.received) == 1
    received = upstream.received[0]
    assert received.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"  # the gateway's key, not mimo's
    assert received.videos() == [("video/mp4", CLIP.read_bytes())]  # byte for byte
    (part,) = _video_parts(received.json())
    assert part["fps"] == 1.5 and part["media_resolution"] == "max"
    record = run.record()
    assert record["answer"] == DEFAULT_ANSWER and record["reasoning"] == DEFAULT_REASONING
    usage = record["usage"]
    assert (
        usage["prompt_tokens_details"]["video_tokens"]
        == upstream.usage["prompt_tokens_details"]["video_tokens"]
    )
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 101
    assert record["request_id"]


def test_a_whole_fps_arrives_as_an_integer(mimo: Any, upstream: FakeServer) -> None:
    run = mimo("describe", str(CLIP), "--fps", "2", "-q")
    assert run.exit_code == 0, run.stderr
    (part,) = _video_parts(upstream.received[0].json())
    assert part["fps"] == 2 and part["media_resolution"] == "default"
    assert type(part["fps"]) is int


# -- failures ------------------------------------------------------------------------------------------------


def test_a_wrong_key_is_auth(mimo: Any, upstream: FakeServer) -> None:
    """Without a database LiteLLM answers any key but its master key with 400 "No connected db."."""
    run = mimo("describe", str(CLIP), "--json", key="sk-wrong-key-000000")
    assert run.exit_code == 3, run.stderr
    record = run.record()
    assert record["error"]["kind"] == "auth" and record["attempts"] == 1
    assert upstream.received == [] and "sk-wrong-key-000000" not in run.stdout + run.stderr


def test_a_quota_403_is_quota(mimo: Any, upstream: FakeServer) -> None:
    upstream.queue(Reply.json({"error": {"message": "用户额度不足, 剩余额度: $-1.74", "type": "new_api_error",
                                         "code": "insufficient_user_quota"}}, 403))  # fmt: skip
    run = mimo("describe", str(CLIP), "--json")
    assert run.exit_code == 3, run.stderr
    record = run.record()
    assert record["error"]["kind"] == "quota" and record["attempts"] == 1
    assert "额度不足" in record["error"]["message"]


def test_a_429_is_rate_limit(mimo: Any, upstream: FakeServer) -> None:
    upstream.queue(error_json(429, "Rate limit reached for requests", "rate_limit_error"))
    run = mimo("describe", str(CLIP), "--json", "--retries", "0")
    assert run.exit_code == 1, run.stderr
    record = run.record()
    assert record["error"]["kind"] == "rate_limit" and record["error"]["http_status"] == 429
    assert len(upstream.received) == 1


def test_a_stream_cut_before_the_answer_is_a_bad_response(mimo: Any, upstream: FakeServer) -> None:
    """LiteLLM ends a cut upstream stream as if it were whole: what comes back is an empty answer."""
    upstream.queue(Reply.sse([], done=False), Reply.sse([], done=False))
    run = mimo("describe", str(CLIP), "--json", "--retries", "1")
    assert run.exit_code == 1, run.stderr
    record = run.record()
    assert record["error"]["kind"] == "bad_response" and record["attempts"] == 2
    assert len(upstream.received) == 2


def test_a_stream_cut_mid_answer_warns_of_the_impossible_usage(mimo: Any, upstream: FakeServer) -> None:
    """LiteLLM makes the rest up: a finish_reason, [DONE], and a usage of 0 prompt tokens for a video."""
    first = {"id": "chatcmpl-cut", "object": "chat.completion.chunk", "model": MODEL,
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "The video"},
                          "finish_reason": None}]}  # fmt: skip
    upstream.queue(Reply.sse([first], done=False))
    run = mimo("describe", str(CLIP), "--json", "--retries", "0")
    assert run.record()["answer"] == "The video"
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning: ")]
    assert any("0 prompt tokens" in line and "gateway" in line for line in warnings), run.stderr


def test_thinking_refused_by_the_gateway_says_so(mimo: Any, upstream: FakeServer) -> None:
    run = mimo("describe", str(CLIP), "--thinking")
    assert run.exit_code == 1 and upstream.received == []
    hint = next(line for line in run.stderr.splitlines() if line.startswith("hint: "))
    assert "thinking" in hint


def test_extra_body_lets_thinking_through(mimo: Any, upstream: FakeServer) -> None:
    run = mimo("describe", str(CLIP), "--thinking", "--extra-body", '{"allowed_openai_params": ["thinking"]}')
    assert run.exit_code == 0, run.stderr
    assert upstream.received[0].json()["thinking"] == {"type": "enabled"}
