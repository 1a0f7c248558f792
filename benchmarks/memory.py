"""Peak memory of one `mimo describe`, against the seed documents' way of building the same request.

Runs each client as a child process against the fake server (on 127.0.0.1) and reads the child's peak
RSS from wait4(). Baselines, run in the same process:
  seed-httpx  the seed documents' example: read the file, base64 it, put it in a dict, post it as JSON
  seed-requests / seed-openai  the same with `requests` / the OpenAI SDK, if they are installed

    python benchmarks/memory.py            # 1 MB and 7.4 MB MP4s
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import FakeServer  # noqa: E402

SEED_HTTPX = """
import base64, sys, httpx
path, url = sys.argv[1], sys.argv[2]
data = base64.b64encode(open(path, "rb").read()).decode()
payload = {"model": "mimo-v2-omni", "messages": [
    {"role": "system", "content": "You are MiMo, an AI assistant developed by Xiaomi."},
    {"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{data}"}, "fps": 2,
         "media_resolution": "default"},
        {"type": "text", "text": "Describe this video in detail."}]}],
    "max_completion_tokens": 1024}
r = httpx.post(url + "/chat/completions", json=payload, headers={"Authorization": "Bearer sk-bench"}, timeout=120)
r.raise_for_status()
print(r.json()["choices"][0]["message"]["content"])
"""

SEED_REQUESTS = SEED_HTTPX.replace("import base64, sys, httpx", "import base64, sys, requests as httpx")

SEED_OPENAI = """
import base64, sys
from openai import OpenAI
path, url = sys.argv[1], sys.argv[2]
data = base64.b64encode(open(path, "rb").read()).decode()
client = OpenAI(api_key="sk-bench", base_url=url)
r = client.chat.completions.create(model="mimo-v2-omni", messages=[
    {"role": "system", "content": "You are MiMo, an AI assistant developed by Xiaomi."},
    {"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{data}"}, "fps": 2,
         "media_resolution": "default"},
        {"type": "text", "text": "Describe this video in detail."}]}], max_completion_tokens=1024)
print(r.choices[0].message.content)
"""


def make_mp4(path: Path, size: int) -> Path:
    """A real MP4 grown to `size` bytes with a trailing free box (still a valid MP4)."""
    data = (ROOT / "tests" / "fixtures" / "clip.mp4").read_bytes()
    pad = size - len(data)
    with open(path, "wb") as f:
        f.write(data + struct.pack(">I4s", pad, b"free"))
        f.write(os.urandom(pad - 8))
    return path


# The child reports its own peak (VmHWM) at exit. wait4()'s ru_maxrss would not do: on Linux it keeps the
# RSS the child had right after fork, i.e. this process's, which holds the fake server's received bodies.
WRAPPER = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def report():
    with open('/proc/self/status') as status, open(out, 'w') as f:
        f.write(next(line.split()[1] for line in status if line.startswith('VmHWM:')))
atexit.register(report)
target = sys.argv.pop(1)
if target == '-m':
    module = sys.argv.pop(1)
    sys.argv[0] = module
    runpy.run_module(module, run_name='__main__', alter_sys=True)
else:
    sys.argv[0] = '-c'
    exec(compile(target, '<seed>', 'exec'), {'__name__': '__main__'})
"""


def peak_rss_mb(argv: list[str], env: dict[str, str]) -> float:
    """Peak RSS in MiB of ``python ARGS`` (ARGS: ``-m module ...`` or ``-c code ...``)."""
    with tempfile.NamedTemporaryFile("r") as out:
        target = argv[1:]
        target = target[1:] if target[0] == "-c" else target
        proc = subprocess.run(
            [sys.executable, "-c", WRAPPER, out.name, *target], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"{argv[:4]} failed: {proc.stderr}")
        return int(out.read()) / 1024  # kB


def available(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def main() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_")}
    with FakeServer() as server, tempfile.TemporaryDirectory() as tmp:
        env.update(MIMO_BASE_URL=server.url, MIMO_API_KEY="sk-bench", NO_COLOR="1")
        files = {"1 MB": make_mp4(Path(tmp) / "small.mp4", 1_000_000),
                 "7.4 MB": make_mp4(Path(tmp) / "large.mp4", 7_400_000)}  # fmt: skip
        clients = {"mimo describe": lambda f: [sys.executable, "-m", "mimo_cli", "describe", str(f), "-q"],
                   "seed (httpx)": lambda f: [sys.executable, "-c", SEED_HTTPX, str(f), server.url]}  # fmt: skip
        if available("requests"):
            clients["seed (requests)"] = lambda f: [sys.executable, "-c", SEED_REQUESTS, str(f), server.url]
        if available("openai"):
            clients["seed (OpenAI SDK)"] = lambda f: [sys.executable, "-c", SEED_OPENAI, str(f), server.url]
        print(f"{'client':20} {'1 MB':>9} {'7.4 MB':>9} {'growth':>9} {'per MB':>9}")
        results = {}
        for name, argv in clients.items():
            rss = {label: min(peak_rss_mb(argv(f), env) for _ in range(3)) for label, f in files.items()}
            growth = rss["7.4 MB"] - rss["1 MB"]
            results[name] = rss
            print(f"{name:20} {rss['1 MB']:8.1f}M {rss['7.4 MB']:8.1f}M {growth:+8.1f}M {growth / 6.4:8.2f}M")
        mimo, seed = results["mimo describe"], results["seed (httpx)"]
        print(
            f"\nmimo's peak on the 7.4 MB file is {mimo['7.4 MB'] / seed['7.4 MB']:.2f}x the seed example's; "
            f"its growth from 1 MB to 7.4 MB is {mimo['7.4 MB'] - mimo['1 MB']:+.1f} MB "
            f"(target: at most +4 MB) against {seed['7.4 MB'] - seed['1 MB']:+.1f} MB."
        )


if __name__ == "__main__":
    main()
