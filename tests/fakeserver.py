"""A fake OpenAI-compatible chat-completions server for the test-suite.

Standard library only: a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0) run in a daemon thread, speaking
real HTTP/1.1.  By default it answers ``POST /v1/chat/completions`` the way MiMo does (streamed or not,
with ``reasoning_content`` and a usage object); tests script anything else with :meth:`FakeServer.queue`
and the :class:`Reply` constructors (errors, malformed or cut SSE streams, stalls, dropped connections).

Usage::

    with FakeServer() as srv:
        srv.queue(error_json(429, "rate limited", "rate_limit_error"), Reply.json({...}))
        ...  # point the client at srv.url
        assert srv.received[0].videos() == [("video/mp4", b"...")]
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json as _json
import socket
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

__all__ = [
    "DEFAULT_ANSWER",
    "DEFAULT_MODELS",
    "DEFAULT_REASONING",
    "DEFAULT_USAGE",
    "FakeServer",
    "Received",
    "Reply",
    "error_json",
    "html_error",
]

DEFAULT_MODELS: list[str] = ["mimo-v2-omni", "mimo-v2.5-omni"]
DEFAULT_ANSWER = "A white kitten sits on a wooden floor."
DEFAULT_REASONING = "The user wants a description."
DEFAULT_USAGE: dict[str, Any] = {
    "completion_tokens": 210,
    "prompt_tokens": 1278,
    "total_tokens": 1488,
    "completion_tokens_details": {"reasoning_tokens": 101},
    "prompt_tokens_details": {"audio_tokens": 20, "cached_tokens": 47, "video_tokens": 1170},
}

_CLOUDFLARE_PHRASES = {
    520: "Web server is returning an unknown error",
    521: "Web server is down",
    522: "Connection timed out",
    523: "Origin is unreachable",
    524: "A timeout occurred",
    525: "SSL handshake failed",
    526: "Invalid SSL certificate",
    530: "Origin DNS error",
}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return _CLOUDFLARE_PHRASES.get(status, "Unknown Status")


def _decode_url(url: str) -> tuple[str, bytes | str]:
    """``data:MIME[;params][;base64],PAYLOAD`` -> (MIME, bytes); anything else -> ("url", url)."""
    if url[:5].lower() != "data:" or "," not in url:
        return ("url", url)
    header, payload = url[5:].split(",", 1)
    params = header.split(";")
    mime = params[0].strip() or "text/plain"
    if len(params) > 1 and params[-1].strip().lower() == "base64":
        return (mime, base64.b64decode(payload, validate=True))
    return (mime, unquote_to_bytes(payload))


@dataclass
class Received:
    """One request as the fake server saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return _json.loads(self.body)

    def videos(self) -> list[tuple[str, bytes | str]]:
        """For each video_url part of the last user message, in order: (mime, decoded bytes) for a
        data:MIME;base64,... URL, or ("url", the url string) otherwise."""
        data = self.json()
        messages = data.get("messages") if isinstance(data, dict) else None
        if not isinstance(messages, list):
            return []
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        if not users:
            return []
        content = users[-1].get("content")
        if not isinstance(content, list):
            return []
        out: list[tuple[str, bytes | str]] = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "video_url":
                continue
            ref = part.get("video_url")
            url = ref.get("url") if isinstance(ref, dict) else ref
            if isinstance(url, str):
                out.append(_decode_url(url))
        return out


@dataclass
class Reply:
    """One scripted response; build it with the class methods (or error_json / html_error)."""

    kind: str  # "body" | "sse" | "hang" | "drop"
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    events: list[Any] = field(default_factory=list)
    done: bool = True
    delay_between: float = 0.0
    comments: bool = False
    chunked: bool = False
    seconds: float = 0.0
    after_headers: bool = False

    @classmethod
    def json(
        cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None, delay: float = 0
    ) -> Reply:
        """A JSON body (with Content-Length), sent after ``delay`` seconds."""
        body = _json.dumps(obj).encode()
        return cls("body", status=status, body=body, headers=dict(headers or {}), delay=delay)

    @classmethod
    def text(
        cls,
        body: str | bytes,
        status: int,
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
        delay: float = 0,
    ) -> Reply:
        """An arbitrary body (with Content-Length) of the given content type."""
        raw = body.encode() if isinstance(body, str) else body
        return cls(
            "body",
            status=status,
            body=raw,
            content_type=content_type,
            headers=dict(headers or {}),
            delay=delay,
        )

    @classmethod
    def sse(
        cls,
        events: list[Any],
        *,
        done: bool = True,
        headers: dict[str, str] | None = None,
        delay_between: float = 0,
        status: int = 200,
        comments: bool = False,
        chunked: bool = False,
    ) -> Reply:
        """An SSE stream. ``events``: each a dict (sent as ``data: {json}\\n\\n``), or a str/bytes sent raw
        as-is (malformed lines, ``: keep-alive\\n\\n``, ``event: error\\n`` ...). ``done=True`` appends
        ``data: [DONE]\\n\\n``; ``done=False`` just closes the connection after the events (a cut stream).
        ``comments=True`` interleaves ``: keep-alive`` comment lines and blank lines.

        By default the body is delimited by ``Connection: close``. With ``chunked=True`` it uses
        ``Transfer-Encoding: chunked`` instead; then ``done=False`` also omits the terminating zero-size
        chunk, so the client sees an incomplete body (httpx: RemoteProtocolError)."""
        return cls(
            "sse",
            status=status,
            content_type="text/event-stream; charset=utf-8",
            headers=dict(headers or {}),
            events=list(events),
            done=done,
            delay_between=delay_between,
            comments=comments,
            chunked=chunked,
        )

    @classmethod
    def hang(
        cls, seconds: float, after_headers: bool = False, sse_events_first: list[Any] | None = None
    ) -> Reply:
        """Stall: either before sending anything (after_headers=False), or after sending 200 headers (and
        optionally some SSE events; giving ``sse_events_first`` implies after_headers) -- then sleep
        ``seconds`` (stopping early when the server shuts down) and close the connection."""
        events = list(sse_events_first) if sse_events_first is not None else None
        return cls(
            "hang",
            seconds=seconds,
            after_headers=after_headers or events is not None,
            events=events or [],
            content_type="text/event-stream; charset=utf-8" if events is not None else "",
        )

    @classmethod
    def drop(cls) -> Reply:
        """Close the connection without any response (the client sees an empty reply)."""
        return cls("drop")


def error_json(
    status: int,
    message: str,
    type_: str | None = None,
    code: str | int | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An OpenAI-style error: ``{"error": {"message", "type", "code", "param"}}``."""
    obj = {"error": {"message": message, "type": type_, "code": code, "param": param}}
    return Reply.json(obj, status=status, headers=headers)


_NGINX_PAGE = """<!DOCTYPE html>
<html>
<head>
<title>{status} {phrase}</title>
<style>
    html {{ color-scheme: light dark; }}
    body {{ width: 35em; margin: 0 auto; font-family: Tahoma, Verdana, Arial, sans-serif; }}
</style>
<script type="text/javascript">
    window.__gw = {{ status: {status}, retry: function () {{ location.reload(); }} }};
    if (window.console) {{ console.log("upstream error {status}"); }}
</script>
</head>
<body>
<center><h1>{status} {phrase}</h1></center>
<hr><center>nginx/1.24.0</center>
</body>
</html>
<!-- a padding to disable MSIE and Chrome friendly error page -->
<!-- a padding to disable MSIE and Chrome friendly error page -->
<!-- a padding to disable MSIE and Chrome friendly error page -->
"""

_CLOUDFLARE_PAGE = """<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->
<head>
<title>api.xiaomimimo.com | {status}: {phrase}</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta http-equiv="X-UA-Compatible" content="IE=Edge" />
<meta name="robots" content="noindex, nofollow" />
<meta name="viewport" content="width=device-width,initial-scale=1" />
<style>
#cf-wrapper a,#cf-wrapper abbr,#cf-wrapper article,#cf-wrapper aside{{margin:0;padding:0;border:0}}
#cf-wrapper .cf-error-code{{display:inline-block;font-weight:300;color:#404040}}
#cf-wrapper .cf-footer{{margin-top:2rem;border-top:1px solid #dedede;font-size:13px}}
</style>
<script>
(function(){{window._cf_chl_opt={{cvId:'3',cZone:'api.xiaomimimo.com',cType:'non-interactive',
cRay:'{ray}',cH:'x9Q2', cUPMDTk:"\\/?__cf_chl_tk=abc"}};var a=document.createElement('script');
a.src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray={ray}';
document.getElementsByTagName('head')[0].appendChild(a);}}());
</script>
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="cf-error-details-wrapper">
    <div class="cf-wrapper cf-header cf-error-overview">
      <h1>
        <span class="cf-error-type">Error</span>
        <span class="cf-error-code">{status}</span>
        <small class="heading-ray-id">Ray ID: {ray} &bull; 2025-01-01 00:00:00 UTC</small>
      </h1>
      <h2 class="cf-subheadline">{phrase}</h2>
    </div>
    <div class="cf-section cf-wrapper">
      <h2>What happened?</h2>
      <p>The web server reported a gateway error.</p>
    </div>
    <div class="cf-error-footer cf-wrapper">
      <p>
        <span class="cf-footer-item">Cloudflare Ray ID: <strong class="font-semibold">{ray}</strong></span>
        <span class="cf-footer-separator">&bull;</span>
        <span id="cf-footer-item-ip" class="cf-footer-item">Your IP:
          <button type="button" id="cf-footer-ip-reveal"
            class="cf-footer-ip-reveal-btn">Click to reveal</button>
        </span>
      </p>
      <script>(function(){{function d(){{var b=document.getElementById("cf-footer-item-ip"),
      c=document.getElementById("cf-footer-ip-reveal");b&&"classList"in b&&(b.classList.remove("hidden"),
      c.addEventListener("click",function(){{c.classList.add("hidden")}}))}}
      document.addEventListener&&document.addEventListener("DOMContentLoaded",d)}})();</script>
    </div>
  </div>
</div>
</body>
</html>
"""


def html_error(status: int, flavor: str = "auto", headers: dict[str, str] | None = None) -> Reply:
    """A realistic gateway HTML error page (with <script> and <style> blocks).

    ``flavor``: "nginx", "cloudflare", or "auto" (Cloudflare for 52x/530, nginx otherwise)."""
    if flavor == "auto":
        flavor = "cloudflare" if 520 <= status <= 530 else "nginx"
    phrase = _reason(status)
    if flavor == "cloudflare":
        ray = uuid.uuid4().hex[:16]
        page = _CLOUDFLARE_PAGE.format(status=status, phrase=phrase, ray=ray)
        hdrs = {"Server": "cloudflare", "CF-RAY": f"{ray}-AMS", "Cache-Control": "private, max-age=0"}
    else:
        page = _NGINX_PAGE.format(status=status, phrase=phrase)
        hdrs = {"Server": "nginx/1.24.0"}
    hdrs.update(headers or {})
    return Reply.text(page, status, content_type="text/html; charset=UTF-8", headers=hdrs)


def _split(text: str, parts: int) -> list[str]:
    """Split ``text`` into at most ``parts`` non-empty consecutive pieces."""
    if not text:
        return []
    parts = max(1, min(parts, len(text)))
    size = -(-len(text) // parts)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _encode_event(event: Any) -> bytes:
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode()
    return b"data: " + _json.dumps(event).encode() + b"\n\n"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False  # stop() must not wait for handler threads
    request_queue_size = 128

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() does a (possibly slow) getfqdn() lookup; skip it.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, sock: socket.socket) -> None:
        with self.conns_lock:
            self.conns.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self.conns_lock:
            self.conns.discard(sock)

    def close_connections(self) -> None:
        with self.conns_lock:
            conns = list(self.conns)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):
            self.fake._error(exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive connections
    server_version = "fake-mimo/1.0"
    sys_version = ""
    server: _HTTPServer

    _server_header: str | None = None
    _started = False

    # -- plumbing -------------------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.untrack(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # BrokenPipeError, ConnectionResetError, shutdown by stop(), ...
            self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return self._server_header or super().version_string()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    @property
    def fake(self) -> FakeServer:
        return self.server.fake

    def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on shutdown; True when the server is stopping."""
        if seconds <= 0:
            return self.fake._stopping.is_set()
        return self.fake._stopping.wait(seconds)

    # -- request --------------------------------------------------------------------------------------

    def _read_exact(self, n: int) -> bytes:
        chunks: list[bytes] = []
        remaining = n
        while remaining > 0:
            data = self.rfile.read(min(remaining, 1 << 20))
            if not data:
                raise ConnectionError("client disconnected mid-upload")
            chunks.append(data)
            remaining -= len(data)
        return b"".join(chunks)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionError("client disconnected mid-upload")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while True:  # trailers, up to the blank line
                    trailer = self.rfile.readline(65537)
                    if trailer in (b"\r\n", b"\n", b""):
                        break
                return b"".join(chunks)
            chunks.append(self._read_exact(size))
            self.rfile.readline(65537)  # CRLF after the chunk data

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        return self._read_exact(int(length)) if length else b""

    def _dispatch(self) -> None:
        self._started = False
        self._server_header = None
        split = urlsplit(self.path)
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        req = Received(
            method=self.command,
            path=split.path,
            query=split.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.fake._record(req)
        try:
            self._route(req)
        except OSError:
            self.close_connection = True
        except Exception as exc:  # a bug in the fake: report it to the client and in fake.errors
            self.fake._error(exc)
            if not self._started:
                with contextlib.suppress(OSError):
                    self._send(error_json(500, f"fake server error: {exc!r}", "server_error"), req)
            self.close_connection = True

    def _route(self, req: Received) -> None:
        fake = self.fake
        if req.path == "/v1/chat/completions" and req.method == "POST":
            self._send(fake._next_reply() or fake._default_reply(req), req)
        elif req.path == "/v1/models" and req.method == "GET":
            data = [{"id": m, "object": "model", "owned_by": "xiaomi"} for m in fake.models]
            self._send(Reply.json({"object": "list", "data": data}), req)
        elif req.path.startswith("/v1/models/") and req.method == "GET":
            model = req.path[len("/v1/models/") :]
            if model in fake.models:
                self._send(Reply.json({"id": model, "object": "model", "owned_by": "xiaomi"}), req)
            else:
                msg = f"The model `{model}` does not exist"
                self._send(error_json(404, msg, "invalid_request_error", "model_not_found", "model"), req)
        else:
            self._send(error_json(404, "not found", "invalid_request_error", "not_found"), req)

    # -- response -------------------------------------------------------------------------------------

    def _start(self, status: int, content_type: str, extra: dict[str, str], fixed: dict[str, str]) -> None:
        headers = {"x-request-id": "req_" + uuid.uuid4().hex}
        if content_type:
            headers["Content-Type"] = content_type
        lower = {k.lower() for k in extra}
        merged = {k: v for k, v in headers.items() if k.lower() not in lower}
        merged.update(extra)
        merged.update(fixed)
        self._server_header = next((v for k, v in merged.items() if k.lower() == "server"), None)
        self._started = True
        self.send_response(status, _reason(status))
        for key, value in merged.items():
            if key.lower() != "server":
                self.send_header(key, value)
        self.end_headers()

    def _send(self, reply: Reply, req: Received) -> None:
        if reply.delay and self._sleep(reply.delay):
            self.close_connection = True
            return
        if reply.kind == "drop":
            self.close_connection = True
        elif reply.kind == "body":
            self._start(
                reply.status, reply.content_type, reply.headers, {"Content-Length": str(len(reply.body))}
            )
            self.wfile.write(reply.body)
            self.wfile.flush()
        elif reply.kind == "sse":
            self._send_sse(reply)
        elif reply.kind == "hang":
            self._send_hang(reply, req)
        else:
            raise ValueError(f"unknown reply kind {reply.kind!r}")

    def _send_sse(self, reply: Reply) -> None:
        chunked = reply.chunked
        fixed = {"Transfer-Encoding": "chunked"} if chunked else {"Connection": "close"}
        extra = {"Cache-Control": "no-cache", **reply.headers}
        self._start(reply.status, reply.content_type, extra, fixed)
        self.close_connection = not chunked

        def emit(data: bytes) -> None:
            if not data:
                return
            if chunked:
                data = b"%x\r\n" % len(data) + data + b"\r\n"
            self.wfile.write(data)
            self.wfile.flush()

        for i, event in enumerate(reply.events):
            if i and reply.delay_between and self._sleep(reply.delay_between):
                self.close_connection = True
                return
            if reply.comments:
                emit(b": keep-alive\n\n")
            emit(_encode_event(event))
            if reply.comments and i % 2 == 0:
                emit(b"\n")
        if not reply.done:
            self.close_connection = True  # a cut stream (for chunked: no terminating chunk)
            return
        if reply.comments:
            emit(b": keep-alive\n\n")
        emit(b"data: [DONE]\n\n")
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _send_hang(self, reply: Reply, req: Received) -> None:
        self.close_connection = True
        if reply.after_headers:
            content_type = reply.content_type
            if not content_type:
                streamed = False
                with contextlib.suppress(ValueError, AttributeError):
                    streamed = bool(req.json().get("stream"))
                content_type = "text/event-stream; charset=utf-8" if streamed else "application/json"
            self._start(200, content_type, {"Cache-Control": "no-cache"}, {"Connection": "close"})
            for event in reply.events:
                self.wfile.write(_encode_event(event))
            self.wfile.flush()
        self._sleep(reply.seconds)


class FakeServer:
    """A fake OpenAI-compatible server on 127.0.0.1 (see the module docstring)."""

    def __init__(self) -> None:
        self.url = ""  # "http://127.0.0.1:PORT/v1", set by start()
        self.root_url = ""  # "http://127.0.0.1:PORT"
        self.port = 0
        self.received: list[Received] = []
        self.models: list[str] = list(DEFAULT_MODELS)
        self.answer: str = DEFAULT_ANSWER
        self.reasoning: str | None = DEFAULT_REASONING
        self.response_delay: float = 0.0
        self.usage: dict[str, Any] = copy.deepcopy(DEFAULT_USAGE)
        self.errors: list[BaseException] = []  # unexpected exceptions inside the fake itself
        self._lock = threading.Condition()
        self._replies: deque[Reply] = deque()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> FakeServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer(self)
        self.port = int(httpd.server_address[1])
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.url = self.root_url + "/v1"
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="fakeserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()  # wakes sleeping hang/delay replies
        httpd.shutdown()
        httpd.close_connections()  # unblocks handlers waiting on idle keep-alive connections
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=2)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ------------------------------------------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        """Replies for the next POST /v1/chat/completions requests, FIFO."""
        with self._lock:
            self._replies.extend(replies)

    def pending(self) -> int:
        """How many queued replies have not been used yet."""
        with self._lock:
            return len(self._replies)

    def wait_for_requests(self, n: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` requests were received (True) or ``timeout`` passed (False)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.received) >= n, timeout=timeout)

    # -- internals used by the handler --------------------------------------------------------------

    def _record(self, req: Received) -> None:
        with self._lock:
            self.received.append(req)
            self._lock.notify_all()

    def _error(self, exc: BaseException) -> None:
        with self._lock:
            self.errors.append(exc)

    def _next_reply(self) -> Reply | None:
        with self._lock:
            return self._replies.popleft() if self._replies else None

    def _default_reply(self, req: Received) -> Reply:
        try:
            data = req.json()
        except ValueError:
            return error_json(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        if not isinstance(data, dict):
            return error_json(400, "The request body must be a JSON object.", "invalid_request_error")
        model = data.get("model") if isinstance(data.get("model"), str) else DEFAULT_MODELS[0]
        rid = "chatcmpl-" + uuid.uuid4().hex
        created = int(time.time())
        usage = copy.deepcopy(self.usage)
        answer, reasoning = self.answer, self.reasoning
        if data.get("stream") is True:
            options = data.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True

            def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                obj: dict[str, Any] = {
                    "id": rid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                if include_usage:
                    obj["usage"] = None
                return obj

            events: list[Any] = []
            for piece in _split(reasoning or "", 3):
                events.append(chunk({"role": "assistant", "content": None, "reasoning_content": piece}))
            for piece in _split(answer, 5):
                events.append(chunk({"role": "assistant", "content": piece, "reasoning_content": None}))
            events.append(chunk({"role": "assistant", "content": ""}, "stop"))
            if include_usage:
                events.append(
                    {
                        "id": rid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            reply = Reply.sse(events)
        else:
            message = {
                "role": "assistant",
                "content": answer,
                "reasoning_content": reasoning,
                "tool_calls": None,
            }
            completion = {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                "usage": usage,
            }
            reply = Reply.json(completion)
        reply.delay = self.response_delay
        return reply
