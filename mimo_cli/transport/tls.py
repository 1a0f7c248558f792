"""The TLS context of the client, with its certificates loaded only when a TLS connection is made.

httpx builds its TLS context, and parses the ~150 certificates of certifi's bundle, when a client is
created: 20 to 100 ms spent before the first byte even for an ``http://`` endpoint (a local vLLM, a
gateway on the same machine), which never uses it. :func:`context` gives httpx the same context with the
loading put off until the first TLS handshake, honouring ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` as httpx
does.
"""

from __future__ import annotations

import os
import ssl
import threading
from typing import Any


class LazyContext(ssl.SSLContext):
    """An ``ssl.SSLContext`` for verified client connections that loads its CA certificates on first use."""

    _lock = threading.Lock()
    _loaded = False

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            if os.environ.get("SSL_CERT_FILE"):
                self.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                self.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi

                self.load_verify_locations(cafile=certifi.where())
            self._loaded = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> Any:
        self._load()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> Any:
        self._load()
        return super().wrap_bio(*args, **kwargs)


def context() -> ssl.SSLContext:
    """What ``httpx.create_ssl_context()`` makes (verified, hostname checked), loaded on the first handshake."""
    ctx = LazyContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname, as create_default_context
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog:  # as create_default_context does
        ctx.keylog_filename = keylog
    return ctx
