"""The seed thesis' WAV network: 1-second audio images -> CNN -> LSTM encoder -> the MIDI network's decoder.

One step per audio onset (what a band note-on is to the MIDI network). Each onset is heard
through the 1-second window of audio centred on it, as a 3-channel image (`thesis_wav_data`):
Mel spectrogram (dB), MFCC and tempogram, `bins` rows each, one column per 512-sample hop.
A small ResNet (a stem convolution, then residual blocks of C, 2C and 4C channels, the last
two halving the image, global average pooling) turns each window into a vector; an LSTM
encoder reads the 20 vectors of a pattern; its final (h, c) starts the thesis MIDI network's
decoder (`thesis_model`: its own previous event in, a drum class of 22 voices + rest and
one of 128 velocities out), which writes one drum event per onset.

Default sizes (CPU-trainable; the thesis' design, not its width): 40 rows per channel,
43 columns per window (1 s at 22050 Hz, hop 512), C = 8 (8, 16, 32 channels), a 64-value
window vector, 128 LSTM units in the encoder and the decoder; about 0.3 M parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from livedrum.thesis_model import N_CLASSES, N_VELOCITY, OUT_FEATURES, ThesisNet, decode_events

CHANNELS = 3  # Mel spectrogram, MFCC, tempogram


@dataclass
class ThesisWavConfig:
    """Everything that defines a thesis WAV model, its audio features and how it is trained."""

    rate: int = 22050  # audio is resampled to this (librosa's default rate, as in the thesis)
    n_fft: int = 1024
    hop: int = 512
    window_s: float = 1.0  # the audio heard per onset, centred on it
    bins: int = 40  # rows of each channel: Mel bands; MFCC and tempogram resized to it
    n_mfcc: int = 20
    tempo_lags: int = 384  # the tempogram's window in hops (librosa's default, about 9 s)
    width: int = 8  # C: the CNN's first width; its blocks have C, 2C and 4C channels
    embed: int = 64  # the vector one window becomes
    hidden: int = 128  # units of the encoder and decoder LSTMs
    pattern: int = 20  # onsets per pattern, in and out
    stride: int = 20  # onsets between the starts of training patterns
    lr: float = 1e-3
    batch: int = 32
    epochs: int = 20
    patience: int = 3  # stop after this many epochs without a better validation loss
    temperature: float = 1.0  # default sampling temperature (<= 0: most likely class)
    onset_method: str = "specflux"  # livedrum's onset detector (audio.onsets), as `accompany` uses it
    songs: int = 200  # training songs rendered (the first `seconds` of each)
    val_songs: int = 24
    seconds: float = 60.0
    max_batches: int = 0  # per epoch, 0: all
    seed: int = 0

    def __post_init__(self) -> None:
        positive = ("rate", "n_fft", "hop", "bins", "n_mfcc", "tempo_lags", "width", "embed", "hidden", "pattern",
                    "stride", "batch", "songs")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.1 <= self.window_s <= 10.0 or self.seconds <= 0:
            raise ValueError("window_s must be within 0.1..10 s and seconds above 0")

    @property
    def frames(self) -> int:
        """Columns of one window's image (43 for 1 s at 22050 Hz, hop 512)."""
        return max(1, round(self.window_s * self.rate / self.hop))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ThesisWavConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class ResBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to a (projected) shortcut: ResNet's basic block."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (nn.Identity() if stride == 1 and cin == cout else
                      nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.short(x))


class WindowCNN(nn.Module):
    """One window's 3-channel image -> one vector."""

    def __init__(self, config: ThesisWavConfig) -> None:
        super().__init__()
        c = config.width
        self.stem = nn.Sequential(nn.Conv2d(CHANNELS, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.blocks = nn.Sequential(ResBlock(c, c, 1), ResBlock(c, 2 * c, 2), ResBlock(2 * c, 4 * c, 2))
        self.out = nn.Linear(4 * c, config.embed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))  # (N, 3, bins, frames) -> (N, 4C, bins/4, frames/4)
        return F.relu(self.out(x.mean((2, 3))))  # (N, embed)


class ThesisWavNet(nn.Module):
    """CNN per window and an LSTM over the windows; the thesis MIDI network's decoder, started from its state."""

    def __init__(self, config: ThesisWavConfig) -> None:
        super().__init__()
        self.config = config
        self.cnn = WindowCNN(config)
        self.encoder = nn.LSTM(config.embed, config.hidden, batch_first=True)
        self.decoder = nn.LSTM(OUT_FEATURES, config.hidden, batch_first=True)
        self.note_head = nn.Linear(config.hidden, N_CLASSES)
        self.velocity_head = nn.Linear(config.hidden, N_VELOCITY)

    decode = ThesisNet.decode  # the same decoder: previous event (B, T, 151) -> class and velocity logits

    def encode(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, T = windows.shape[:2]  # windows (B, T, 3, bins, frames)
        vectors = self.cnn(windows.flatten(0, 1)).view(B, T, -1)  # (B, T, embed)
        _, state = self.encoder(vectors)  # h, c (1, B, H)
        return state

    def forward(self, windows: torch.Tensor, prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced pass: `prev` holds the true previous output events (thesis_model.shift_right)."""
        note_logits, vel_logits, _ = self.decode(prev, self.encode(windows))
        return note_logits, vel_logits

    @torch.no_grad()
    def generate(
        self, windows: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample one drum event per window (onset): (B, T) drum classes and (B, T) velocities."""
        return decode_events(self, self.encode(windows), windows.shape[1], temperature, generator)
