"""The two opponents every learned drummer must beat in `livedrum eval`.

Both hear only the band (song.drums is ignored), are deterministic and place bars with
`grid.bar_positions`. A fixed rock beat wherever the band plays is a strong opponent (hit F1
about 0.49 on unseen songs), so a model is only worth shipping if it beats it.

Backbeat pattern, for any meter: the bar is cut into pulses (quarter notes; dotted quarters
in 6/8, 9/8, 12/8), kick on odd pulses (1, 3, ...), snare on even pulses (2, 4, ...), and a
bar with an odd pulse count ends on a snare instead of a kick: 4/4 K S K S, 3/4 K S S,
2/4 K S, 5/4 K S K S S, 6/8 K . . S . ., 12/8 like 4/4 in dotted quarters. Hi-hats on
every eighth note.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from livedrum.grid import TimeSignature, bar_positions
from livedrum.song import Notes, Song

KICK, SNARE, CLOSED_HAT = 36, 38, 42
KICK_VELOCITY, SNARE_VELOCITY = 100, 100
HAT_VELOCITY, HAT_ACCENT = 80, 96  # off-beat eighths, eighths on the beat
BASS_PITCH = 48  # band notes below C3 count as bass for the kick
MERGE_BEATS = 1.0 / 24  # band onsets closer than this are one onset
HIT_BEATS = 0.1  # drum note length, as midifile gives real drum hits
DRUM_CHANNEL = 9

Drummer = Callable[[Song], Notes]


def band_beats(song: Song) -> np.ndarray:
    """(n_beats,) bool: beat b is played when a band note sounds or starts in [b, b+1)."""
    band = song.band
    last = max(song.length_beats, float(band.end.max()) if len(band) else 0.0)
    n_beats = int(np.ceil(last))
    delta = np.zeros(n_beats + 1, dtype=np.int64)
    first = np.clip(np.floor(band.start).astype(np.int64), 0, n_beats)
    stop = np.clip(np.ceil(np.maximum(band.end, band.start + 1e-6)).astype(np.int64), 0, n_beats)
    np.add.at(delta, first, 1)
    np.add.at(delta, stop, -1)
    return np.cumsum(delta[:-1]) > 0


def _signature_at(beat: float, sigs: list[TimeSignature]) -> TimeSignature:
    current = TimeSignature(0.0)
    for sig in sigs:
        if sig.beat <= beat + 1e-6:
            current = sig
    return current


def _is_compound(sig: TimeSignature) -> bool:
    return sig.denominator == 8 and sig.numerator % 3 == 0 and sig.numerator >= 6


def backbeat_hits(song: Song, played: np.ndarray) -> tuple[list[float], list[float]]:
    """(kick onsets, snare onsets) of the backbeat pattern in the played beats."""
    sigs = sorted(song.time_signatures, key=lambda s: s.beat)
    _, beat_in_bar, bar_len = bar_positions(len(played), sigs)
    kicks: list[float] = []
    snares: list[float] = []
    for b in np.flatnonzero(played):
        pulse = 1.5 if _is_compound(_signature_at(float(b), sigs)) else 1.0
        bar_start = float(b - beat_in_bar[b])
        n_pulses = int(np.ceil(bar_len[b] / pulse - 1e-9))
        # pulses of this bar that start inside beat b
        for k in range(int(np.ceil((b - bar_start) / pulse - 1e-9)), n_pulses):
            t = bar_start + k * pulse
            if t >= b + 1:
                break
            last_of_odd_bar = n_pulses > 1 and n_pulses % 2 == 1 and k == n_pulses - 1
            (kicks if k % 2 == 0 and not last_of_odd_bar else snares).append(t)
    return kicks, snares


def _drum_notes(hits: list[tuple[float, int, int]]) -> Notes:
    """(onset, note, velocity) triples -> drum Notes on channel 10."""
    start = [h[0] for h in hits]
    return Notes.from_lists(
        start, [s + HIT_BEATS for s in start], [h[1] for h in hits], [h[2] for h in hits],
        [DRUM_CHANNEL] * len(hits), [0] * len(hits),
    )


def fixed_rock_beat(song: Song) -> Notes:
    """The backbeat pattern with eighth-note hi-hats, in every beat where the band plays."""
    played = band_beats(song)
    kicks, snares = backbeat_hits(song, played)
    hits = [(t, KICK, KICK_VELOCITY) for t in kicks] + [(t, SNARE, SNARE_VELOCITY) for t in snares]
    for b in np.flatnonzero(played):
        hits += [(float(b), CLOSED_HAT, HAT_ACCENT), (b + 0.5, CLOSED_HAT, HAT_VELOCITY)]
    return _drum_notes(hits)


def merged_onsets(start: np.ndarray, within: float = MERGE_BEATS) -> np.ndarray:
    """Sorted onsets with any onset closer than `within` to the last kept one dropped."""
    kept: list[float] = []
    for t in np.sort(start):
        if not kept or t - kept[-1] >= within:
            kept.append(float(t))
    return np.asarray(kept, dtype=np.float64)


def onset_mirror(song: Song) -> Notes:
    """Hi-hat on every band onset, kick on every bass onset, snare on the backbeat."""
    band = song.band
    hats = merged_onsets(band.start)
    bass = merged_onsets(band.start[band.pitch < BASS_PITCH])
    _, snares = backbeat_hits(song, band_beats(song))
    hits = [(float(t), CLOSED_HAT, HAT_VELOCITY) for t in hats]
    hits += [(float(t), KICK, KICK_VELOCITY) for t in bass]
    hits += [(t, SNARE, SNARE_VELOCITY) for t in snares]
    return _drum_notes(hits)


BASELINES: dict[str, Drummer] = {"fixed_rock_beat": fixed_rock_beat, "onset_mirror": onset_mirror}
