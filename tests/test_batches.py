"""Training batches: the band one bar back, songs laid on streams, chunks with carried state."""

from __future__ import annotations

import numpy as np
import pytest

from livedrum.batches import bar_lengths, lagged_band, make_batch, plan_streams, train_song
from livedrum.features import BAND_FEATURES, SongArrays, positions_for, song_arrays
from livedrum.grid import STEPS_PER_BEAT, TimeSignature
from livedrum.midifile import DRUM_CHANNEL, load_song
from livedrum.vocab import N_VOICES
from tests.midi_builders import TPB, build_track, midi_file, note, time_signature, to_bytes

S = STEPS_PER_BEAT


def arrays(n_beats: int, sigs: list[TimeSignature] | None = None, seed: int = 0) -> SongArrays:
    """Random band features and hits on a real position grid: every step distinguishable."""
    rng = np.random.default_rng(seed)
    T = n_beats * S
    position, bar, beat_in_bar = positions_for(n_beats, sigs or [TimeSignature(0.0)])
    hits = rng.random((T, N_VOICES)) < 0.2
    return SongArrays(
        band=rng.random((T, BAND_FEATURES)).astype(np.float32) + 0.01, position=position, hits=hits,
        velocity=np.where(hits, rng.random((T, N_VOICES)), 0).astype(np.float32),
        offset=np.where(hits, rng.uniform(-0.5, 0.5, (T, N_VOICES)), 0).astype(np.float32),
        bar=bar, beat_in_bar=beat_in_bar,
    )


def test_bar_lengths_follow_the_meter():
    a = arrays(14, [TimeSignature(0.0, 3, 4), TimeSignature(6.0, 4, 4)])
    assert bar_lengths(a).tolist() == [3] * 6 + [4] * 8


def test_lagged_band_is_the_band_one_bar_earlier_in_four_four():
    a = arrays(12)
    lag = lagged_band(a)
    assert lag.shape == a.band.shape and lag.dtype == a.band.dtype
    assert not lag[: 4 * S].any()  # nothing before the song
    np.testing.assert_array_equal(lag[4 * S :], a.band[: -4 * S])


def test_lagged_band_in_three_four():
    a = arrays(12, [TimeSignature(0.0, 3, 4)])
    lag = lagged_band(a)
    assert not lag[: 3 * S].any()
    np.testing.assert_array_equal(lag[3 * S :], a.band[: -3 * S])


def test_lagged_band_uses_the_length_of_each_steps_own_bar():
    a = arrays(14, [TimeSignature(0.0, 3, 4), TimeSignature(6.0, 4, 4)])
    lag = lagged_band(a)
    for t in range(len(a.band)):
        back = 3 * S if t < 6 * S else 4 * S
        expected = a.band[t - back] if t >= back else np.zeros(BAND_FEATURES)
        np.testing.assert_array_equal(lag[t], expected)


def test_lagged_band_in_the_last_unfinished_bar_is_still_one_bar_back():
    a = arrays(6)  # 4/4, the song stops after two beats of its second bar
    np.testing.assert_array_equal(lagged_band(a)[4 * S :], a.band[: 2 * S])


def test_train_song_from_a_real_midi_file_carries_its_lag():
    meta = build_track([time_signature(0, 3, 4)])
    band = build_track([e for b in range(9) for e in note(b * TPB, b * TPB + TPB // 2, 48 + b, 100)])
    drums = build_track(note(0, 10, 36, 100, channel=DRUM_CHANNEL))
    a = song_arrays(load_song(to_bytes(midi_file([meta, band, drums]))))
    song = train_song("x", "synthetic", a)
    assert song.song_id == "x" and song.collection == "synthetic" and song.n_beats == 9
    np.testing.assert_array_equal(song.lag[3 * S :, : a.band.shape[1]], a.band[: 6 * S])
    assert song.lag[3 * S, 1] == pytest.approx(100 / 127)  # C3 of beat 0, heard at beat 3


def songs_of(beats_and_collections: list[tuple[int, str]]):
    return [train_song(f"s{i}", coll, arrays(n, seed=i)) for i, (n, coll) in enumerate(beats_and_collections)]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_streams, chunk_beats", [(1, 8), (3, 8), (4, 5), (16, 8)])
def test_plan_covers_every_chunk_of_every_song_exactly_once(seed, n_streams, chunk_beats):
    songs = songs_of([(n, "a") for n in (8, 9, 1, 17, 40, 3, 16, 24)])
    streams = plan_streams(songs, n_streams, chunk_beats, np.random.default_rng(seed))
    assert len(streams) == n_streams
    flat = [x for s in streams for x in s]
    expected = [(i, c) for i, s in enumerate(songs) for c in range(-(-s.n_beats // chunk_beats))]
    assert sorted(flat) == expected  # each chunk once, none made up
    for stream in streams:  # a song lives on one stream, its chunks in order and back to back
        for k, (i, c) in enumerate(stream):
            if c > 0:
                assert stream[k - 1] == (i, c - 1)
    lengths = [len(s) for s in streams]
    assert max(lengths) - min(lengths) <= max(-(-s.n_beats // chunk_beats) for s in songs)


def test_plan_is_shuffled_by_the_rng_and_reproducible():
    songs = songs_of([(8, "a")] * 12)
    one = plan_streams(songs, 2, 8, np.random.default_rng(1))
    assert one == plan_streams(songs, 2, 8, np.random.default_rng(1))
    assert one != plan_streams(songs, 2, 8, np.random.default_rng(2))


@pytest.mark.parametrize("seed", range(6))
def test_hours_cap_limits_each_collection(seed):
    # beats_per_hour 100: song hours are n_beats / 100
    songs = songs_of([(40, "big")] * 6 + [(30, "small")] * 3 + [(20, "other")] * 4)
    cap = {"big": 1.0, "*": 0.5}
    streams = plan_streams(songs, 3, 10, np.random.default_rng(seed), hours_cap=cap, beats_per_hour=100)
    chosen = {i for s in streams for i, _ in s}
    hours: dict[str, float] = {}
    for i in chosen:
        hours[songs[i].collection] = hours.get(songs[i].collection, 0.0) + songs[i].n_beats / 100
    assert hours["big"] == pytest.approx(0.8)  # two of 0.4 fit under 1.0, a third does not
    assert hours["small"] == pytest.approx(0.3)  # the "*" cap: one of 0.3 fits under 0.5
    assert hours["other"] == pytest.approx(0.4)
    # chosen songs still get all their chunks
    assert sorted(x for s in streams for x in s) == sorted(
        (i, c) for i in chosen for c in range(-(-songs[i].n_beats // 10)))


def test_no_cap_takes_every_song():
    songs = songs_of([(40, "big")] * 5)
    streams = plan_streams(songs, 2, 10, np.random.default_rng(0), hours_cap={"other": 0.0})
    assert {i for s in streams for i, _ in s} == set(range(5))


def test_make_batch_copies_chunks_and_flags_resets():
    songs = songs_of([(10, "a"), (6, "a"), (4, "a")])
    chunk = 4
    L = chunk * S
    streams = [[(0, 0), (0, 1), (0, 2)], [(1, 0), (1, 1), (2, 0)], [(2, 0)]]
    first = make_batch(songs, streams, 0, chunk)
    assert first.band.shape == (3, L, BAND_FEATURES) and first.hits.shape == (3, L, N_VOICES)
    assert first.reset.tolist() == [True, True, True]
    second = make_batch(songs, streams, 1, chunk)
    assert second.reset.tolist() == [False, False, True]  # stream 2 is idle: reset, nothing valid
    assert not second.valid[2].any() and not second.band[2].any() and not second.prev_hits[2].any()
    third = make_batch(songs, streams, 2, chunk)
    assert third.reset.tolist() == [False, True, True]  # song 2 starts on stream 1
    # song 0, chunk 1 is beats 4..8 of it
    a0 = songs[0].arrays
    np.testing.assert_array_equal(second.band[0], a0.band[L : 2 * L])
    np.testing.assert_array_equal(second.position[0], a0.position[L : 2 * L])
    np.testing.assert_array_equal(second.lag[0], songs[0].lag[L : 2 * L])
    np.testing.assert_array_equal(second.hits[0], a0.hits[L : 2 * L])
    np.testing.assert_array_equal(second.velocity[0], a0.velocity[L : 2 * L])
    np.testing.assert_array_equal(second.offset[0], a0.offset[L : 2 * L])
    # the last chunk of song 0 is two beats long: the rest is padding, not valid
    assert third.valid[0].tolist() == [True] * 2 * S + [False] * 2 * S
    assert not third.band[0, 2 * S :].any() and not third.hits[0, 2 * S :].any()
    np.testing.assert_array_equal(third.hits[0, : 2 * S], a0.hits[2 * L :])


def test_prev_hits_are_the_hits_one_step_earlier_across_chunks():
    songs = songs_of([(12, "a")])
    streams = [[(0, 0), (0, 1), (0, 2)]]
    hits = songs[0].arrays.hits.astype(np.float32)
    L = 4 * S
    for j in range(3):
        batch = make_batch(songs, streams, j, 4)
        np.testing.assert_array_equal(batch.prev_hits[0, 1:], batch.hits[0, :-1])
        if j == 0:
            assert not batch.prev_hits[0, 0].any()  # nothing before the song
        else:
            # first step of a later chunk: the last step of the chunk before
            np.testing.assert_array_equal(batch.prev_hits[0, 0], hits[j * L - 1])
            assert hits[j * L - 1].any()
    whole = np.concatenate([make_batch(songs, streams, j, 4).prev_hits[0] for j in range(3)])
    np.testing.assert_array_equal(whole[1:], hits[:-1])


def test_prev_hits_do_not_leak_between_songs_on_one_stream():
    songs = songs_of([(4, "a"), (4, "a")])
    batch = make_batch(songs, [[(0, 0), (1, 0)]], 1, 4)
    assert batch.reset.tolist() == [True]
    assert not batch.prev_hits[0, 0].any()
