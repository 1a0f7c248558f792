"""How much of a response mimo reads: generous caps, far above any real answer, so that a broken or hostile
server (a line that never ends, a gzip bomb, an endless list of models) ends in ``bad_response`` naming
the limit instead of filling the memory.

The sizes count decoded bytes (httpx undoes gzip, deflate and brotli before :func:`capped` sees them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mimo_cli.transport.classify import bad_response

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from mimo_cli.errors import MimoError

MIB = 1024 * 1024
#: One SSE line (a real one is a chunk of a few hundred bytes).
MAX_LINE = 8 * MIB
#: The data of one SSE event (lines with no blank line between them are one event).
MAX_EVENT = 8 * MIB
#: A whole JSON answer (a real one is a few KB, a very long one well under 1 MB).
MAX_BODY = 16 * MIB
#: A whole streamed answer, every event together (held in memory is only the text of the answer).
MAX_STREAM = 128 * MIB
#: The answer of GET /models (the longest lists, of hundreds of models, are a few MB).
MAX_MODELS = 16 * MIB


def size(limit: int) -> str:
    """``8 MiB``, ``1 KiB``, or ``1,000 bytes``."""
    for unit, n in (("MiB", MIB), ("KiB", 1024)):
        if limit >= n and limit % n == 0:
            return f"{limit // n} {unit}"
    return f"{limit:,} bytes"


def too_large(what: str, limit: int, status: int | None = 200) -> MimoError:
    """``bad_response``: ``{what} is over the 8 MiB limit``."""
    return bad_response(
        f"{what} is over the {size(limit)} limit (far above any real answer): mimo stopped reading it",
        status,
    )


def capped(chunks: Iterable[bytes], limit: int, what: str, status: int | None = 200) -> Iterator[bytes]:
    """The chunks as they come, until more than ``limit`` bytes came: then :func:`too_large`."""
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise too_large(what, limit, status)
        yield chunk


def read_capped(chunks: Iterable[bytes], limit: int, what: str, status: int | None = 200) -> bytes:
    """The whole body, at most ``limit`` bytes (one buffer, no list of chunks joined at the end)."""
    body = bytearray()
    for chunk in capped(chunks, limit, what, status):
        body += chunk
    return bytes(body)


#: The most bytes one decompression step may yield: what a chunk of a gzip bomb can grow to in memory.
DECODED_PIECE = 1024 * 1024


def decoded(response: Any, piece: int = DECODED_PIECE) -> Iterator[bytes]:
    """The body of ``response``, decoded, at most ``piece`` bytes at a time whatever its compression ratio.

    httpx decodes gzip and deflate a network chunk at a time: 64 KiB of a gzip bomb became 64 MiB in one
    piece before any cap could count it. Here the raw chunks are decompressed with a bound on each step
    (zlib's ``max_length``), so the caps of this module are what memory holds. Other encodings (br, zstd,
    several at once) are left to httpx.
    """
    import zlib

    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("gzip", "x-gzip", "deflate"):
        yield from response.iter_bytes()
        return
    # gzip or zlib headers, told apart by zlib itself; deflate without a header is tried when that fails
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)
    started = False
    for raw in response.iter_raw():
        data = raw
        while data:
            try:
                out = inflater.decompress(data, piece)
            except zlib.error as e:
                if started or encoding != "deflate":
                    raise _decoding_error(e) from None
                inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as httpx's decoder tries
                started = True
                continue
            started = True
            if out:
                yield out
            data = inflater.unconsumed_tail
    try:
        rest = inflater.flush()
    except zlib.error as e:
        raise _decoding_error(e) from None
    if rest:
        yield rest


def _decoding_error(e: Exception) -> Exception:
    import httpx

    return httpx.DecodingError(f"the compressed body is damaged: {e}")
