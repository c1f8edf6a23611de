"""Beat tracking: on rendered audio against the MIDI's true beats, and the follower's hold and re-lock."""

from __future__ import annotations

import numpy as np

from livedrum.audio.source import analyse_file
from livedrum.audio.tempo import BeatFollower, beat_f_measure, octave_candidates, track_activation, track_beats
from tests.audio.conftest import RenderedSong

HOP_S = 256 / 48000


def clicks(times: np.ndarray, duration: float) -> np.ndarray:
    """An onset envelope with a spike at each time (and a little noise)."""
    env = np.random.default_rng(0).uniform(0, 0.05, int(duration / HOP_S))
    idx = (np.asarray(times) / HOP_S).astype(int)
    env[idx[idx < len(env)]] = 1.0
    return env


def test_f_measure() -> None:
    ref = np.arange(10) * 0.5
    assert beat_f_measure(ref, ref + 0.05) == 1.0
    assert beat_f_measure(ref, ref + 0.25) == 0.0
    assert abs(beat_f_measure(ref, np.arange(20) * 0.25) - 2 / 3) < 1e-9  # double tempo: half precision


def test_whole_file_tracker_finds_the_true_beats(band_audio: RenderedSong) -> None:
    analyzer = analyse_file(band_audio.audio)
    beats = track_beats(np.asarray(analyzer.flux), analyzer.hop_s)
    assert beat_f_measure(band_audio.beat_times(), beats) > 0.9


def test_octave_candidates_stay_within_the_tempo_range() -> None:
    period = 60.0 / 60.0 / HOP_S  # 60 BPM: twice the period (30 BPM) is no candidate, half (120) is
    bpms = sorted(round(60.0 / (c * HOP_S)) for c in octave_candidates(period, HOP_S))
    assert bpms == [60, 90, 120]


def test_the_ranker_corrects_the_tempo_octave_of_a_busy_band() -> None:
    """Quarters, eighths and sixteenths at 120 BPM: the autocorrelation alone finds 69 BPM; the ranker
    (the shipped OCTAVE_WEIGHTS) takes the octave candidate that lands on the beats."""
    beats = np.arange(0.5, 30.0, 0.5)
    env = np.maximum.reduce([clicks(beats, 31.0), 0.8 * clicks(beats + 0.25, 31.0),
                             0.6 * clicks(beats + 0.125, 31.0), 0.6 * clicks(beats + 0.375, 31.0)])
    assert beat_f_measure(beats, track_beats(env, HOP_S, weights=None)) < 0.5
    ranked = track_beats(env, HOP_S)
    assert beat_f_measure(beats, ranked) > 0.95
    assert abs(np.median(np.diff(ranked)) - 0.5) < 0.01


def test_a_band_on_the_beat_keeps_its_tempo() -> None:
    """Clicks carry all their energy on the beat: no octave to doubt (ON_BEAT_SHARE), whatever the ranker,
    fitted on bands that fill the bar, would prefer."""
    for bpm in (96, 120, 140, 170):
        beats = np.arange(0.3, 40.0, 60 / bpm)
        assert beat_f_measure(beats, track_beats(clicks(beats, 40.5), HOP_S)) > 0.95, bpm


def test_follower_locks_smoothly() -> None:
    beats = np.arange(0.3, 20, 60 / 96)
    follower = BeatFollower(HOP_S)
    for k, v in enumerate(clicks(beats, 20)):
        follower.feed((k + 1) * HOP_S, v)
    got = np.asarray(follower.beats)
    late = got[got > 8]
    assert beat_f_measure(beats[beats > 8], late) > 0.95
    assert abs(60 / np.diff(late).mean() - 96) < 1.0


def test_follower_holds_through_a_break_and_relocks_on_a_new_tempo() -> None:
    first = np.arange(0.2, 12, 60 / 100)  # 100 BPM for 12 s, then 6 s of silence
    second = first[-1] + 6 + np.arange(0, 24, 60 / 124)[1:]  # then 124 BPM
    env = clicks(np.concatenate([first, second]), second[-1] + 0.5)
    follower = BeatFollower(HOP_S)
    periods = {}
    for k, v in enumerate(env):
        t = (k + 1) * HOP_S
        follower.feed(t, v)
        periods[round(t, 2)] = follower.state.period_s
    in_break = [p for t, p in periods.items() if first[-1] + 1 < t < first[-1] + 5.5]
    assert max(abs(60 / p - 100) for p in in_break) < 2.0  # held, not drifting
    got = np.asarray(follower.beats)
    assert np.diff(got[(got > first[-1] + 1) & (got < first[-1] + 5.5)]).std() < 0.01  # beats go on evenly
    after = second[second > second[0] + 8]
    assert beat_f_measure(after, got[got > second[0] + 8]) > 0.9  # re-locked on the new tempo


def test_tap_and_bpm_override() -> None:
    follower = BeatFollower(HOP_S)
    follower.set_tempo(90.0, fixed=True)
    for k, v in enumerate(clicks(np.arange(0.1, 12, 60 / 120), 12)):
        follower.feed((k + 1) * HOP_S, v)
    assert abs(60 / follower.state.period_s - 90) < 1e-6


def test_tracking_an_activation_keeps_the_beat_not_its_eighths() -> None:
    """Peaks every half second, weaker ones halfway between: 120 BPM, on the strong peaks."""
    frame_s, n = 0.01, 3000
    act = np.full(n, 0.01)
    act[25::50] = 0.3  # the eighths between the beats
    act[::50] = 0.9
    beats = track_activation(act, frame_s, t0=0.2)
    truth = 0.2 + np.arange(0, n, 50) * frame_s
    assert beat_f_measure(truth, beats) > 0.95


def test_an_activation_that_hears_no_beat_gives_none() -> None:
    assert len(track_activation(np.full(2000, 0.05), 0.01)) == 0
    assert len(track_activation(np.zeros(0), 0.01)) == 0


def test_an_activation_locked_at_half_its_tempo_is_doubled() -> None:
    """180 BPM, every beat marked alike: the prior around 120 BPM may hear 90; the beats between say 180."""
    frame_s, n = 0.01, 6000
    act = np.full(n, 0.01)
    period = 60.0 / 180.0 / frame_s
    frames = np.rint(np.arange(2, n - 3, period)).astype(int)
    for shift, value in ((0, 0.6), (-1, 0.4), (1, 0.4), (-2, 0.2), (2, 0.2)):  # a network's peaks are round
        act[frames + shift] = value
    assert len(track_activation(act, frame_s, halve_share=10.0)) < 0.6 * len(frames)  # the prior's 90 BPM
    beats = track_activation(act, frame_s)
    assert beat_f_measure(frames * frame_s, beats) > 0.95
