"""The recorder: what the pipeline (and every helper that sends a request of its own) talks to.

One :class:`Recorder` per command, shared by its threads::

    recorder = Recorder.open(settings, warn)         # --no-log / --cache / MIMO_LOG / config decide
    key = recorder.key(settings, refs, text)         # refs: InputRef of each video, () for text only
    hit = recorder.lookup(key)                       # with --cache: the latest ok record, else None
    ...send, or replay the hit...
    recorder.write(key, record, kind="part", started_at=t, cached=hit is not None)

``write`` never raises and never fails a request; with the log off (``--no-log``, ``MIMO_LOG=0``,
``log = false``) it does nothing, and ``lookup`` still answers with ``--cache`` (reading the log is
not recording in it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mimo_cli.runlog.identity import InputRef, RequestKey
from mimo_cli.runlog.paths import log_path
from mimo_cli.runlog.store import RunLog, Warn

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from mimo_cli.settings import Settings


class Recorder:
    """The run log as the pipeline uses it; ``Recorder(None)`` is the no-op twin."""

    def __init__(self, runlog: RunLog | None, *, write: bool = True, cache: bool = False) -> None:
        self.runlog = runlog
        self.writing = write and runlog is not None
        self.cache = cache and runlog is not None

    @classmethod
    def open(cls, settings: Settings, warn: Warn | None = None, path: Path | None = None) -> Recorder:
        if not settings.log and not settings.cache:
            return cls(None)
        return cls(RunLog(path or log_path(), warn), write=settings.log, cache=settings.cache)

    @property
    def on(self) -> bool:
        """Whether requests need a key at all (their inputs are hashed only then)."""
        return self.writing or self.cache

    @staticmethod
    def key(settings: Settings, inputs: Sequence[InputRef], text: str, schema: Any = None) -> RequestKey:
        """The key of one request: its inputs' content and span, its text as sent, the options of SPEC."""
        return RequestKey(
            model=settings.model,
            base_url=settings.base_url,
            inputs=tuple(inputs),
            text=text,
            system=settings.system,
            fps=settings.fps,
            resolution=settings.resolution,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            thinking=settings.thinking,
            schema=schema,
        )

    def lookup(self, key: RequestKey | None) -> dict[str, Any] | None:
        """With --cache, the latest ok record of the same request (``id``, ``started_at`` … ``cached``)."""
        if not self.cache or key is None or self.runlog is None:
            return None
        return self.runlog.lookup(key)

    def write(
        self,
        key: RequestKey | None,
        record: Mapping[str, Any],
        *,
        kind: str,
        started_at: float | None = None,
        cached: bool = False,
        options: Mapping[str, Any] | None = None,
    ) -> int | None:
        """Record one request (its JSON record); the id, or None when the log is off or could not write."""
        if not self.writing or key is None or self.runlog is None:
            return None
        return self.runlog.record(
            key, record, kind=kind, started_at=started_at, cached=cached, options=options
        )

    def close(self) -> None:
        if self.runlog is not None:
            self.runlog.close()


NO_LOG = Recorder(None)
