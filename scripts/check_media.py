"""Run mimo's video type detection over a folder of sample videos and compare with its SOURCES.md.

    python scripts/check_media.py ../shared/media

SOURCES.md has a table whose columns include the file name and what libmagic says (`MIME`). For each
file this prints what libmagic says here, what mimo decides (the MIME type it sends, or why it refuses),
and flags a row where libmagic disagrees with SOURCES.md or where mimo's decision breaks SPEC.md's rule
(send MP4/M4V, MOV, AVI and ASF/WMV; refuse every other container and every non-video).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mimo_cli.errors import MimoError
from mimo_cli.inputs.resolve import resolve_input
from mimo_cli.inputs.sniff import ACCEPTED_MIME
from mimo_cli.settings import Settings


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/media")
    rows = re.findall(r"^\| `([^`]+)` \| [\d,]+ \| `([^`]+)` \|", (folder / "SOURCES.md").read_text(), re.M)
    if not rows:
        print(f"no table rows found in {folder / 'SOURCES.md'}")
        return 2
    import magic

    settings = Settings(max_inline_mb=1024)  # detection only: no size limit
    bad = 0
    for name, expected_magic in rows:
        path = folder / name
        said = magic.from_buffer(path.read_bytes()[:65536], mime=True)
        try:
            decision = resolve_input(str(path), settings).mime or ""
            sent = True
        except MimoError as e:
            decision, sent = "refused: " + e.message.split(", which")[0].replace(str(path), "").strip(), False
        should_send = expected_magic.lower() in ACCEPTED_MIME
        flag = ""
        if said != expected_magic:
            flag += "  <- libmagic differs from SOURCES.md"
        if sent != should_send:
            flag += "  <- decision breaks SPEC.md"
        bad += bool(flag)
        print(f"{name:40} {said:26} {decision}{flag}")
    print(f"\n{len(rows)} files, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
