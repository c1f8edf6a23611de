"""The streaming engine: hear a beat window of the band, decide the drums for the next one.

It does not know where its band features come from (a live port, a microphone, a file on a
virtual clock), so offline rendering is exactly what plays on stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from livedrum.features import N_REGISTERS
from livedrum.grid import STEPS_PER_BEAT
from livedrum.groove import seed_groove
from livedrum.humanize import Humanizer
from livedrum.model import DrumNet, State
from livedrum.sampler import Sampling, draw_uniforms, hit_probability, sample_step
from livedrum.selector import BAR_BEATS, BarMemory, ChoiceTrace, GrooveSelector, bar_vector
from livedrum.styles import StyleBank
from livedrum.vocab import kit_mask


@dataclass
class DrumWindow:
    """The drums decided for one beat window, on the 12-step grid."""

    beat: int
    hits: np.ndarray  # (S, V) bool
    velocity: np.ndarray  # (S, V) float32 0..1
    offset: np.ndarray  # (S, V) float32, steps from the grid (humanize already applied)
    logit: np.ndarray  # (S, V) float32, the decoder's raw hit logits (before sampling)


class Engine:
    """One performance: the encoder state, the recent past, the random stream."""

    def __init__(
        self, net: DrumNet, sampling: Sampling, seed: int = 0, device: str | torch.device = "cpu"
    ) -> None:
        self.net = net.eval()
        self.cfg = net.cfg
        self.device = torch.device(device)
        self.sampling = sampling
        self.seed = seed
        self.lead = False  # leading (not following): come in with the seed groove even before the band
        self.styles: StyleBank | None = None  # per-genre decoder weights, swapped in place between windows
        self.reset()

    def reset(self) -> None:
        """Forget the song: on stop, or after long silence."""
        S, cfg = self.cfg.steps, self.cfg
        self.state: State = self.net.zero_state(1, self.device)
        self.rng = np.random.default_rng(self.seed)
        self.humanizer = Humanizer(self.seed)  # real drummers' micro-timing and accents (GMD)
        self.beat = 0
        self.prev_drums = torch.zeros(1, cfg.n_voices, device=self.device)
        self.band_history = np.zeros((0, cfg.band_features), dtype=np.float32)
        self.drum_history = np.zeros((0, cfg.n_voices), dtype=np.float32)
        self._mask_key: Sampling | None = None
        self._steps = S
        self._fresh = 0  # windows left to play without my own last bar (see restart_groove)
        self._fresh_seeded = False
        self.bar_memory = BarMemory()  # the band's 4/4 bars, for the groove selector
        self._choices = {"midi": ChoiceTrace(), "audio": ChoiceTrace()}  # each selector's faded scores
        self._bar_rows: list[np.ndarray] = []  # the band's windows of the bar being heard
        self._groove_bar: np.ndarray | None = None  # (BAR_STEPS, V) the groove chosen for this bar

    @torch.no_grad()
    def hear(self, band: np.ndarray, position: np.ndarray, bpm: float | None = None) -> None:
        """Encode one window the band just played: band (S, Fb), its position features (S, P), and the
        tempo it played at (None: unknown, the last one holds)."""
        x = np.concatenate([band, position], axis=-1)[None]
        _, self.state = self.net.encoder(torch.from_numpy(x).to(self.device), self.state)
        self.band_history = np.concatenate([self.band_history, band])[-8 * self._steps :]
        self.bar_memory.set_tempo(bpm)
        self._remember_bar(band, position)

    def _remember_bar(self, band: np.ndarray, position: np.ndarray) -> None:
        """Collect the band's windows into bars; a whole 4/4 bar goes into the selector's memory."""
        if position[0, _BEAT_IN_BAR] > 0.5:  # a bar starts
            self._bar_rows = []
        self._bar_rows.append(band)
        if position[0, _LAST_BEAT] > 0.5:  # the bar ends
            if len(self._bar_rows) == BAR_BEATS:
                self.bar_memory.add(bar_vector(np.concatenate(self._bar_rows)))
            self._bar_rows = []

    @property
    def selector(self) -> GrooveSelector | None:
        """The groove selector for how the band is heard (`Sampling.ears`); None: the seed groove plays."""
        return self.net.audio_selector if self.sampling.ears == "audio" else self.net.selector

    def _groove(self, position: np.ndarray, bar_beats: int) -> np.ndarray | None:
        """(S, V) the groove to continue in the next window: the selector's choice for this 4/4 bar
        (chosen at its first beat), else the named seed groove. Until a whole bar of the band has been
        heard the seed groove plays: the selector would often choose silence there (many songs start
        without drums), but a drummer asked to lead, or to come in, plays from the first beat."""
        selector = self.selector
        if self.sampling.groove != "band" or selector is None or bar_beats != BAR_BEATS or not self.bar_memory.bars:
            self._groove_bar = None
            return seed_groove(self.sampling.groove, position)
        beat = int(np.argmax(position[0, _BEAT_IN_BAR : _BEAT_IN_BAR + BAR_BEATS]))
        if beat == 0 or self._groove_bar is None:
            trace = self._choices[self.sampling.ears]
            self._groove_bar = selector.choose(self.bar_memory, self.sampling.complexity, trace)
        if not self._groove_bar.any():
            # silence on every piece while the band plays is a drummer dropping out (seen with audio input,
            # whose features the selector never trained on): keep time with the seed groove instead
            return seed_groove(self.sampling.groove, position)
        S = self._steps
        return self._groove_bar[beat * S : (beat + 1) * S]

    def restart_groove(self, beats: int, seeded: bool) -> None:
        """For the next `beats` windows, do not copy my last bar: play from the band alone
        (seeded=False: a busier knob setting is heard at once) or from the seed groove (seeded=True:
        a calmer one). Called when a knob moves far; the groove then carries on from there."""
        self._fresh, self._fresh_seeded = max(0, beats), seeded

    def last_bar(self, position: np.ndarray, bar_beats: int) -> np.ndarray:
        """(S, Fb + V + 1) what happened one bar before each step of the next window: the band,
        my drums, and whether I played anything in that bar. Where I played nothing there while
        the band plays, the seed groove stands in for my drums, so that I come in with it."""
        S, lag = self._steps, bar_beats * self._steps
        band = _lagged(self.band_history, lag, S)
        drums = _lagged(self.drum_history, lag, S)
        known = float(self.drum_history[-lag:].any())
        band_on = self.lead or self.band_history[-S:, : 2 * N_REGISTERS].any()  # onsets or sounding notes
        seed = self._groove(position, bar_beats) if band_on else None
        fresh = self._fresh > 0
        self._fresh -= fresh
        if seed is not None and self.sampling.groove == "band" and self.selector is not None:
            drums, known = seed, 1.0  # the chosen groove, every bar: the decoder adapts it, never drifts away
        elif fresh:
            drums, known = np.zeros_like(drums), 0.0
            if self._fresh_seeded and seed is not None:
                drums, known = seed, 1.0
        elif seed is not None and not drums.any():
            drums, known = seed, 1.0
        return np.concatenate([band, drums * known, np.full((S, 1), known, np.float32)], axis=1)

    @torch.no_grad()
    def play(self, position: np.ndarray, bar_beats: int) -> DrumWindow:
        """Decide the next window: position (S, P) of its steps, bar_beats = its bar's length."""
        S, s = self._steps, self.sampling
        lag_all = self.last_bar(position, bar_beats)
        memory = lag_all[:, self.cfg.band_features : -1]
        dec = self.net.decoder
        init = dec.initial_state(self.state)
        ctx = self.state[0][-1]
        if self._mask_key != s:
            self._mask = torch.from_numpy(kit_mask(s.kit_off).astype(np.float32)).to(self.device)
            self._shift = torch.from_numpy(s.bias_vector()).to(self.device)
            self._mask_key = s
        uniforms = torch.from_numpy(draw_uniforms(self.rng, S)).to(self.device)
        pos_t = torch.from_numpy(position).to(self.device)
        lag_t = torch.from_numpy(lag_all).to(self.device)
        mem_t = torch.from_numpy(memory).to(self.device) if self.drum_history.size else None
        prev = self.prev_drums
        state = init
        hits, vels, offs, logits = [], [], [], []
        # one LSTM cell per step on the decoder's own weights: same maths as nn.LSTM, less overhead
        lstm = dec.lstm
        w_ih, w_hh, b_ih, b_hh = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0
        h, c = state[0][0], state[1][0]
        ctx_proj = dec.context(ctx)
        fixed = torch.cat([pos_t, lag_t], dim=-1)  # (S, P + Fb)
        for t in range(S):
            x = torch.cat([prev, fixed[t : t + 1]], dim=-1)
            h, c = torch.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)
            logit, vel, off = dec.head(torch.tanh(h + ctx_proj)).chunk(3, dim=-1)
            logits.append(logit)
            prob = hit_probability(logit, s, self._shift)
            prev = sample_step(prob, uniforms[t : t + 1], self._mask,
                               None if mem_t is None else mem_t[t : t + 1], s)
            hits.append(prev)
            vels.append(torch.sigmoid(vel))
            offs.append(0.5 * torch.tanh(off))
        self.prev_drums = prev
        h = torch.cat(hits).cpu().numpy() > 0.5
        model_velocity = np.where(h, torch.cat(vels).cpu().numpy(), 0.0)
        model_offset = np.where(h, torch.cat(offs).cpu().numpy() * s.humanize, 0.0)
        velocity, offset = self.humanizer.apply(h, model_velocity, model_offset, s.humanize)
        window = DrumWindow(
            beat=self.beat, hits=h, velocity=velocity.astype(np.float32), offset=offset.astype(np.float32),
            logit=torch.cat(logits).cpu().numpy(),
        )
        self.drum_history = np.concatenate([self.drum_history, h.astype(np.float32)])[-8 * S :]
        self.beat += 1
        return window


_BEAT_IN_BAR = STEPS_PER_BEAT  # position features: beat-in-bar one-hot, then the last-beat flag
_LAST_BEAT = STEPS_PER_BEAT + 4


def _lagged(history: np.ndarray, lag: int, steps: int) -> np.ndarray:
    """The `steps` rows that come `lag` steps before the window that follows `history`."""
    out = np.zeros((steps, history.shape[1]), dtype=np.float32)
    start = len(history) - lag  # index of the window's first step, lag earlier
    for t in range(steps):
        i = start + t
        if 0 <= i < len(history):
            out[t] = history[i]
    return out
