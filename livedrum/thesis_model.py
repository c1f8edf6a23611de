"""The seed thesis' network: a 512-unit LSTM encoder-decoder from band onsets to drum hits.

One step per band note-on event (a chord is several events). The encoder reads a pattern
of 20 events, each a one-hot pitch (128) next to a one-hot velocity (128); its final
(h, c) starts the decoder, which writes 20 output events, each a drum class (the 22
vocabulary voices plus "rest") and a velocity (128 classes, 0 for rest). As in the classic
seq2seq recipe the decoder's only input is its own previous output event (teacher forcing
in training: the true previous event; at generation: the sampled one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from livedrum.vocab import N_VOICES

N_PITCH = 128
N_VELOCITY = 128
IN_FEATURES = N_PITCH + N_VELOCITY  # 256: one-hot pitch | one-hot velocity
REST = N_VOICES  # class 22: no drum at this event
N_CLASSES = N_VOICES + 1  # 23
OUT_FEATURES = N_CLASSES + N_VELOCITY  # 151: one-hot drum class | one-hot velocity


@dataclass
class ThesisConfig:
    """Everything that defines a thesis model and how it is trained."""

    hidden: int = 512
    pattern: int = 20  # events per pattern, in and out
    stride: int = 20  # events between the starts of training patterns (20: no overlap)
    lr: float = 1e-3
    batch: int = 64
    epochs: int = 20
    patience: int = 3  # stop after this many epochs without a better validation loss
    temperature: float = 1.0  # default sampling temperature (<= 0: most likely class)
    max_patterns: int | None = None  # cap on training patterns (a random subset), None: all
    seed: int = 0
    # Instrument selection: which band notes feed the input. None keeps all non-drum notes.
    families: tuple[int, ...] | None = None  # GM program families 0..15 (program // 8)
    channels: tuple[int, ...] | None = None  # MIDI channels 0..15 (0-based)

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.pattern < 1 or self.stride < 1 or self.batch < 1:
            raise ValueError("hidden, pattern, stride and batch must be positive")
        if self.families is not None:
            self.families = tuple(int(f) for f in self.families)
            if any(not 0 <= f < 16 for f in self.families):
                raise ValueError(f"GM program families are 0..15, got {self.families}")
        if self.channels is not None:
            self.channels = tuple(int(c) for c in self.channels)
            if any(not 0 <= c < 16 for c in self.channels):
                raise ValueError(f"MIDI channels are 0..15, got {self.channels}")

    def to_dict(self) -> dict:
        """Plain types only (lists for tuples), so that a weights_only checkpoint loads it."""
        d = asdict(self)
        for key in ("families", "channels"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ThesisConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class ThesisNet(nn.Module):
    """LSTM encoder over band events; LSTM decoder over drum events, started from its state."""

    def __init__(self, config: ThesisConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = nn.LSTM(IN_FEATURES, config.hidden, batch_first=True)
        self.decoder = nn.LSTM(OUT_FEATURES, config.hidden, batch_first=True)
        self.note_head = nn.Linear(config.hidden, N_CLASSES)
        self.velocity_head = nn.Linear(config.hidden, N_VELOCITY)

    def encode(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, state = self.encoder(inputs)  # inputs (B, T, 256) -> h, c (1, B, H)
        return state

    def decode(
        self, prev: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out, state = self.decoder(prev, state)  # prev (B, T, 151) -> out (B, T, H)
        return self.note_head(out), self.velocity_head(out), state  # (B, T, 23), (B, T, 128)

    def forward(self, inputs: torch.Tensor, prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced pass: `prev` holds the true previous output events (see shift_right)."""
        note_logits, vel_logits, _ = self.decode(prev, self.encode(inputs))
        return note_logits, vel_logits

    @torch.no_grad()
    def generate(
        self, inputs: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample one output event per input event: (B, T) drum classes and (B, T) velocities."""
        return decode_events(self, self.encode(inputs), inputs.shape[1], temperature, generator)


@torch.no_grad()
def decode_events(
    net: nn.Module, state: tuple[torch.Tensor, torch.Tensor], steps: int, temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder's loop, shared by the thesis' MIDI and WAV networks: from the encoder's state,
    `steps` events, each fed back as the next input; (B, steps) drum classes and velocities."""
    B = state[0].shape[1]
    prev = state[0].new_zeros(B, 1, OUT_FEATURES)  # the start token: no previous event
    classes, velocities = [], []
    for _ in range(steps):
        note_logits, vel_logits, state = net.decode(prev, state)  # (B, 1, 23), (B, 1, 128)
        note = _sample(note_logits[:, 0], temperature, generator)  # (B,)
        vel_logits = vel_logits[:, 0].clone()
        vel_logits[:, 0] = torch.where(note == REST, vel_logits[:, 0], -torch.inf)  # hits are audible
        vel = _sample(vel_logits, temperature, generator)
        vel = torch.where(note == REST, torch.zeros_like(vel), vel)
        classes.append(note)
        velocities.append(vel)
        prev = one_hot_outputs(note, vel)[:, None]  # (B, 1, 151)
    return torch.stack(classes, 1), torch.stack(velocities, 1)


def _sample(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1)
    probs = F.softmax(logits / temperature, dim=-1)  # (B, C)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def one_hot_inputs(pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
    """(..., ) pitch and velocity indices -> (..., 256) float one-hots side by side."""
    return torch.cat([F.one_hot(pitch.long(), N_PITCH), F.one_hot(velocity.long(), N_VELOCITY)], -1).float()


def one_hot_outputs(note: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
    """(..., ) drum class and velocity indices -> (..., 151) float one-hots side by side."""
    return torch.cat([F.one_hot(note.long(), N_CLASSES), F.one_hot(velocity.long(), N_VELOCITY)], -1).float()


def shift_right(targets: torch.Tensor) -> torch.Tensor:
    """Teacher forcing: (B, T, 2) true (class, velocity) -> (B, T, 151) decoder inputs, event t-1 at t."""
    prev = one_hot_outputs(targets[..., 0], targets[..., 1])  # (B, T, 151)
    return torch.cat([torch.zeros_like(prev[:, :1]), prev[:, :-1]], 1)


def thesis_loss(
    note_logits: torch.Tensor, vel_logits: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of the drum-class head plus that of the velocity head, mean per event."""
    note_loss = F.cross_entropy(note_logits.reshape(-1, N_CLASSES), targets[..., 0].reshape(-1).long())
    vel_loss = F.cross_entropy(vel_logits.reshape(-1, N_VELOCITY), targets[..., 1].reshape(-1).long())
    return note_loss + vel_loss
