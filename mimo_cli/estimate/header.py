"""Duration, sound and frame size read from a video's container header, without ffmpeg.

For the containers the API accepts: MP4/MOV (and 3GP, the same ISO box format), AVI and WMV/ASF.
Only the boxes needed are read (by seeking; a file is never read whole), so estimating a folder of
videos costs a few small reads per file. Anything that cannot be read gives ``None`` (the whole
header) or ``None`` fields; a damaged, truncated or hostile file never raises.
"""

from __future__ import annotations

import os
import struct
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Iterator

MAX_BOXES = 100_000  # boxes walked at one level at most (a fragmented file has two per fragment)
MAX_DEPTH_READ = 1 << 20  # bytes read at once at most (a trun, a sidx)

# What a damaged file can make the parsers below raise; anything else is a bug and is let through.
_BAD = (struct.error, ValueError, OverflowError, IndexError, KeyError, ZeroDivisionError)


@dataclass(frozen=True)
class Header:
    """What a container header says; ``None`` where it does not say."""

    container: str  # "mp4" (MP4, MOV, 3GP), "avi" or "asf" (WMV)
    duration_s: float | None
    has_audio: bool | None
    width: int | None = None
    height: int | None = None


def read_header(path: str | os.PathLike[str]) -> Header | None:
    """The header of the file at ``path``; ``None`` when it is not one of ours or cannot be read."""
    try:
        with open(path, "rb") as f:
            return parse(f, os.fstat(f.fileno()).st_size)
    except OSError:
        return None


def parse(f: BinaryIO, size: int) -> Header | None:
    """The header of an open, seekable binary file of ``size`` bytes."""
    try:
        f.seek(0)
        head = f.read(16)
        if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
            return _avi(_Reader(f, size))
        if head == _ASF_HEADER:
            return _asf(_Reader(f, size))
        return _mp4(_Reader(f, size))
    except (OSError, *_BAD):
        return None


class _Reader:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size

    def at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer at the end of the file)."""
        if offset < 0 or offset >= self.size:
            return b""
        self.f.seek(offset)
        return self.f.read(max(0, min(n, self.size - offset, MAX_DEPTH_READ)))


def _positive(value: float) -> float | None:
    return value if value > 0 and value == value and value != float("inf") else None


# ---- MP4 / MOV: ISO base media file format boxes ----------------------------------------------

_TOP = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp", b"sidx", b"moof", b"uuid"}


def _boxes(r: _Reader, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes between ``start`` and ``end``.

    A 32-bit size of 1 means a 64-bit size follows; 0 means "to the end". A box that claims to
    run past ``end`` (a truncated file) is cut at ``end`` and is the last one.
    """
    pos = start
    for _ in range(MAX_BOXES):
        head = r.at(pos, 16)
        if pos + 8 > end or len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head[:8])
        skip = 8
        if size == 1:
            if len(head) < 16:
                return
            size, skip = struct.unpack(">Q", head[8:16])[0], 16
        elif size == 0:
            size = end - pos
        if size < skip:
            return
        yield kind, pos + skip, min(pos + size, end)
        if pos + size >= end:
            return
        pos += size


def _child(r: _Reader, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, s, e in _boxes(r, start, end):
        if k == kind:
            return s, e
    return None


@dataclass
class _Track:
    track_id: int = 0
    handler: bytes = b""
    timescale: int = 0
    duration: int = 0
    width: int = 0
    height: int = 0


def _mp4(r: _Reader) -> Header | None:
    top = _boxes(r, 0, r.size)
    first = next(top, None)
    if first is None or first[0] not in _TOP:
        return None
    moov = first if first[0] == b"moov" else next((box for box in top if box[0] == b"moov"), None)
    if moov is None:
        return None
    timescale, duration, fragments = 0, 0, 0
    trex: dict[int, int] = {}
    tracks: list[_Track] = []
    for kind, start, end in _boxes(r, moov[1], moov[2]):
        if kind == b"mvhd":
            timescale, duration = _mvhd(r.at(start, 32))
        elif kind == b"trak":
            tracks.append(_trak(r, start, end))
        elif kind == b"mvex":
            fragments, trex = _mvex(r, start, end)
    seconds = _seconds(duration, timescale) or _seconds(fragments, timescale)
    if seconds is None:
        seconds = max((_seconds(t.duration, t.timescale) or 0.0 for t in tracks), default=0.0) or None
    if seconds is None:  # a fragmented file without mehd: where its last fragment ends
        last_moof = None
        for box in top:  # the top-level boxes after moov
            last_moof = box if box[0] == b"moof" else last_moof
        if last_moof is not None:
            seconds = _moof_end(
                r, last_moof[1], last_moof[2], {t.track_id: t.timescale for t in tracks}, trex
            )
    video = next((t for t in tracks if t.handler == b"vide" and t.width and t.height), None)
    return Header(
        "mp4",
        seconds,
        any(t.handler == b"soun" for t in tracks) if tracks else None,
        video.width if video else None,
        video.height if video else None,
    )


def _seconds(duration: int, timescale: int) -> float | None:
    # An all-ones duration means "unknown" in mvhd, tkhd and mdhd.
    if timescale <= 0 or duration <= 0 or duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    return _positive(duration / timescale)


def _versioned(data: bytes, pos: int) -> int:
    """A field that is 32 bits wide in a version-0 box and 64 bits wide in a version-1 box."""
    return int(struct.unpack_from(">Q" if data[:1] == b"\x01" else ">I", data, pos)[0])


def _mvhd(data: bytes) -> tuple[int, int]:
    """(timescale, duration) of an mvhd or mdhd box: the two share this layout."""
    if data[:1] == b"\x01":
        return struct.unpack(">IQ", data[20:32])
    return struct.unpack(">II", data[12:20])


def _trak(r: _Reader, start: int, end: int) -> _Track:
    track = _Track()
    for kind, s, e in _boxes(r, start, end):
        if kind == b"tkhd":
            data = r.at(s, 92)
            v1 = data[:1] == b"\x01"
            track.track_id = struct.unpack(">I", data[20:24] if v1 else data[12:16])[0]
            w, h = struct.unpack(">II", data[88:96] if v1 else data[76:84])
            track.width, track.height = w >> 16, h >> 16  # 16.16 fixed point
        elif kind == b"mdia":
            for k, s2, _e2 in _boxes(r, s, e):
                if k == b"mdhd":
                    track.timescale, track.duration = _mvhd(r.at(s2, 32))
                elif k == b"hdlr":
                    track.handler = r.at(s2 + 8, 4)  # after version/flags and pre_defined
    return track


def _mvex(r: _Reader, start: int, end: int) -> tuple[int, dict[int, int]]:
    """(mehd fragment duration, {track_id: trex default sample duration})."""
    fragments, trex = 0, dict[int, int]()
    for kind, s, _e in _boxes(r, start, end):
        if kind == b"mehd":
            fragments = _versioned(r.at(s, 12), 4)
        elif kind == b"trex":
            track_id, _desc, default_duration = struct.unpack(">III", r.at(s + 4, 12))
            trex[track_id] = default_duration
    return fragments, trex


def _moof_end(r: _Reader, start: int, end: int, scales: dict[int, int], trex: dict[int, int]) -> float | None:
    """When the last fragment ends (tfdt plus its samples' durations), the latest over its tracks."""
    latest = 0.0
    for kind, s, e in _boxes(r, start, end):
        if kind != b"traf":
            continue
        track_id, default, base, total = 0, 0, 0, 0
        for k, s2, e2 in _boxes(r, s, e):
            data = r.at(s2, e2 - s2)
            flags = int.from_bytes(data[1:4], "big")
            if k == b"tfhd":
                track_id = struct.unpack(">I", data[4:8])[0]
                default = trex.get(track_id, 0)
                pos = 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
                if flags & 0x08:
                    default = struct.unpack(">I", data[pos : pos + 4])[0]
            elif k == b"tfdt":
                base = _versioned(data, 4)
            elif k == b"trun":
                total += _trun_duration(data, flags, default)
        scale = scales.get(track_id, 0)
        if scale > 0:
            latest = max(latest, (base + total) / scale)
    return _positive(latest)


def _trun_duration(data: bytes, flags: int, default: int) -> int:
    count = int(struct.unpack(">I", data[4:8])[0])
    if not flags & 0x100:
        return count * default
    pos = 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
    step = 4 * bin(flags & 0xF00).count("1")  # duration, size, flags, composition offset
    count = min(count, (len(data) - pos) // step)
    return sum(int(struct.unpack_from(">I", data, pos + i * step)[0]) for i in range(count))


# ---- AVI: RIFF chunks --------------------------------------------------------------------------


def _chunks(r: _Reader, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(id, data start, data end) of RIFF chunks; a LIST's id is its list type (b"hdrl", b"strl")."""
    pos = start
    for _ in range(MAX_BOXES):
        head = r.at(pos, 12)
        if pos + 8 > end or len(head) < 8:
            return
        kind, size = struct.unpack("<4sI", head[:8])
        data_end = min(pos + 8 + size, end)
        if kind == b"LIST" and len(head) == 12:
            yield head[8:12], pos + 12, data_end
        else:
            yield kind, pos + 8, data_end
        pos += 8 + size + (size & 1)  # chunks are padded to an even size


def _avi(r: _Reader) -> Header | None:
    hdrl = next(((s, e) for k, s, e in _chunks(r, 12, r.size) if k == b"hdrl"), None)
    if hdrl is None:
        return None
    frames_s: float | None = None
    width = height = 0
    streams: list[tuple[bytes, float | None]] = []
    for kind, s, e in _chunks(r, *hdrl):
        if kind == b"avih":
            usec, _rate, _pad, _flags, total = struct.unpack("<5I", r.at(s, 20))
            width, height = struct.unpack("<II", r.at(s + 32, 8))
            frames_s = _positive(usec * total / 1e6)
        elif kind == b"strl":
            strh = next(((s2, e2) for k, s2, e2 in _chunks(r, s, e) if k == b"strh"), None)
            if strh is not None:
                data = r.at(strh[0], 36)
                scale, rate, _start, length = struct.unpack("<4I", data[20:36])
                streams.append((data[:4], _positive(length * scale / rate) if rate else None))
    video = [d for t, d in streams if t == b"vids" and d]
    return Header(
        "avi",
        video[0] if video else frames_s,
        any(t == b"auds" for t, _ in streams) if streams else None,
        width or None,
        height or None,
    )


# ---- WMV / ASF: GUID-named objects -------------------------------------------------------------


def _guid(text: str) -> bytes:
    return uuid.UUID(text).bytes_le  # ASF writes GUIDs in Microsoft's mixed-endian layout


_ASF_HEADER = _guid("75B22630-668E-11CF-A6D9-00AA0062CE6C")
_FILE_PROPERTIES = _guid("8CABDCA1-A947-11CF-8EE4-00C00C205365")
_STREAM_PROPERTIES = _guid("B7DC0791-A9B7-11CF-8EE6-00C00C205365")
_HEADER_EXTENSION = _guid("5FBF03B5-A92E-11CF-8EE3-00C00C205365")
_EXTENDED_STREAM = _guid("14E6A5CB-C672-4332-8399-A96952065B5A")
_AUDIO = _guid("F8699E40-5B4D-11CF-A8FD-00805F5C442B")
_VIDEO = _guid("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B")


def _objects(r: _Reader, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    pos = start
    for _ in range(MAX_BOXES):
        head = r.at(pos, 24)
        if pos + 24 > end or len(head) < 24:
            return
        size = struct.unpack("<Q", head[16:24])[0]
        if size < 24:
            return
        yield head[:16], pos + 24, min(pos + size, end)
        pos += size


def _asf(r: _Reader) -> Header | None:
    size = struct.unpack("<Q", r.at(16, 8))[0]
    end = min(size, r.size)
    duration: float | None = None
    kinds: list[bytes] = []
    width = height = 0
    objects = list(_objects(r, 30, end))  # after the header's object count and two reserved bytes
    for guid, s, e in list(objects):
        if guid == _HEADER_EXTENSION:
            objects += _embedded_streams(r, s + 22, e)  # after its reserved GUID, word and data size
    for guid, s, _e in objects:
        if guid == _FILE_PROPERTIES:
            data = r.at(s, 80)
            play, _send, preroll, flags = struct.unpack("<QQQI", data[40:68])
            if not flags & 0x01:  # a broadcast file: the durations are not filled in
                duration = _positive(play / 1e7 - preroll / 1000)
        elif guid == _STREAM_PROPERTIES:
            data = r.at(s, 62)
            kinds.append(data[:16])
            if data[:16] == _VIDEO and not width:
                width, height = struct.unpack("<II", data[54:62])
    return Header("asf", duration, _AUDIO in kinds if kinds else None, width or None, height or None)


def _embedded_streams(r: _Reader, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """Stream Properties Objects inside Extended Stream Properties Objects (in the header extension)."""
    found = []
    for guid, s, e in _objects(r, start, end):
        if guid != _EXTENDED_STREAM:
            continue
        names, systems = struct.unpack("<HH", r.at(s + 60, 4))
        pos = s + 64
        for _ in range(names):
            pos += 4 + struct.unpack("<H", r.at(pos + 2, 2))[0]
        for _ in range(systems):
            pos += 22 + struct.unpack("<I", r.at(pos + 18, 4))[0]
        found += [o for o in _objects(r, pos, e) if o[0] == _STREAM_PROPERTIES]
    return found
