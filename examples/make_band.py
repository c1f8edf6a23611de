"""Write examples/band.mid: a 32-bar pop-rock band part (bass, chords, lead), no drums, 112 BPM.

Our own composition, generated, GPL-3.0-or-later like the rest of livedrum.
    python examples/make_band.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import write_band_song  # noqa: E402

if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "band.mid"
    write_band_song(out, bars=32, bpm=112, drums=False, seed=11)
    print(f"wrote {out}")
