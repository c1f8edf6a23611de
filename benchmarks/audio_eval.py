"""Audio input against MIDI input (issue 5): validation songs rendered to audio without their drums.

For each song the shipped model drums along twice: given the band as MIDI (as `livedrum eval` does)
and given the rendered audio (beats tracked, audio features on that grid, as `livedrum accompany
IN.wav`). The audio run's drums are moved back onto the MIDI's beat timeline by time (audio beat
-> seconds -> MIDI beat), then both are scored against the real drummer with `livedrum eval`'s
metrics, beside the two baselines of `livedrum eval`. Diagnostic rows separate the beat grid from
the features: the audio features on the TRUE beat grid, and on the tracked grid with the true bar
phase (an oracle downbeat). Baselines can also be driven by the audio alone (`audio grid` rows).
`--thesis-wav PATH` adds the seed thesis' WAV network (`livedrum train --model thesis-wav`), which
hears the same rendered audio: one drum event per onset of livedrum's detector.

    nice python benchmarks/audio_eval.py --songs 24 [--json out.json] [--model PATH] [--thesis-wav PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from copy import copy
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from livedrum.audio.accompany import AudioGrid, audio_grid, grid_on, signatures
from livedrum.audio.features import BeatTimes
from livedrum.audio.rendered import pick_songs, render_band
from livedrum.audio.tempo import beat_f_measure
from livedrum.baselines import BASS_PITCH, fixed_rock_beat, onset_mirror
from livedrum.commands import load_thesis, make_drummer
from livedrum.evaluate import Report, SongRow, without_drums
from livedrum.grid import bar_positions
from livedrum.metrics import CLASS_NAMES, score_song
from livedrum.song import Notes, Song

REPO = Path(__file__).resolve().parent.parent
MIDI, AUDIO, AUDIO_SELECTOR = "livedrum MIDI", "livedrum audio", "audio, MIDI's selector"
TRUE_GRID, TRUE_BARS = "audio, true beats", "audio, true bar phase"
ROCK, MIRROR = "fixed rock beat", "onset mirror"
ROCK_AUDIO, MIRROR_AUDIO = "rock beat, audio grid", "onset mirror, audio"
THESIS_WAV = "thesis-wav net, audio"
DRUMMERS = (MIDI, AUDIO, AUDIO_SELECTOR, TRUE_GRID, TRUE_BARS, ROCK, MIRROR, ROCK_AUDIO, MIRROR_AUDIO)
GRID_OFF_F = 0.5  # a tracked grid with a beat F-measure below this is "off"


def beat_of(song: Song, seconds: np.ndarray) -> np.ndarray:
    """The song's beat position of times in seconds (the tempo map inverted)."""
    beats = np.arange(0.0, np.ceil(song.length_beats) + 64.0, 1.0 / 48)
    return np.interp(seconds, song.seconds_at(beats), beats, left=0.0)


def to_song_beats(notes: Notes, timeline: BeatTimes, song: Song) -> Notes:
    """Notes timed in the audio's beats -> the same moments in the MIDI song's beats."""
    if len(notes) == 0:
        return notes
    start = beat_of(song, timeline.time_of(notes.start))
    end = beat_of(song, timeline.time_of(notes.end))
    return replace(notes, start=start, end=np.maximum(end, start + 1e-3))


def true_beat_times(song: Song, n_beats: int) -> np.ndarray:
    return np.asarray(song.seconds_at(np.arange(n_beats + 1, dtype=np.float64)))


def oracle_pickup(grid: AudioGrid, song: Song) -> int:
    """The pickup (0..3) that puts the tracked beats' bar lines where the song's bar lines are."""
    beats = beat_of(song, grid.beat_times)
    n = int(np.ceil(song.length_beats)) + 1
    _, beat_in_bar, _ = bar_positions(n, song.time_signatures)
    near = np.clip(np.rint(beats).astype(int), 0, n - 1)
    close = np.abs(beats - np.rint(beats)) < 0.2
    votes = Counter((int(i) - int(beat_in_bar[near[i]])) % 4 for i in np.flatnonzero(close))
    return votes.most_common(1)[0][0] if votes else grid.pickup


def audio_song(grid: AudioGrid) -> Song:
    """The audio's onsets as a band on its tracked grid, for the baselines: bass register -> a bass note."""
    timeline = BeatTimes(grid.beat_times)
    onsets = grid.analyzer.onsets
    start = np.asarray(timeline.beat_at(np.asarray([o.time for o in onsets]))) if onsets else np.zeros(0)
    pitch = [BASS_PITCH - 12 if o.registers[0] > 0 else 64 for o in onsets]
    n = len(onsets)
    band = Notes.from_lists(start, start + 0.25, pitch, [100] * n, [0] * n, [0] * n)
    return Song("audio", band, Notes.empty(), time_signatures=grid.time_signatures,
                length_beats=float(len(grid.beat_times) - 1))


def grid_report(grid: AudioGrid, song: Song) -> dict:
    """How the tracked beats compare with the true ones (within the band's span)."""
    first = float(song.seconds_at(np.floor(song.band.start.min())))
    last = float(song.seconds_at(np.ceil(song.band.end.max())))
    n = int(np.ceil(song.length_beats))
    ref = true_beat_times(song, n)
    ref = ref[(ref >= first - 1e-6) & (ref <= last + 1e-6)]
    est = grid.beat_times[(grid.beat_times >= first - 0.2) & (grid.beat_times <= last + 0.2)]
    ratio = float(np.median(np.diff(est)) / np.median(np.diff(ref))) if len(est) > 2 and len(ref) > 2 else 0.0
    truth = oracle_pickup(grid, song)
    return {"beat_f": beat_f_measure(ref, est), "period_ratio": ratio,
            "pickup": grid.pickup, "true_pickup": truth, "bar_phase_ok": grid.pickup == truth}


def run_song(label: str, blob: bytes, song: Song, drummer, cache: Path,  # noqa: ANN001
             thesis_wav=None) -> tuple[dict[str, Notes], dict]:  # noqa: ANN001
    wav = render_band(blob, cache)
    bare = without_drums(song)
    grid = audio_grid(wav)
    timeline = BeatTimes(grid.beat_times)
    as_accompany = copy(drummer)  # as `accompany IN.wav` plays: the audio sampling (the audio selector, if any)
    as_accompany.sampling = drummer.sampling.for_audio()
    played = {MIDI: drummer(bare), AUDIO: to_song_beats(as_accompany.play_grid(grid.grid), timeline, song),
              AUDIO_SELECTOR: to_song_beats(drummer.play_grid(grid.grid), timeline, song),
              ROCK: fixed_rock_beat(bare), MIRROR: onset_mirror(bare)}
    n = int(np.ceil(song.length_beats))
    played[TRUE_GRID] = as_accompany.play_grid(grid_on(grid.analyzer, true_beat_times(song, n), song.time_signatures))
    info = grid_report(grid, song)
    if info["bar_phase_ok"]:
        played[TRUE_BARS] = played[AUDIO]
    else:
        fixed = grid_on(grid.analyzer, grid.beat_times, signatures(info["true_pickup"]))
        played[TRUE_BARS] = to_song_beats(as_accompany.play_grid(fixed), timeline, song)
    heard = audio_song(grid)
    played[ROCK_AUDIO] = to_song_beats(fixed_rock_beat(heard), timeline, song)
    played[MIRROR_AUDIO] = to_song_beats(onset_mirror(heard), timeline, song)
    if thesis_wav is not None:  # hits timed in seconds of the audio: the song's beats at those times
        hits = thesis_wav.play(wav, [o.time for o in grid.analyzer.onsets])
        played[THESIS_WAV] = replace(hits, start=beat_of(song, hits.start), end=beat_of(song, hits.end))
    return played, info


def fmt(value: float | None, width: int = 7) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"


def table(report: Report, grids: list[dict]) -> str:
    means = report.means()
    midi = means[MIDI].mean_f1
    width = max(len(n) for n in report.drummers)
    head = f"{'drummer':<{width}} songs {'F1':>7}" + "".join(f" {c:>7}" for c in CLASS_NAMES)
    head += f" {'overlap':>7} {'density':>7} {'/MIDI':>7}"
    lines = [f"{len(report.songs)} songs rendered to audio (drums removed); hit F1 at +-1/8 beat",
             head, "-" * len(head)]
    for name in report.drummers:
        m = means[name]
        ratio = None if m.mean_f1 is None or not midi else m.mean_f1 / midi
        lines.append(f"{name:<{width}} {m.songs:>5} {fmt(m.mean_f1)}" + "".join(f" {fmt(m.f1[c])}" for c in CLASS_NAMES)
                     + f" {fmt(m.overlap)} {fmt(m.density)} {fmt(ratio)}")
    f = np.asarray([g["beat_f"] for g in grids])
    r = np.asarray([g["period_ratio"] for g in grids])
    wrong = [x for x in r if abs(np.log2(max(x, 1e-9))) > 0.2]
    lines += [
        "",
        f"beat grids: mean beat F-measure {f.mean():.3f} (+-70 ms vs the MIDI's beats); "
        f"{int(np.sum(f < GRID_OFF_F))} of {len(grids)} off (F < {GRID_OFF_F}), "
        f"{len(wrong)} at another tempo octave (tracked/true period {', '.join(f'{x:.2f}' for x in wrong) or '-'}), "
        f"{sum(not g['bar_phase_ok'] for g in grids)} with the bar lines elsewhere than the song's",
    ]
    best = max(means[ROCK].mean_f1 or 0.0, means[MIRROR].mean_f1 or 0.0)
    audio = means[AUDIO].mean_f1 or 0.0
    above = "above" if audio > best else "NOT above"
    lines.append(f"criterion: audio F1 {audio:.3f} = {audio / midi if midi else 0:.2f}x MIDI {midi or 0:.3f} "
                 f"(wanted >= 0.9x); better baseline {best:.3f}: audio is {above} it")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--songs", type=int, default=24)
    ap.add_argument("--data", default=None, help="data root (default: $LIVEDRUM_DATA or ../shared/data)")
    ap.add_argument("--cache", default=None, help="rendered songs (cached; default cache/audio-SPLIT)")
    ap.add_argument("--split", default="validation", choices=("train", "validation", "test"),
                    help="songs of this split (tune on train, report on validation)")
    ap.add_argument("--model", default=None, help="model file (default: the shipped one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--thesis-wav", default=None, metavar="PATH", help="also the thesis' WAV network (a checkpoint)")
    ap.add_argument("--json", default=None, metavar="FILE", help="also write per-song rows and means as JSON")
    args = ap.parse_args()
    drummer = make_drummer(argparse.Namespace(
        model=args.model, complexity=None, seed=args.seed, kit_off="", humanize=0.5, preset=None, device="cpu",
        swing=None, intensity=None))
    thesis_wav = None if args.thesis_wav is None else load_thesis(args.thesis_wav, "cpu", 1.0, args.seed, wav=True)
    report = Report(drummers=list(DRUMMERS) + ([THESIS_WAV] if thesis_wav else []), baselines=[ROCK, MIRROR])
    grids: list[dict] = []
    t0 = time.perf_counter()
    songs = pick_songs(args.songs, args.data, args.split)
    if not songs:
        print(f"no {args.split} songs found", file=sys.stderr)
        return 1
    cache = Path(args.cache) if args.cache else REPO / "cache" / f"audio-{args.split}"
    for label, blob, song in songs:
        try:
            played, info = run_song(label, blob, song, drummer, cache, thesis_wav)
        except (ValueError, OSError) as exc:
            print(f"skipped {label}: {exc}", file=sys.stderr)
            continue
        report.songs.append(label)
        grids.append({"song": label, **info})
        for name, notes in played.items():
            report.rows.append(SongRow(label, name, score_song(song.drums, notes, song.time_signatures)))
        f1 = {r.drummer: r.scores.mean_f1 for r in report.rows if r.song == label}
        wav_f1 = f" thesis-wav {fmt(f1[THESIS_WAV], 5)}" if THESIS_WAV in f1 else ""
        print(f"{label[-48:]:48s} MIDI {fmt(f1[MIDI], 5)} audio {fmt(f1[AUDIO], 5)} true-grid {fmt(f1[TRUE_GRID], 5)} "
              f"rock {fmt(f1[ROCK], 5)}{wav_f1} | beat F {info['beat_f']:.2f} period x{info['period_ratio']:.2f} "
              f"bars {'ok' if info['bar_phase_ok'] else 'off'} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print()
    print(table(report, grids))
    if args.json:
        out = report.to_json()
        out["grids"] = grids
        out["means"] = {n: asdict(m) for n, m in report.means().items()}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
