"""ffmpeg: find it, probe a video, plan an encode, convert or cut."""

from __future__ import annotations
