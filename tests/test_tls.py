"""TLS: the client verifies certificates (loaded only when a TLS connection is made) and SSL_CERT_FILE works."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import KEY
from typer.testing import CliRunner

from mimo_cli.cli import app
from mimo_cli.transport import tls

trustme = pytest.importorskip("trustme")
CLIP = str(Path(__file__).parent / "fixtures" / "clip.mp4")
ANSWER = {"id": "x", "model": "m", "choices": [{"message": {"content": "over TLS"}, "finish_reason": "stop"}]}


class Answer(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps(ANSWER).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a certificate of a CA of the test's own; yields (URL, CA file)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    httpd = HTTPServer(("127.0.0.1", 0), Answer)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/v1", ca_file
    finally:
        httpd.shutdown()
        httpd.server_close()


def describe(url: str, env: dict[str, str] | None = None) -> Any:
    full = {"MIMO_BASE_URL": url, "MIMO_API_KEY": KEY, **(env or {})}
    return CliRunner().invoke(app, ["describe", CLIP, "--no-stream", "--retries", "0"], env=full)


def test_a_certificate_of_an_unknown_ca_is_refused_with_the_way_out(https: tuple[str, Path]) -> None:
    url, _ = https
    run = describe(url)
    assert run.exit_code == 1 and "TLS certificate" in run.stderr and "SSL_CERT_FILE" in run.stderr


def test_ssl_cert_file_names_the_ca_to_trust(https: tuple[str, Path]) -> None:
    url, ca_file = https
    run = describe(url, {"SSL_CERT_FILE": str(ca_file)})
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == "over TLS"


def test_the_certificates_are_loaded_at_the_first_handshake_only() -> None:
    ctx = tls.context()
    assert isinstance(ctx, tls.LazyContext) and not ctx._loaded
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 0  # nothing parsed yet: an http:// endpoint never pays
    ctx._load()
    assert ctx._loaded and ctx.cert_store_stats()["x509_ca"] > 50  # certifi's bundle
