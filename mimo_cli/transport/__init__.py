"""Sending a request and reading its answer: client, retries, deadline, error classification, SSE."""

from __future__ import annotations
