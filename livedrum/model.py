"""The brain: a streaming LSTM encoder-decoder that decides the drums one beat window at a time.

The encoder reads the band's per-step features, and its (h, c) state is carried from window to
window for the whole performance. From that state the decoder writes the next window step by
step: per drum voice a hit logit, a velocity and a small timing offset, feeding back what it
played at the previous step. Beside the encoder state, the decoder sees where each step sits in
the bar and what the band played at the same place one bar earlier: the two things a fixed beat
and a listening drummer get right.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from livedrum.features import BAND_FEATURES, POSITION_FEATURES
from livedrum.grid import STEPS_PER_BEAT
from livedrum.selector import GrooveSelector, SelectorConfig
from livedrum.vocab import N_VOICES

State = tuple[torch.Tensor, torch.Tensor]  # LSTM (h, c), each (layers, B, H)


@dataclass
class ModelConfig:
    """Everything that fixes the network's shape; stored in every checkpoint."""

    band_features: int = BAND_FEATURES
    position_features: int = POSITION_FEATURES
    n_voices: int = N_VOICES
    steps: int = STEPS_PER_BEAT
    enc_hidden: int = 128
    enc_layers: int = 1
    dec_hidden: int = 128
    dropout: float = 0.2
    feedback_dropout: float = 0.3  # training only: hide the previous step's drums this often
    lag_dropout: float = 0.3  # training only: hide what the drummer played one bar earlier this often
    lag_seed: float = 0.0  # training only: show the seed groove as the last bar this often (learn to adapt it)
    selector_templates: int = 0  # patterns per kit piece of the groove selector (selector.py); 0: none
    selector_hidden: int = 256
    audio_selector: bool = False  # a second selector, fitted on bands heard as audio (livedrum.audio.selector_fit)

    @property
    def enc_input(self) -> int:
        return self.band_features + self.position_features

    @property
    def lag_features(self) -> int:
        # one bar earlier at this step: the band, the drums, and whether there were drums at all
        return self.band_features + self.n_voices + 1

    @property
    def dec_input(self) -> int:
        # previous drum step, position of this step, one bar earlier at this step
        return self.n_voices + self.position_features + self.lag_features

    def to_dict(self) -> dict:
        return asdict(self)


def rock_groove(position: torch.Tensor) -> torch.Tensor:
    """The `rock` seed groove of groove.py for (..., P) position features, as (..., V) hits."""
    from livedrum.groove import HAT, KICK, SNARE

    S = STEPS_PER_BEAT
    step = position[..., :S].argmax(-1)
    beat = position[..., S : S + 4].argmax(-1)
    three = position[..., S + 9] > 0.5
    out = torch.zeros(*position.shape[:-1], N_VOICES, device=position.device)
    out[..., HAT] = ((step == 0) | (step == S // 2)).float()
    on_beat = (step == 0).float()
    kick = ((beat == 0) | ((beat == 2) & ~three)).float()
    out[..., KICK] = on_beat * kick
    out[..., SNARE] = on_beat * (1 - kick)
    return out


class Encoder(nn.Module):
    """Reads the band step by step; its state is the drummer's memory of the song."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.lstm = nn.LSTM(cfg.enc_input, cfg.enc_hidden, cfg.enc_layers, batch_first=True)

    def forward(self, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        out, state = self.lstm(x, state)  # (B, T, H)
        return out, state


class Decoder(nn.Module):
    """Writes one beat window of drums from the encoder's state."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        enc_state = 2 * cfg.enc_hidden
        self.init_h = nn.Linear(enc_state, cfg.dec_hidden)
        self.init_c = nn.Linear(enc_state, cfg.dec_hidden)
        self.lstm = nn.LSTM(cfg.dec_input, cfg.dec_hidden, batch_first=True)
        self.drop = nn.Dropout(cfg.dropout)
        self.context = nn.Linear(cfg.enc_hidden, cfg.dec_hidden)
        self.head = nn.Linear(cfg.dec_hidden, 3 * cfg.n_voices)  # hit logit, velocity, offset

    def initial_state(self, enc_state: State) -> State:
        h, c = enc_state[0][-1], enc_state[1][-1]  # top layer, (B, H)
        hc = torch.cat([h, c], dim=-1)
        return torch.tanh(self.init_h(hc)).unsqueeze(0), self.init_c(hc).unsqueeze(0)

    def forward(
        self, x: torch.Tensor, state: State, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, State]:
        out, state = self.lstm(x, state)  # (B, S, Hd)
        out = self.drop(torch.tanh(out + self.context(context).unsqueeze(1)))
        logit, vel, off = self.head(out).chunk(3, dim=-1)  # each (B, S, V)
        return logit, torch.sigmoid(vel), 0.5 * torch.tanh(off), state


class DrumNet(nn.Module):
    """Encoder-decoder with the window-by-window interface the live engine uses."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.selector: GrooveSelector | None = None  # picks the groove the decoder continues, bar by bar
        if cfg.selector_templates > 0:
            self.selector = GrooveSelector(SelectorConfig(cfg.selector_templates, cfg.selector_hidden))
        self.audio_selector: GrooveSelector | None = None  # the same, for a band heard through a microphone
        if cfg.selector_templates > 0 and cfg.audio_selector:
            self.audio_selector = GrooveSelector(SelectorConfig(cfg.selector_templates, cfg.selector_hidden))

    def zero_state(self, batch: int = 1, device: torch.device | str = "cpu") -> State:
        shape = (self.cfg.enc_layers, batch, self.cfg.enc_hidden)
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)

    def encode_windows(
        self, band: torch.Tensor, position: torch.Tensor, state: State
    ) -> tuple[State, list[State]]:
        """Encode K whole windows (B, K*S, F); returns the final state and the state *before*
        each window, i.e. what the decoder of that window may know."""
        S = self.cfg.steps
        x = torch.cat([band, position], dim=-1)  # (B, K*S, Fe)
        before: list[State] = []
        for k in range(x.shape[1] // S):
            before.append(state)
            _, state = self.encoder(x[:, k * S : (k + 1) * S], state)
        return state, before

    def decode_teacher_forced(
        self, before: list[State], dec_in: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All K windows at once: dec_in (B, K, S, Fd) with the true previous drum steps."""
        B, K, S, Fd = dec_in.shape
        h = torch.stack([s[0] for s in before], dim=2)  # (L, B, K, H)
        c = torch.stack([s[1] for s in before], dim=2)
        flat = (h.reshape(h.shape[0], B * K, -1), c.reshape(c.shape[0], B * K, -1))
        init = self.decoder.initial_state(flat)
        logit, vel, off, _ = self.decoder(dec_in.reshape(B * K, S, Fd), init, flat[0][-1])
        V = self.cfg.n_voices
        return logit.view(B, K, S, V), vel.view(B, K, S, V), off.view(B, K, S, V)

    def forward(
        self, band: torch.Tensor, position: torch.Tensor, lag: torch.Tensor,
        prev_hits: torch.Tensor, state: State,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, State]:
        """Teacher-forced pass over K windows, for training: all inputs (B, K*S, ·)."""
        S = self.cfg.steps
        B, L, _ = band.shape
        if self.training and self.cfg.feedback_dropout > 0:
            keep = torch.rand(B, L, 1, device=band.device) >= self.cfg.feedback_dropout
            prev_hits = prev_hits * keep
        if self.training and self.cfg.lag_dropout > 0:  # whole windows forget the last bar's drums
            Fb = self.cfg.band_features
            keep = (torch.rand(B, L // S, 1, 1, device=band.device) >= self.cfg.lag_dropout).float()
            drums = (lag[..., Fb:].view(B, L // S, S, -1) * keep).view(B, L, -1)
            if self.cfg.lag_seed > 0:  # others see the plain seed groove instead, as at the start of a song
                seed = torch.rand(B, L // S, 1, 1, device=band.device) < self.cfg.lag_seed
                plain = torch.cat([rock_groove(position), torch.ones_like(drums[..., :1])], dim=-1)
                drums = torch.where(seed, plain.view(B, L // S, S, -1), drums.view(B, L // S, S, -1)).view(B, L, -1)
            lag = torch.cat([lag[..., :Fb], drums], dim=-1)
        final, before = self.encode_windows(band, position, state)
        dec_in = torch.cat([prev_hits, position, lag], dim=-1).view(B, L // S, S, -1)
        logit, vel, off = self.decode_teacher_forced(before, dec_in)
        V = self.cfg.n_voices
        return logit.reshape(B, L, V), vel.reshape(B, L, V), off.reshape(B, L, V), final
