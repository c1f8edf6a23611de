"""The drum vocabulary: 22 General MIDI notes, grouped into kit pieces for toggles."""

from __future__ import annotations

import numpy as np

DRUM_NOTES: tuple[int, ...] = (
    35, 36, 37, 38, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 55, 56, 57, 59,
)
N_VOICES = len(DRUM_NOTES)
VOICE_OF_NOTE: dict[int, int] = {n: i for i, n in enumerate(DRUM_NOTES)}

KIT_PIECES: dict[str, tuple[int, ...]] = {
    "kick": (35, 36),
    "snare": (37, 38, 40),
    "hihat": (42, 44, 46),
    "toms": (41, 43, 45, 47, 48, 50),
    "cymbals": (49, 51, 52, 53, 55, 57, 59),
    "percussion": (56,),
}
PIECE_NAMES: tuple[str, ...] = tuple(KIT_PIECES)

# GM drum notes outside the vocabulary, folded onto the nearest voice in role.
_FOLD: dict[int, int] = {
    27: 51, 28: 38, 31: 37, 32: 37, 33: 37, 34: 51,  # high Q, slap, sticks, metronome, bell
    39: 38,  # hand clap plays the backbeat
    54: 56, 58: 56,  # tambourine, vibraslap
    **{n: 56 for n in range(60, 82)},  # latin and hand percussion
}

# Kick, snare and hi-hat: the three classes the hit-F1 metric is computed on.
EVAL_CLASSES: dict[str, tuple[int, ...]] = {
    "kick": KIT_PIECES["kick"],
    "snare": KIT_PIECES["snare"],
    "hihat": KIT_PIECES["hihat"],
}


def voice_of(note: int) -> int | None:
    """The vocabulary index of a GM drum note, or None when it has no place in the kit."""
    note = _FOLD.get(note, note)
    return VOICE_OF_NOTE.get(note)


def piece_voices(piece: str) -> list[int]:
    """Vocabulary indices of a kit piece; ValueError names the known pieces."""
    if piece not in KIT_PIECES:
        raise ValueError(f"unknown kit piece {piece!r} (known: {', '.join(PIECE_NAMES)})")
    return [VOICE_OF_NOTE[n] for n in KIT_PIECES[piece]]


def kit_mask(off: set[str] | frozenset[str] | tuple[str, ...] = ()) -> np.ndarray:
    """A boolean mask over voices, False for the voices of pieces switched off."""
    mask = np.ones(N_VOICES, dtype=bool)
    for piece in off:
        mask[piece_voices(piece)] = False
    return mask
