"""How close generated drums come to the real drummer's, song by song.

Three views that fail in different ways: hit F1 (did the right piece land at the right time),
the within-bar onset histogram (is the groove placed like the real one, even when not in step
with it) and the density ratio (too busy or too sparse).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from livedrum.grid import STEPS_PER_BEAT, TimeSignature, bar_positions
from livedrum.song import Notes
from livedrum.vocab import DRUM_NOTES, EVAL_CLASSES, KIT_PIECES, voice_of

TOLERANCE_BEATS = 0.125  # +-1/8 beat: a 32nd note either side, the figure ARCHITECTURE.md quotes
MERGE_BEATS = 1.0 / (2 * STEPS_PER_BEAT)  # hits of one class closer than half a step count once
CLASS_NAMES: tuple[str, ...] = tuple(EVAL_CLASSES)


def _piece_table(groups: dict[str, tuple[int, ...]]) -> dict[int, str]:
    """MIDI note -> group name, after folding the note onto its vocabulary voice."""
    table: dict[int, str] = {}
    for note in range(128):
        voice = voice_of(note)
        if voice is None:
            continue
        for name, members in groups.items():
            if DRUM_NOTES[voice] in members:
                table[note] = name
    return table


_CLASS_OF_NOTE = _piece_table(EVAL_CLASSES)
_PIECE_OF_NOTE = _piece_table(KIT_PIECES)


def class_onsets(notes: Notes, name: str) -> np.ndarray:
    """Sorted onsets (beats) of one eval class, hits closer than MERGE_BEATS merged into one.

    Two notes of one class at once (a kick on 35 and 36, hi-hat 42 and 46, a flam) are one hit
    for the metric, as the model's grid cannot ask for more.
    """
    mask = np.fromiter((_CLASS_OF_NOTE.get(int(p)) == name for p in notes.pitch), bool, len(notes))
    onsets = np.sort(notes.start[mask])
    if len(onsets) < 2:
        return onsets
    keep = [0]
    for i in range(1, len(onsets)):
        if onsets[i] - onsets[keep[-1]] >= MERGE_BEATS:
            keep.append(i)
    return onsets[keep]


def count_matches(ref: np.ndarray, est: np.ndarray, tol: float) -> int:
    """Largest one-to-one matching of sorted onsets within +-tol, by one sort-merge pass.

    Matching the earliest compatible pair first is optimal on a line with a fixed tolerance
    (an exchange argument), so this equals the maximum matching mir_eval's bipartite search finds.
    """
    i = j = matched = 0
    tol = tol + 1e-9  # onsets read from ticks are not exact binary fractions
    while i < len(ref) and j < len(est):
        if abs(ref[i] - est[j]) <= tol:
            matched += 1
            i += 1
            j += 1
        elif ref[i] < est[j]:
            i += 1
        else:
            j += 1
    return matched


def hit_f1(ref: Notes, est: Notes, tol_beats: float = TOLERANCE_BEATS) -> dict[str, float | None]:
    """F1 per eval class (kick, snare, hihat) and their "mean".

    A class that neither side plays is None and left out of the mean; a class only one side
    plays scores 0.0. The mean is None when every class is None.
    """
    scores: dict[str, float | None] = {}
    for name in CLASS_NAMES:
        r, e = class_onsets(ref, name), class_onsets(est, name)
        if len(r) + len(e) == 0:
            scores[name] = None
        else:
            scores[name] = 2.0 * count_matches(r, e, tol_beats) / (len(r) + len(e))
    counted = [s for s in scores.values() if s is not None]
    scores["mean"] = float(np.mean(counted)) if counted else None
    return scores


def histogram_bins(time_signatures: list[TimeSignature] | tuple[TimeSignature, ...]) -> int:
    """Bins of the within-bar histogram: 12 per beat of the longest bar the signatures have.

    4/4 gives 48 bins, 3/4 36; in a song that mixes meters, shorter bars fill the first bins.
    The count depends on the signatures only, so two drummers on one song share their bins.
    """
    sigs = sorted(time_signatures, key=lambda s: s.beat)
    lengths = [max(1, round(s.bar_beats)) for s in sigs]
    if not sigs or sigs[0].beat > 0:
        lengths.append(4)  # bar_positions plays 4/4 before the first signature
    return STEPS_PER_BEAT * max(lengths)


def onset_histogram(
    notes: Notes,
    time_signatures: list[TimeSignature] | tuple[TimeSignature, ...],
    classes: Iterable[str] | None = None,
) -> np.ndarray:
    """Where in the bar drum hits start: a histogram over grid steps, normalised to sum 1.

    `classes` names kit pieces (kick, snare, hihat, toms, cymbals, percussion); None takes
    every vocabulary note. Each onset is rounded to the nearest step and placed with the bar
    positions of `grid.bar_positions`. No hits give all zeros.
    """
    wanted = set(KIT_PIECES) if classes is None else set(classes)
    unknown = wanted - set(KIT_PIECES)
    if unknown:
        raise ValueError(f"unknown kit piece(s) {sorted(unknown)} (known: {', '.join(KIT_PIECES)})")
    n_bins = histogram_bins(time_signatures)
    mask = np.fromiter((_PIECE_OF_NOTE.get(int(p)) in wanted for p in notes.pitch), bool, len(notes))
    step = np.rint(notes.start[mask] * STEPS_PER_BEAT).astype(np.int64)
    step = step[step >= 0]
    hist = np.zeros(n_bins, dtype=np.float64)
    if len(step) == 0:
        return hist
    beat, step_in_beat = np.divmod(step, STEPS_PER_BEAT)
    _, beat_in_bar, _ = bar_positions(int(beat.max()) + 1, list(time_signatures))
    position = np.minimum(beat_in_bar[beat] * STEPS_PER_BEAT + step_in_beat, n_bins - 1)
    np.add.at(hist, position, 1.0)
    return hist / hist.sum()


def histogram_overlap(
    ref: Notes, est: Notes, time_signatures: list[TimeSignature] | tuple[TimeSignature, ...]
) -> float:
    """Shared mass of the two within-bar histograms, sum(min(p, q)), in [0, 1].

    1.0 when both place their hits alike (or neither plays), 0.0 when one side is silent.
    """
    p = onset_histogram(ref, time_signatures)
    q = onset_histogram(est, time_signatures)
    if p.sum() == 0 and q.sum() == 0:
        return 1.0
    return float(np.minimum(p, q).sum())


def drum_note_count(notes: Notes) -> int:
    """Notes that have a place in the drum vocabulary (others are ignored by every metric)."""
    return sum(voice_of(int(p)) is not None for p in notes.pitch)


def density_ratio(ref: Notes, est: Notes) -> float:
    """Vocabulary drum notes generated over real ones, across the whole song.

    The whole song, not only where the real drummer plays: drums where the real drummer
    rests are extra notes too. ValueError when the reference has no drum notes.
    """
    n_ref = drum_note_count(ref)
    if n_ref == 0:
        raise ValueError("the reference has no drum notes: density ratio is undefined")
    return drum_note_count(est) / n_ref


@dataclass(frozen=True)
class SongScores:
    """All metrics of one drummer on one song."""

    f1: dict[str, float | None]  # per eval class (kick, snare, hihat); None if neither side plays it
    mean_f1: float | None  # mean over the classes that are not None
    overlap: float  # within-bar onset histogram overlap, 0..1
    density: float  # generated / real vocabulary drum notes
    ref_notes: int  # real vocabulary drum notes (for pooled density over many songs)
    est_notes: int  # generated vocabulary drum notes


def score_song(
    ref: Notes, est: Notes, time_signatures: list[TimeSignature] | tuple[TimeSignature, ...]
) -> SongScores:
    """Every metric for one song; ValueError when the reference has no drum notes."""
    f1 = hit_f1(ref, est)
    mean = f1.pop("mean")
    return SongScores(
        f1=f1, mean_f1=mean, overlap=histogram_overlap(ref, est, time_signatures),
        density=density_ratio(ref, est), ref_notes=drum_note_count(ref), est_notes=drum_note_count(est),
    )
