"""``mimo batch``: many videos, one request each, in parallel, resumable and shardable."""

from __future__ import annotations
