"""Where the beats are in audio: a whole-file tracker for `accompany`, a streaming one for the stage.

`accompany` tracks the beat network's activation (`beatnet`, `track_activation`) where the network is
shipped; otherwise, and live, the trackers read the onset envelope (total log-spectral flux per hop,
from `Analyzer`). On the envelope, the tempo is
the envelope's autocorrelation peak under a log-normal prior around 120 BPM (bands are rarely at
40 or 240), or the octave of it (x2/3, x1.5, x0.5, x2) that a ranker fitted on rendered songs
prefers (OCTAVE_WEIGHTS). Offline, dynamic programming then finds the beat sequence that best sits on the
onsets while keeping that tempo (Ellis 2007). Live, `BeatFollower` re-estimates tempo and phase
every half second from the last seconds, moves toward them smoothly, holds the tempo when the
evidence is weak (a break, rubato) and re-locks at once when a clear new tempo persists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRIOR_BPM = 120.0
PRIOR_OCTAVES = 1.0  # width of the tempo prior (standard deviation, in octaves)
MIN_BPM, MAX_BPM = 50.0, 220.0
DP_TIGHTNESS = 100.0  # how hard the offline tracker keeps its tempo between beats
TOLERANCE_S = 0.07  # beat F-measure window, as the MIREX beat tracking evaluation
# the tempo score: autocorrelation at the beat lag and its multiples, (multiple, weight). Live, with
# a few seconds of envelope, the beat and its double; a whole file also has its bars (4 beats): on
# 24 validation and 14 training songs rendered, that took the whole-file beat F-measure from 0.572
# to 0.599 and 0.758 to 0.793, with 7 instead of 8 and 2 instead of 5 songs at a wrong tempo octave.
LIVE_MULTIPLES = ((1, 1.0), (2, 0.5))
FILE_MULTIPLES = ((1, 1.0), (2, 1.0), (4, 1.0))


def normalise_envelope(flux: np.ndarray, hop_s: float) -> np.ndarray:
    """Onset envelope, its local mean removed (a sustained wash is no beat), half-wave rectified, unit std."""
    env = np.asarray(flux, dtype=np.float64)
    if len(env) == 0:
        return env
    width = max(1, int(round(0.4 / hop_s)))
    local = np.convolve(env, np.ones(width) / width, mode="same")
    env = np.maximum(env - local, 0.0)
    std = env.std()
    return env / std if std > 0 else env


def tempo_scores(env: np.ndarray, hop_s: float, prior_bpm: float = PRIOR_BPM,
                 prior_octaves: float = PRIOR_OCTAVES,
                 multiples: tuple[tuple[int, float], ...] = LIVE_MULTIPLES) -> tuple[np.ndarray, np.ndarray]:
    """(lags in hops, score per lag): autocorrelation under the tempo prior, with its multiples' help."""
    lo = max(1, int(60.0 / MAX_BPM / hop_s))
    hi = int(60.0 / MIN_BPM / hop_s)
    n = len(env)
    top = max(k for k, _ in multiples)
    if n < top * hi + 2:
        return np.arange(lo, hi + 1), np.zeros(hi - lo + 1)
    spec = np.fft.rfft(env - env.mean(), 2 * n)
    acf = np.fft.irfft(spec * np.conj(spec))[: top * hi + 2] / n
    lags = np.arange(lo, hi + 1)
    bpm = 60.0 / (lags * hop_s)
    prior = np.exp(-0.5 * (np.log2(bpm / prior_bpm) / prior_octaves) ** 2)
    score = sum(w * acf[k * lags] for k, w in multiples) * prior
    return lags, score


def estimate_period(env: np.ndarray, hop_s: float, prior_bpm: float = PRIOR_BPM,
                    prior_octaves: float = PRIOR_OCTAVES,
                    multiples: tuple[tuple[int, float], ...] = LIVE_MULTIPLES) -> tuple[float, float]:
    """(beat period in hops, confidence 0..1) of an envelope; the peak refined between lags."""
    lags, score = tempo_scores(env, hop_s, prior_bpm, prior_octaves, multiples)
    if not score.any() or score.max() <= 0:
        return 60.0 / prior_bpm / hop_s, 0.0
    i = int(np.argmax(score))
    period = float(lags[i])
    if 0 < i < len(score) - 1:  # parabolic interpolation of the peak
        a, b, c = score[i - 1], score[i], score[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            period += 0.5 * (a - c) / denom
    rest = np.delete(score, range(max(0, i - 2), min(len(score), i + 3)))
    confidence = 1.0 - (float(np.median(rest)) / float(score[i]) if len(rest) else 0.0)
    return period, float(np.clip(confidence, 0.0, 1.0))


# The tempo octave. The autocorrelation's best period is the beat's for most songs, but for 7 of 24
# rendered validation songs it was half, twice, 2/3 or 1.5 times the beat. So the whole-file tracker
# follows each of these candidates and keeps the chain that a ranker scores best, and the live follower
# asks the same ranker about the beats each window implies. The ranker is linear in `octave_features`,
# fitted on 80 rendered training songs (`python -m livedrum.audio.tempo_fit --songs 80`, l2 25 chosen by
# leave-one-song-out). Beat F-measure, before -> after: whole file 0.575 -> 0.615 on those songs each left
# out of its fit, 0.599 -> 0.650 on the 24 validation songs of `benchmarks/beat_tracking.py`; live
# 0.475 -> 0.517 and 0.482 -> 0.557.
OCTAVE_RATIOS = (1.0, 2.0 / 3.0, 1.5, 0.5, 2.0)
OCTAVE_FEATURES = ("log2(bpm/120)", "its square", "envelope on the beats", "between them", "on - between",
                   "on / (between + 0.1)")
OCTAVE_WEIGHTS = np.array([0.995176, -0.831652, 0.598098, 0.479334, 0.0766151, 0.0129211])
# ... unless the found tempo's beats already carry most of the onset energy (a band that plays on the
# beat, a click): then there is no octave to doubt, and the ranker, fitted on bands that fill the bar,
# would halve 120 or 170 BPM clicks, and live, at a break, the last bars' beats. Rendered songs' share is
# 0.27 / 0.42 / 0.54 (p10 / median / p90), a click track's 0.6 to 0.9.
ON_BEAT_SHARE = 0.6
ON_BEAT_HOPS = 3  # "on the beat": within this many hops (16 ms at 48 kHz and hop 256)


def file_period(env: np.ndarray, hop_s: float) -> float:
    """The beat period (hops) of a whole file's normalised envelope, its bars helping (FILE_MULTIPLES)."""
    period, _ = estimate_period(env, hop_s, multiples=FILE_MULTIPLES)
    if period == 60.0 / PRIOR_BPM / hop_s:  # too short for the bars' help: the beat and its double alone
        period, _ = estimate_period(env, hop_s)
    return period


def beat_chain(env: np.ndarray, period: float) -> np.ndarray:
    """Hops of the beat sequence that best sits on a normalised envelope near `period` (dynamic
    programming, Ellis 2007); empty for an envelope shorter than 4 periods or silent."""
    n = len(env)
    if n < 4 * period or not env.any():
        return np.zeros(0, dtype=np.int64)
    score = env.copy()
    back = np.full(n, -1, dtype=np.int64)
    lo, hi = max(1, int(round(period / 2))), int(round(2 * period))
    offsets = np.arange(lo, hi + 1)
    penalty = -DP_TIGHTNESS * np.log(offsets / period) ** 2
    # a beat's predecessor lies at least `lo` hops back, so `lo` hops at a time can be scored at once
    for start in range(lo, n, lo):
        t = np.arange(start, min(n, start + lo))
        prev = t[:, None] - offsets[None, :]
        cand = np.where(prev >= 0, score[np.maximum(prev, 0)] + penalty, -np.inf)
        j = np.argmax(cand, axis=1)
        rows = np.arange(len(t))
        good = cand[rows, j] > 0
        score[t[good]] = env[t[good]] + cand[rows, j][good]
        back[t[good]] = prev[rows, j][good]
    # the last beat: the best score within the final period, then back along the chain
    tail = max(0, n - int(round(period)))
    t = tail + int(np.argmax(score[tail:]))
    beats = [t]
    while back[t] >= 0:
        t = int(back[t])
        beats.append(t)
    return np.asarray(beats[::-1], dtype=np.int64)


def beat_share(env: np.ndarray, hops: np.ndarray) -> float:
    """The share of an envelope's onset energy within ON_BEAT_HOPS of the beats `hops`."""
    total = float(env.sum())
    if total <= 0 or len(hops) == 0:
        return 0.0
    near = np.zeros(len(env), dtype=bool)
    for d in range(-ON_BEAT_HOPS, ON_BEAT_HOPS + 1):
        near[np.clip(hops + d, 0, len(env) - 1)] = True
    return float(env[near].sum()) / total


def octave_candidates(period: float, hop_s: float) -> list[float]:
    """The found period and its tempo octaves (OCTAVE_RATIOS) that lie within MIN_BPM..MAX_BPM."""
    return [period * r for r in OCTAVE_RATIOS
            if r == 1.0 or MIN_BPM <= 60.0 / (period * r * hop_s) <= MAX_BPM]


def octave_features(env: np.ndarray, hops: np.ndarray, period: float, hop_s: float) -> np.ndarray:
    """What tells a beat chain at the right tempo from one at half, double or 1.5 times it (OCTAVE_FEATURES):
    how fast it is, and how much onset energy falls on its beats against halfway between them."""
    octaves = float(np.log2(60.0 / (period * hop_s) / PRIOR_BPM))
    if len(hops) < 2:
        return np.array([octaves, octaves ** 2, 0.0, 0.0, 0.0, 0.0])
    on = float(env[hops].mean())
    between = float(env[(hops[:-1] + hops[1:]) // 2].mean())
    return np.array([octaves, octaves ** 2, on, between, on - between, on / (between + 0.1)])


def track_beats(flux: np.ndarray, hop_s: float, t0: float = 0.0,
                weights: np.ndarray | None = OCTAVE_WEIGHTS) -> np.ndarray:
    """Beat times (seconds) of a whole file's onset envelope, by dynamic programming at the found tempo,
    or at the tempo octave of it that `weights` (the ranker, see OCTAVE_WEIGHTS) scores best; None
    keeps the found tempo.

    flux: per-hop onset envelope; hop k ends at t0 + (k + 1) * hop_s."""
    env = normalise_envelope(flux, hop_s)
    period = file_period(env, hop_s)
    found = beat_chain(env, period)
    if weights is None or beat_share(env, found) >= ON_BEAT_SHARE:
        return t0 + (found.astype(np.float64) + 1) * hop_s
    best, best_score = np.zeros(0, dtype=np.int64), -np.inf
    for candidate in octave_candidates(period, hop_s):
        hops = found if candidate == period else beat_chain(env, candidate)
        if len(hops) == 0:
            continue
        score = float(octave_features(env, hops, candidate, hop_s) @ weights)
        if score > best_score:
            best, best_score = hops, score
    return t0 + (best.astype(np.float64) + 1) * hop_s


# A learned beat activation (`beatnet`) is high on beats and low between them, so its autocorrelation
# finds the tempo, with one doubt left: at 160 to 190 BPM it often locks half the tempo (the prior
# prefers 120), though the network marked the beats between the chain's beats as clearly as the chain's
# own. So where the activation halfway between the chain's beats reaches HALVE_SHARE of that on them,
# the tempo is doubled. Beat F-measure counts half and double the tempo alike (0.67); the drums do not:
# on 24 rendered validation songs (`benchmarks/audio_eval.py`) audio input scored hit F1 0.423 without
# the doubling and 0.455 with it (beat F 0.878 -> 0.892). 0.7 is the share that tracked best of 0.4 to
# 0.8 on the 80 training songs held out of the network's fit (0.737; 0.749 without doubling). Choosing
# among all octaves by the activation collected, or with the bars' help (FILE_MULTIPLES), and halving
# the tempo where alternate beats are weak, tracked no better on held-out songs.
MIN_ACTIVATION = 0.2  # a network that nowhere says more than this about a beat has heard none (silence)
HALVE_SHARE = 0.7
MAX_ACTIVATION_BPM = 200.0  # the double tempo is tried up to here (a band at 104 BPM that plays eighths stays at 104)


def peak_near(act: np.ndarray, frames: np.ndarray, reach: int = 2) -> np.ndarray:
    """The activation's maximum within `reach` frames of each of `frames`."""
    idx = np.clip(frames[:, None] + np.arange(-reach, reach + 1)[None, :], 0, len(act) - 1)
    return act[idx].max(axis=1)


def track_activation(activation: np.ndarray, frame_s: float, t0: float = 0.0,
                     halve_share: float = HALVE_SHARE) -> np.ndarray:
    """Beat times (seconds) of a whole file's beat activation (0..1 per frame; frame k at t0 + k * frame_s):
    dynamic programming at its autocorrelation's tempo, or twice that where the activation between the
    beats is as strong as on them (see HALVE_SHARE); none where it never reaches MIN_ACTIVATION."""
    act = np.asarray(activation, dtype=np.float64)
    if len(act) == 0 or act.max() < MIN_ACTIVATION:
        return np.zeros(0)
    period, _ = estimate_period(act, frame_s)
    frames = beat_chain(act, period)
    if len(frames) > 4 and 60.0 / (period / 2 * frame_s) <= MAX_ACTIVATION_BPM:
        between = peak_near(act, (frames[:-1] + frames[1:]) // 2).mean()
        if between > halve_share * max(float(peak_near(act, frames).mean()), 1e-9):
            frames = beat_chain(act, period / 2)
    return t0 + frames.astype(np.float64) * frame_s


@dataclass
class FollowerState:
    """What the streaming tracker believes now."""

    period_s: float  # seconds per beat
    next_beat: float  # time of the next beat it expects
    confidence: float  # 0..1 of the last estimate
    locked: bool  # False while holding (weak evidence) or before the first lock


class BeatFollower:
    """Streaming beat tracker: feed envelope hops, read beats as they pass. Smooth, holds, re-locks.

    - every `update_s` it estimates tempo and phase from the last `window_s` of envelope;
    - a confident estimate near the current tempo pulls tempo and phase part of the way
      (`smoothing`), so small drifts are followed without jumps;
    - a weak estimate (break, rubato, silence) changes nothing: the tempo holds, beats go on;
    - a confident different tempo that persists for `relock_after` estimates is adopted at once;
    - `set_tempo` (tap, --bpm) overrides it; with `fixed` the tempo stays and only phase follows.
    """

    def __init__(self, hop_s: float, bpm: float = PRIOR_BPM, window_s: float = 6.0, update_s: float = 0.5,
                 smoothing: float = 0.25, min_confidence: float = 0.3, relock_after: int = 3,
                 fixed: bool = False) -> None:
        self.hop_s = hop_s
        self.window = max(8, int(round(window_s / hop_s)))
        self.update_every = max(1, int(round(update_s / hop_s)))
        self.smoothing, self.min_confidence, self.relock_after = smoothing, min_confidence, relock_after
        self.fixed = fixed
        self.env = np.zeros(0)
        self._buf: list[float] = []
        self.t = 0.0  # time of the last hop fed
        self.state = FollowerState(60.0 / bpm, float("inf"), 0.0, False)
        self._candidate: tuple[float, int] | None = None  # a different tempo and how often it was seen
        self.beats: list[float] = []

    def set_tempo(self, bpm: float, fixed: bool = True) -> None:
        """The musician's tempo (tap, --bpm): adopted now; fixed keeps it against the audio."""
        self.state.period_s = 60.0 / bpm
        self.fixed = fixed

    def feed(self, t: float, value: float) -> list[float]:
        """One envelope hop ending at time t; returns the beats that passed up to t."""
        self.t = t
        self._buf.append(float(value))
        passed = []
        s = self.state
        while s.next_beat <= t:  # beats due before this hop's estimate may move the next one
            if not self.beats or s.next_beat - self.beats[-1] > 0.5 * s.period_s:
                passed.append(s.next_beat)
                self.beats.append(s.next_beat)
            s.next_beat += s.period_s
        if len(self._buf) >= self.update_every:
            self.env = np.concatenate([self.env, self._buf])[-self.window :]
            self._buf = []
            self._update()
        return passed

    def _update(self) -> None:
        env = normalise_envelope(self.env, self.hop_s)
        if len(env) < self.window // 2 or not env.any():
            self.state.locked = False
            return
        s = self.state
        current = 60.0 / s.period_s
        prior = current if s.locked else PRIOR_BPM
        width = 0.3 if s.locked else PRIOR_OCTAVES
        period, conf = estimate_period(env, self.hop_s, prior, width)
        s.confidence = conf
        if conf < self.min_confidence:
            s.locked = False  # hold: the tempo and beats carry on as they were
            return
        if not self.fixed:  # a fixed tempo (tap, --bpm) takes the phase alone: no octave to choose
            new_period = self._octave(env, period) * self.hop_s
            ratio = new_period / s.period_s
            if s.locked and abs(np.log(ratio)) > np.log(1.08):
                # far from the tempo held: adopt only if it persists (a tempo change, not a fill)
                seen = self._candidate[1] + 1 if self._candidate and abs(
                    np.log(self._candidate[0] / new_period)) < np.log(1.04) else 1
                self._candidate = (new_period, seen)
                if seen < self.relock_after:
                    return
                s.period_s, s.locked = new_period, False
            else:
                self._candidate = None
                s.period_s += self.smoothing * (new_period - s.period_s) if s.locked else new_period - s.period_s
        phase = self._phase(env, s.period_s / self.hop_s)
        predicted = self.t + phase * self.hop_s  # the next beat the envelope implies
        if not np.isfinite(s.next_beat) or not s.locked:
            s.next_beat = predicted
        else:
            err = (predicted - s.next_beat + s.period_s / 2) % s.period_s - s.period_s / 2
            s.next_beat += (self.smoothing if s.locked else 1.0) * err
        while s.next_beat <= self.t:
            s.next_beat += s.period_s
        s.locked = True

    def _octave(self, env: np.ndarray, period: float) -> float:
        """The tempo octave of `period` (hops) that the whole-file ranker (OCTAVE_WEIGHTS) scores best on
        the beats this window implies: the autocorrelation alone locked 0.5x or 2x the tempo of many bands."""
        best, best_score = period, -np.inf
        for candidate in octave_candidates(period, self.hop_s):
            last = len(env) - 1 - (candidate - self._phase(env, candidate))  # the window's last beat
            hops = np.rint(last - np.arange(int(last // candidate), -1, -1) * candidate).astype(np.int64)
            hops = hops[hops >= 0]
            if candidate == period and beat_share(env, hops) >= ON_BEAT_SHARE:
                return period
            score = float(octave_features(env, hops, candidate, self.hop_s) @ OCTAVE_WEIGHTS)
            if score > best_score:
                best, best_score = candidate, score
        return best

    @staticmethod
    def _phase(env: np.ndarray, period: float) -> float:
        """Hops from the envelope's end to the next beat: the comb over the past beats that scores best,
        the recent beats weighted most."""
        n = len(env)
        k = np.arange(1, int(n // period))
        if len(k) == 0:
            return period
        weights = 0.8 ** (k - 1)
        shifts = np.arange(0.0, period, 1.0)
        idx = np.rint(n - 1 - shifts[:, None] - (k[None, :] - 1) * period).astype(np.int64)
        score = (np.where(idx >= 0, env[np.maximum(idx, 0)], 0.0) * weights).sum(axis=1)
        # the best comb's last beat lies that many hops before the end: the next is a period after it
        return period - float(shifts[int(np.argmax(score))])


def follow_beats(flux: np.ndarray, hop_s: float, t0: float = 0.0, bpm: float = PRIOR_BPM) -> np.ndarray:
    """The streaming tracker over a whole envelope, as it would have run live: its beat times."""
    follower = BeatFollower(hop_s, bpm)
    for k, value in enumerate(flux):
        follower.feed(t0 + (k + 1) * hop_s, value)
    return np.asarray(follower.beats)


def beat_f_measure(reference: np.ndarray, estimated: np.ndarray, tolerance: float = TOLERANCE_S) -> float:
    """F-measure of beats within +-tolerance seconds, each reference beat matched at most once."""
    ref, est = np.sort(np.asarray(reference)), np.sort(np.asarray(estimated))
    if len(ref) == 0 or len(est) == 0:
        return 0.0
    used = np.zeros(len(est), dtype=bool)
    hits = 0
    for r in ref:
        lo, hi = np.searchsorted(est, r - tolerance), np.searchsorted(est, r + tolerance, side="right")
        free = [j for j in range(lo, hi) if not used[j]]
        if free:
            used[min(free, key=lambda j: abs(est[j] - r))] = True
            hits += 1
    precision, recall = hits / len(est), hits / len(ref)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
