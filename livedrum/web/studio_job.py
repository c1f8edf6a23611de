"""One studio job in a process of its own: a band file in, the accompaniment out, progress on stdout.

The same functions as `livedrum accompany` (load_song, make_drummer, write_accompaniment), run in a
separate process so that a long song never holds the daemon's interpreter lock while it plays.
Regenerating a range of bars plays the song up to the range's end with a new seed and keeps every
note outside the range exactly as it was (they are read back from the current result).

    python -m livedrum.web.studio_job SPEC.json      # prints "progress F" lines, then "done N"
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from livedrum.song import Notes


def drummer_args(options: dict[str, Any]) -> argparse.Namespace:
    """The options of `livedrum accompany` that the studio page sets (checked by `check_options`)."""
    return argparse.Namespace(
        model=options.get("model"), complexity=options.get("complexity"), seed=int(options.get("seed", 0)),
        kit_off=",".join(options.get("kit_off", [])), humanize=float(options.get("humanize", 1.0)),
        preset=options.get("preset") or None, device=options.get("device", "cpu"),
        swing=options.get("swing"), intensity=options.get("intensity"),
    )


def splice(old: Notes, new: Notes, lo: float, hi: float) -> Notes:
    """`old` outside beats [lo, hi), `new` inside: the bars around a regenerated range stay as they were."""
    keep = (old.start < lo) | (old.start >= hi)
    take = (new.start >= lo) & (new.start < hi)
    parts = [old.take(keep), new.take(take)]
    return Notes.from_lists(*(np.concatenate([getattr(p, f) for p in parts])
                              for f in ("start", "end", "pitch", "velocity", "channel", "program")))


def run_job(spec: dict[str, Any], progress: Callable[[float], None] = lambda f: None) -> int:
    """Generate (or regenerate a range), write the MIDI file; the number of drum notes written.
    An audio file also gets `OUTPUT.json`: its bar lines and onsets in beats, for the piano roll."""
    from livedrum.commands import make_drummer
    from livedrum.midifile import load_song, without_realtime
    from livedrum.midiwrite import write_accompaniment

    source, out = Path(spec["input"]), Path(spec["output"])
    drummer = make_drummer(drummer_args(spec["options"]))
    span = spec.get("range")  # [lo, hi) in beats, or None for the whole song
    until = None if span is None else int(np.ceil(span[1]))
    told = lambda done, total: progress(done / max(1, total))  # noqa: E731
    if is_audio(source):
        from livedrum.audio.accompany import audio_grid, write_audio_accompaniment

        grid = audio_grid(source)
        drums = drummer.play_grid(grid.grid, told, until)
    else:
        data = source.read_bytes()
        song = load_song(data, spec.get("name", "band.mid"))
        drums = drummer(song, progress=told, until_beat=until)
    if span is not None:
        old = load_song(Path(spec["base"]).read_bytes(), "current.mid").drums
        drums = splice(old, drums, float(span[0]), float(span[1]))
    if is_audio(source):
        write_audio_accompaniment(grid, drums, out)
        out.with_suffix(".json").write_text(json.dumps(audio_view(grid)))
    else:
        write_accompaniment(without_realtime(data), drums, out)
    return len(drums)


def is_audio(path: Path) -> bool:
    try:
        from livedrum.audio.accompany import is_audio_name
    except ImportError:
        return False
    return is_audio_name(path)


def audio_view(grid: Any) -> dict[str, Any]:
    """Bar lines and onsets of a recording in beats; an onset is drawn as a short note at the height of
    its loudest register."""
    times = np.asarray(grid.beat_times)
    beats = np.interp([o.time for o in grid.analyzer.onsets], times, np.arange(len(times)))
    from livedrum.grid import bar_positions

    bar, _, _ = bar_positions(grid.grid.n_beats, grid.time_signatures)
    lines = [float(b) for b in range(len(bar)) if b == 0 or bar[b] != bar[b - 1]]
    band = []
    for beat, o in zip(beats.tolist(), grid.analyzer.onsets):
        reg = np.asarray(o.registers)
        pitch = 36 + int(np.argmax(reg)) * 48 // max(1, len(reg) - 1) if reg.size else 60
        band.append((round(beat, 4), round(beat + 0.1, 4), pitch, int(np.clip(o.strength * 127, 1, 127))))
    return {"bars": lines, "beats": float(grid.grid.n_beats), "band": band}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    last = [-1.0]

    def progress(fraction: float) -> None:
        if fraction - last[0] >= 0.02 or fraction >= 1.0:
            last[0] = fraction
            print(f"progress {fraction:.3f}", flush=True)

    try:
        count = run_job(spec, progress)
    except (ValueError, OSError) as exc:
        from livedrum.cli import one_line

        print(f"error {one_line(exc)}", flush=True)
        return 1
    print(f"done {count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
