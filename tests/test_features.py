"""Per-step features: band onsets by register, sounding counts, chroma, position, drum targets."""

from __future__ import annotations

import numpy as np
import pytest

from livedrum.features import (
    BAND_FEATURES,
    N_REGISTERS,
    POSITION_FEATURES,
    band_features,
    drum_targets,
    position_features,
    positions_for,
    register_of,
    song_arrays,
)
from livedrum.grid import STEPS_PER_BEAT, TimeSignature, bar_positions
from livedrum.midifile import DRUM_CHANNEL, load_song
from livedrum.song import Notes
from livedrum.vocab import N_VOICES, voice_of
from tests.midi_builders import TPB, build_track, midi_file, note, tempo, time_signature, to_bytes

S = STEPS_PER_BEAT
ONSET = slice(0, N_REGISTERS)
SOUNDING = slice(N_REGISTERS, 2 * N_REGISTERS)
CHROMA = slice(2 * N_REGISTERS, 2 * N_REGISTERS + 12)
LOUD = BAND_FEATURES - 1
# position columns
BEAT0, LAST, PHRASE0, TRIPLE = S, S + 4, S + 5, S + 9


def notes(*rows: tuple[float, float, int, int]) -> Notes:
    """Notes from (start, end, pitch, velocity) rows, channel 0."""
    n = len(rows)
    return Notes.from_lists([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                            [r[3] for r in rows], [0] * n, [0] * n)


def hits(*rows: tuple[float, int, int]) -> Notes:
    """Drum hits from (start, GM note, velocity) rows."""
    n = len(rows)
    return Notes.from_lists([r[0] for r in rows], [r[0] + 0.1 for r in rows], [r[1] for r in rows],
                            [r[2] for r in rows], [DRUM_CHANNEL] * n, [0] * n)


def test_feature_sizes():
    assert N_REGISTERS == 4
    assert BAND_FEATURES == 21
    assert POSITION_FEATURES == 22


def test_registers_split_at_c3_c4_c5():
    assert register_of(np.array([0, 47, 48, 59, 60, 71, 72, 127])).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_onset_velocity_lands_in_its_register_and_step():
    band = notes((0.0, 0.5, 40, 127), (0.25, 0.5, 50, 64), (1.0, 2.0, 64, 100), (1.5, 2.0, 80, 32))
    out = band_features(band, 4 * S)
    assert out.shape == (48, BAND_FEATURES) and out.dtype == np.float32
    expected = np.zeros((48, N_REGISTERS), np.float32)
    expected[0, 0] = 1.0
    expected[3, 1] = 64 / 127  # beat 0.25 = step 3
    expected[12, 2] = 100 / 127
    expected[18, 3] = 32 / 127
    np.testing.assert_allclose(out[:, ONSET], expected, rtol=1e-6)


def test_onsets_round_to_the_nearest_step_and_keep_the_loudest():
    band = notes((1.0 + 0.4 / S, 2.0, 60, 50), (1.0 - 0.4 / S, 2.0, 62, 90), (2.0, 3.0, 64, 10))
    out = band_features(band, 3 * S)
    assert out[12, 2] == pytest.approx(90 / 127)  # both round to step 12; max, not sum
    assert out[11, 2] == 0 and out[13, 2] == 0
    assert out[24, 2] == pytest.approx(10 / 127)


def test_t0_moves_step_zero_and_out_of_window_onsets_are_dropped():
    band = notes((4.0, 4.5, 60, 127), (5.0, 5.5, 30, 127), (9.0, 9.5, 60, 127), (3.0, 3.5, 60, 127))
    out = band_features(band, 2 * S, t0=4.0)
    assert np.flatnonzero(out[:, ONSET].sum(axis=1)).tolist() == [0, 12]
    assert out[0, 2] == 1.0 and out[12, 0] == 1.0


def test_sounding_counts_cover_the_note_from_onset_to_release():
    band = notes((0.0, 1.0, 60, 100), (0.5, 2.0, 64, 100), (0.5, 0.75, 40, 100))
    out = band_features(band, 3 * S)
    mid = out[:, SOUNDING][:, 2] * 4  # register 2 holds 60 and 64; features count / 4
    assert mid[:6].tolist() == [1] * 6
    assert mid[6:12].tolist() == [2] * 6
    assert mid[12:24].tolist() == [1] * 12
    assert mid[24:].tolist() == [0] * 12
    low = out[:, SOUNDING][:, 0] * 4
    assert np.flatnonzero(low).tolist() == list(range(6, 9))  # beat 0.5 to 0.75
    assert low[6] == 1


def test_sounding_clips_at_four_and_short_notes_last_a_step():
    band = notes(*[(0.0, 1.0, 60 + i, 100) for i in range(6)], (2.0, 2.0, 40, 100))
    out = band_features(band, 3 * S)
    assert out[0, SOUNDING][2] == 1.0  # six notes, clipped at four
    assert out[:, SOUNDING][:, 0].tolist()[23:26] == [0.0, 0.25, 0.0]  # zero length: one step


def test_notes_begun_before_the_window_still_sound_in_it():
    band = notes((0.0, 6.0, 60, 100))
    out = band_features(band, 2 * S, t0=4.0)
    assert out[:, SOUNDING][:, 2].tolist() == [0.25] * S * 2
    assert out[:, ONSET].sum() == 0 and out[:, LOUD].sum() == 0


def test_chroma_is_velocity_per_pitch_class_normalised_per_step():
    band = notes((0.0, 1.0, 48, 64), (0.0, 1.0, 60, 64), (0.0, 1.0, 64, 64), (1.0, 2.0, 67, 30))
    out = band_features(band, 2 * S)
    chroma = out[:, CHROMA]
    # step 0: C twice (128/127), E once (64/127): C is the peak
    assert chroma[0, 0] == pytest.approx(1.0)
    assert chroma[0, 4] == pytest.approx(0.5)
    assert chroma[0].sum() == pytest.approx(1.5)
    assert chroma[12, 7] == pytest.approx(1.0) and chroma[12].sum() == pytest.approx(1.0)
    assert chroma[1:12].sum() == 0


def test_loudness_is_log_of_summed_onset_velocity():
    band = notes((0.0, 1.0, 60, 127), (1.0, 2.0, 60, 127), *[(1.0, 2.0, 40 + i, 127) for i in range(7)])
    out = band_features(band, 2 * S)
    assert out[0, LOUD] == pytest.approx(np.log(2) / np.log(9))
    assert out[12, LOUD] == pytest.approx(1.0)  # eight full-velocity onsets
    assert out[1:12, LOUD].sum() == 0


def test_empty_band_and_empty_window():
    assert not band_features(Notes.empty(), 24).any()
    assert band_features(notes((0.0, 1.0, 60, 100)), 0).shape == (0, BAND_FEATURES)


def test_position_one_hots_for_three_four_then_four_four():
    sigs = [TimeSignature(0.0, 3, 4), TimeSignature(6.0, 4, 4)]
    pos, bar, beat_in_bar = positions_for(22, sigs)
    assert pos.shape == (22 * S, POSITION_FEATURES) and pos.dtype == np.float32
    step = np.arange(22 * S)
    beat = step // S
    # step in beat
    assert (pos[:, :S].argmax(axis=1) == step % S).all() and (pos[:, :S].sum(axis=1) == 1).all()
    # beat in bar, bar in phrase: one-hot each
    assert (pos[:, BEAT0 : BEAT0 + 4].sum(axis=1) == 1).all()
    assert (pos[:, PHRASE0 : PHRASE0 + 4].sum(axis=1) == 1).all()
    expected_beat = [0, 1, 2, 0, 1, 2] + [0, 1, 2, 3] * 4
    assert pos[::S, BEAT0 : BEAT0 + 4].argmax(axis=1).tolist() == expected_beat
    expected_bar = [0] * 3 + [1] * 3 + [b for b in range(2, 6) for _ in range(4)]
    assert bar.tolist() == expected_bar and beat_in_bar.tolist() == expected_beat
    assert pos[::S, PHRASE0 : PHRASE0 + 4].argmax(axis=1).tolist() == [b % 4 for b in expected_bar]
    # last beat of each bar, and the 3-beat bar flag, hold for all 12 steps of the beat
    last = [0, 0, 1, 0, 0, 1] + [0, 0, 0, 1] * 4
    assert pos[:, LAST].tolist() == [float(last[b]) for b in beat]
    assert pos[:, TRIPLE].tolist() == [1.0 if b < 6 else 0.0 for b in beat]


def test_beats_past_the_fourth_share_the_fourth_column():
    bar, beat_in_bar, bar_len = bar_positions(7, [TimeSignature(0.0, 7, 4)])
    pos = position_features(beat_in_bar, bar_len, bar)
    assert pos[::S, BEAT0 : BEAT0 + 4].argmax(axis=1).tolist() == [0, 1, 2, 3, 3, 3, 3]
    assert pos[::S, LAST].tolist() == [0, 0, 0, 0, 0, 0, 1]
    assert not pos[:, TRIPLE].any()


def test_drum_hit_on_the_grid():
    h, v, o = drum_targets(hits((1.0, 36, 127), (0.25, 42, 64)), 2 * S)
    assert h.shape == v.shape == o.shape == (24, N_VOICES)
    assert h.dtype == bool and v.dtype == np.float32 and o.dtype == np.float32
    assert list(zip(*np.nonzero(h))) == [(3, voice_of(42)), (12, voice_of(36))]
    assert v[12, voice_of(36)] == pytest.approx(1.0) and v[3, voice_of(42)] == pytest.approx(64 / 127)
    assert not o.any()
    assert v[~h].sum() == 0


@pytest.mark.parametrize(
    "start, step, offset",
    [
        (1.0 + 1 / 48, 12, 0.25),  # a quarter step late
        (1.0 - 1 / 48, 12, -0.25),  # a quarter step early
        (1.0 + 1 / 24, 12, 0.5),  # half a step late: rint(12.5) = 12, offset +0.5
        (1.0 + 1 / 12 + 1 / 24, 14, -0.5),  # 13.5 steps: rint rounds half to even, 14, offset -0.5
        (1.0 + 0.3 / 12, 12, 0.3),
        (1.0 + 0.7 / 12, 13, -0.3),
    ],
)
def test_drum_offset_is_hit_time_minus_nearest_step(start, step, offset):
    h, _, o = drum_targets(hits((start, 38, 100)), 2 * S)
    snare = voice_of(38)
    assert np.flatnonzero(h[:, snare]).tolist() == [step]
    assert o[step, snare] == pytest.approx(offset, abs=1e-6)


def test_drum_offsets_stay_within_half_a_step():
    rng = np.random.default_rng(3)
    starts = np.sort(rng.uniform(0, 8, 300))
    h, _, o = drum_targets(hits(*[(t, 42, 90) for t in starts]), 9 * S)
    assert np.abs(o).max() <= 0.5
    assert (o[~h] == 0).all()


def test_same_step_and_voice_keeps_the_loudest_hit():
    # the loudest comes first in time, so neither "first wins" nor "last wins" would pass
    h, v, o = drum_targets(hits((2.0 - 0.2 / S, 36, 120), (2.0 + 0.3 / S, 36, 60), (2.0, 36, 80)), 3 * S)
    kick = voice_of(36)
    assert np.flatnonzero(h[:, kick]).tolist() == [24]
    assert v[24, kick] == pytest.approx(120 / 127)
    assert o[24, kick] == pytest.approx(-0.2, abs=1e-5)  # the offset of the hit that was kept
    h, v, o = drum_targets(hits((2.0 - 0.2 / S, 36, 60), (2.0, 36, 120), (2.0 + 0.3 / S, 36, 80)), 3 * S)
    assert v[24, kick] == pytest.approx(120 / 127) and o[24, kick] == 0


def test_non_vocabulary_notes_fold_onto_their_voice():
    h, v, _ = drum_targets(hits((0.0, 39, 100), (1.0, 54, 90), (2.0, 64, 80), (3.0, 26, 127)), 4 * S)
    assert np.flatnonzero(h[0]).tolist() == [voice_of(38)]  # hand clap -> snare 38
    assert np.flatnonzero(h[12]).tolist() == [voice_of(56)]  # tambourine -> percussion
    assert np.flatnonzero(h[24]).tolist() == [voice_of(56)]  # latin percussion -> percussion
    assert not h[36].any()  # no place in the kit
    assert h.sum() == 3


def test_clap_and_snare_together_give_one_snare_hit_at_the_louder_velocity():
    for snare, clap in ((70, 110), (110, 70)):
        h, v, _ = drum_targets(hits((1.0, 38, snare), (1.0, 39, clap)), 2 * S)
        assert h.sum() == 1 and v[12, voice_of(38)] == pytest.approx(110 / 127)


def test_hits_outside_the_window_are_dropped():
    h, _, _ = drum_targets(hits((-0.5, 36, 100), (2.0, 36, 100), (1.99, 38, 100)), 2 * S)
    assert h.sum() == 0  # 1.99 rounds to step 24, past the end


def test_song_arrays_from_a_real_midi_file():
    meta = build_track([tempo(0, 100), time_signature(0, 3, 4), time_signature(6 * TPB, 4, 4)])
    band = build_track([*note(0, 3 * TPB, 45, 100), *note(7 * TPB + TPB // 4, 8 * TPB, 76, 80, channel=1)])
    drums = build_track([*note(0, 20, 36, 127, channel=DRUM_CHANNEL),
                         *note(7 * TPB + 20, 7 * TPB + 40, 39, 90, channel=DRUM_CHANNEL)],
                        end_tick=int(9.5 * TPB))
    song = load_song(to_bytes(midi_file([meta, band, drums])))
    a = song_arrays(song)
    assert a.n_beats == 10  # 9.5 beats round up to whole beats
    assert a.band.shape == (120, BAND_FEATURES) and a.position.shape == (120, POSITION_FEATURES)
    assert a.bar.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert a.band[0, 0] == pytest.approx(100 / 127)  # A2 in register 0 at step 0
    assert a.band[:, SOUNDING][:, 0].tolist() == [0.25] * 36 + [0.0] * 84
    assert a.band[87, 3] == pytest.approx(80 / 127)  # beat 7.25 -> step 87, E5 in register 3
    assert np.flatnonzero(a.hits[:, voice_of(36)]).tolist() == [0]
    # 20 ticks after beat 7 = 0.5 step: step 84, offset +0.5; the clap plays the snare
    assert np.flatnonzero(a.hits[:, voice_of(38)]).tolist() == [84]
    assert a.offset[84, voice_of(38)] == pytest.approx(0.5)
    assert a.velocity[84, voice_of(38)] == pytest.approx(90 / 127)
