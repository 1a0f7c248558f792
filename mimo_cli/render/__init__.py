"""Everything mimo shows: answers on stdout, everything else on stderr."""

from __future__ import annotations
