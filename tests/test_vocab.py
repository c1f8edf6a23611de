"""The drum vocabulary: voices, folding of other GM notes, kit pieces and masks."""

from __future__ import annotations

import numpy as np
import pytest

from livedrum.vocab import (
    DRUM_NOTES,
    EVAL_CLASSES,
    KIT_PIECES,
    N_VOICES,
    PIECE_NAMES,
    VOICE_OF_NOTE,
    kit_mask,
    piece_voices,
    voice_of,
)


def test_vocabulary_is_22_distinct_sorted_gm_notes():
    assert N_VOICES == 22
    assert list(DRUM_NOTES) == sorted(set(DRUM_NOTES))
    assert all(35 <= n <= 59 for n in DRUM_NOTES)
    assert {VOICE_OF_NOTE[n]: n for n in DRUM_NOTES} == dict(enumerate(DRUM_NOTES))


def test_every_vocabulary_note_is_its_own_voice():
    for i, n in enumerate(DRUM_NOTES):
        assert voice_of(n) == i


@pytest.mark.parametrize(
    "note, target",
    [(39, 38), (28, 38), (27, 51), (34, 51), (31, 37), (32, 37), (33, 37), (54, 56), (58, 56),
     (60, 56), (70, 56), (81, 56)],
)
def test_gm_notes_outside_the_vocabulary_fold_onto_a_voice(note, target):
    assert note not in VOICE_OF_NOTE
    assert voice_of(note) == VOICE_OF_NOTE[target]


def test_hand_clap_plays_the_snare_voice():
    assert voice_of(39) == voice_of(38) == DRUM_NOTES.index(38)


@pytest.mark.parametrize("note", [0, 26, 29, 30, 82, 100, 127])
def test_notes_without_a_place_in_the_kit_have_no_voice(note):
    assert voice_of(note) is None


def test_kit_pieces_partition_the_vocabulary():
    voices = [v for piece in PIECE_NAMES for v in piece_voices(piece)]
    assert sorted(voices) == list(range(N_VOICES))  # every voice in exactly one piece
    assert PIECE_NAMES == ("kick", "snare", "hihat", "toms", "cymbals", "percussion")
    assert [DRUM_NOTES[v] for v in piece_voices("kick")] == [35, 36]
    assert [DRUM_NOTES[v] for v in piece_voices("hihat")] == [42, 44, 46]


def test_eval_classes_are_kick_snare_hihat_pieces():
    assert EVAL_CLASSES == {k: KIT_PIECES[k] for k in ("kick", "snare", "hihat")}


def test_unknown_piece_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown kit piece 'cowbell' \(known: kick, snare, hihat, toms"):
        piece_voices("cowbell")
    with pytest.raises(ValueError, match="unknown kit piece 'Kick'"):
        kit_mask({"Kick"})


def test_kit_mask_switches_off_exactly_the_pieces_named():
    assert kit_mask().dtype == bool
    assert kit_mask().all() and kit_mask().shape == (N_VOICES,)
    mask = kit_mask({"kick", "cymbals"})
    off = set(piece_voices("kick")) | set(piece_voices("cymbals"))
    assert set(np.flatnonzero(~mask)) == off
    assert mask.sum() == N_VOICES - 9
    assert not kit_mask(tuple(PIECE_NAMES)).any()
