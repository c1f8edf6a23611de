"""From decided windows to notes: the grid, swing and intensity."""

from __future__ import annotations

import numpy as np
import pytest

from livedrum.engine import DrumWindow
from livedrum.grid import STEPS_PER_BEAT
from livedrum.live.performer import Feel, scale_velocity, swing_beat, window_notes
from livedrum.vocab import N_VOICES, VOICE_OF_NOTE

S = STEPS_PER_BEAT


def _window(beat: int, steps: list[int], note: int = 42, offset: float = 0.0) -> DrumWindow:
    hits = np.zeros((S, N_VOICES), bool)
    hits[steps, VOICE_OF_NOTE[note]] = True
    vel = np.where(hits, 0.5, 0.0).astype(np.float32)
    off = np.where(hits, offset, 0.0).astype(np.float32)
    return DrumWindow(beat, hits, vel, off, np.zeros((S, N_VOICES), np.float32))


def test_straight_feel_puts_every_note_on_the_grid() -> None:
    notes = window_notes(_window(3, [0, 3, 6, 9]), Feel())
    assert [round(n.start * S, 9) for n in notes] == [36, 39, 42, 45]
    assert all(n.note == 42 and n.end > n.start for n in notes)


def test_full_swing_moves_the_offbeat_eighth_to_the_last_triplet() -> None:
    notes = window_notes(_window(0, [0, 6]), Feel(swing=1.0))
    assert [n.start * S for n in notes] == pytest.approx([0.0, 8.0])


def test_swing_keeps_beats_in_place_and_order() -> None:
    pos = np.linspace(0, 4, 97)
    warped = swing_beat(pos, 0.6)
    assert np.all(np.diff(warped) > 0)
    assert warped[::24] == pytest.approx(pos[::24])


def test_intensity_scales_velocity_within_midi_range() -> None:
    v = np.array([1.0, 64.0, 127.0])
    assert list(scale_velocity(v, 0.5)) == [1, 64, 127]
    assert scale_velocity(v, 0.0).max() < 64 and scale_velocity(v, 1.0).max() == 127
    assert scale_velocity(v, 0.0).min() >= 1


def test_feel_refuses_values_outside_0_to_1() -> None:
    with pytest.raises(ValueError, match="swing"):
        Feel(swing=1.5)
