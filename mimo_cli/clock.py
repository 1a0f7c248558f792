"""Time as mimo's core sees it: a seam, so that tests run retries and rate limits without waiting.

Production code takes a :class:`Clock` (default: the real one) the way openai-python's client takes its
``http_client``; nothing replaces module attributes at run time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random  # the jitter of backoff
    time: Callable[[], float] = time.time  # wall-clock time (HTTP dates in Retry-After)


REAL = Clock()
