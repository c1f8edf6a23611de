"""Data for the thesis WAV network: audio as 3-channel images, its onsets, the real drummer's hit per onset.

Features (the thesis' recipe, with librosa): the recording, mono, resampled to 22050 Hz; a
1024-point FFT every 512 samples; three channels over the same frames: the Mel spectrogram in
dB (0..1 over the 80 dB below the song's loudest), the MFCC (each coefficient standardised over
the song) and the tempogram (the onset strength's autocorrelation over `tempo_lags` hops, 0..1
per frame), each resized to `bins` rows. Onset i is heard through the `frames` columns centred
on it (1 second; silence beyond the ends).

Onsets come from livedrum's own detector (`audio.onsets`), as `livedrum accompany IN.wav` hears a
recording. Targets: the onsets moved onto the MIDI song's beats (its tempo map), then
`thesis_data.event_targets`: the real drummer's loudest hit within 1/8 beat of an onset, else rest.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F

from livedrum.audio.rendered import MIN_DRUM_NOTES, AudioSong, beat_at_seconds, first_seconds, render_band
from livedrum.song import Notes, Song
from livedrum.thesis_data import event_targets
from livedrum.thesis_wav_model import ThesisWavConfig

TOP_DB = 80.0
RENDER_RATE = 44100  # training songs are rendered as the audio evaluation renders its songs


def librosa_module() -> ModuleType:
    """librosa, an optional extra: one clear line when it is missing."""
    try:
        import librosa
    except ImportError as exc:
        raise ValueError("the thesis-wav network needs librosa: pip install 'livedrum[thesis-wav]'") from exc
    return librosa


def load_mono(path: str | Path, rate: int) -> np.ndarray:
    """An audio file as mono float32 at `rate` (ValueError in one line for an unreadable file)."""
    from livedrum.render import read_audio

    data, file_rate = read_audio(path)
    y = data.mean(axis=1)
    if file_rate != rate:
        y = librosa_module().resample(y, orig_sr=file_rate, target_sr=rate)
    return np.ascontiguousarray(y, dtype=np.float32)


def _rows(x: np.ndarray, n: int) -> np.ndarray:
    """(rows, F) -> (n, F): averaged down or interpolated up along the rows."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).T[None]  # (1, F, rows)
    if x.shape[0] > n:
        t = F.adaptive_avg_pool1d(t, n)
    elif x.shape[0] < n:
        t = F.interpolate(t, size=n, mode="linear", align_corners=True)
    return t[0].T.numpy()


def feature_image(y: np.ndarray, config: ThesisWavConfig) -> np.ndarray:
    """Mono audio at config.rate -> (3, bins, frames) float32: Mel dB, MFCC, tempogram, one column per hop."""
    librosa = librosa_module()
    if len(y) < config.n_fft:
        y = np.pad(y, (0, config.n_fft - len(y)))
    mel = librosa.feature.melspectrogram(y=y, sr=config.rate, n_fft=config.n_fft, hop_length=config.hop,
                                         n_mels=config.bins)
    db = librosa.power_to_db(mel, ref=max(float(mel.max()), 1e-6), top_db=TOP_DB)  # (bins, F), 80 dB range
    mfcc = librosa.feature.mfcc(S=db, n_mfcc=config.n_mfcc)  # (n_mfcc, F)
    mfcc = (mfcc - mfcc.mean(1, keepdims=True)) / (mfcc.std(1, keepdims=True) + 1e-6)
    envelope = librosa.onset.onset_strength(y=y, sr=config.rate, n_fft=config.n_fft, hop_length=config.hop)
    tempo = librosa.feature.tempogram(onset_envelope=envelope, sr=config.rate, hop_length=config.hop,
                                      win_length=config.tempo_lags)  # (tempo_lags, F)
    n = min(db.shape[1], mfcc.shape[1], tempo.shape[1])
    channels = (np.clip(1.0 + db / TOP_DB, 0.0, 1.0), np.clip(mfcc, -4.0, 4.0) / 4.0, np.nan_to_num(tempo))
    return np.stack([_rows(c[:, :n], config.bins) for c in channels]).astype(np.float32)


def onset_columns(times: np.ndarray, config: ThesisWavConfig) -> np.ndarray:
    """(N,) onset times in seconds -> (N,) the image column (frame) each falls on."""
    return np.rint(np.asarray(times, dtype=np.float64) * config.rate / config.hop).astype(np.int64)


def pad_image(image: np.ndarray, config: ThesisWavConfig) -> np.ndarray:
    """Silence (zeros) of one window on each side, so that every onset's window lies inside."""
    return np.pad(image, ((0, 0), (0, 0), (config.frames, config.frames)))


def windows(padded: np.ndarray, columns: np.ndarray, config: ThesisWavConfig) -> np.ndarray:
    """A padded image and (N,) onset columns -> (N, 3, bins, frames): the window centred on each onset."""
    W = config.frames
    cols = np.clip(columns[:, None] + np.arange(W) - W // 2 + W, 0, padded.shape[2] - 1)  # (N, W)
    return padded[:, :, cols].transpose(2, 0, 1, 3)  # (3, bins, N, W) -> (N, 3, bins, W)


def onset_times(path: str | Path, method: str = "specflux") -> np.ndarray:
    """Onsets (seconds) that livedrum's detector finds in an audio file."""
    from livedrum.audio.source import analyse_file

    return np.asarray([o.time for o in analyse_file(path, method=method).onsets], dtype=np.float64)


def onset_targets(times: np.ndarray, song: Song) -> np.ndarray:
    """(N, 2) drum class (22: rest) and velocity of the real drummer at each onset (seconds) of its song."""
    beats = beat_at_seconds(song, np.asarray(times, dtype=np.float64))
    n = len(beats)
    events = Notes.from_lists(beats, beats + 0.25, [60] * n, [100] * n, [0] * n, [0] * n)
    classes, velocity = event_targets(events, song.drums)
    return np.stack([classes, velocity], 1).astype(np.int64).reshape(-1, 2)


@dataclass
class WavSong:
    """One song ready for training: its padded image, the column of each onset, each onset's target."""

    label: str
    padded: np.ndarray  # (3, bins, F + 2 frames) float16
    columns: np.ndarray  # (N,) int64
    targets: np.ndarray  # (N, 2) int64: class, velocity


def prepare_song(item: AudioSong, config: ThesisWavConfig) -> WavSong:
    """A rendered song (audio and its MIDI) -> image, onsets and targets."""
    times = onset_times(item.audio, config.onset_method)
    image = feature_image(load_mono(item.audio, config.rate), config)
    return WavSong(item.label, pad_image(image, config).astype(np.float16), onset_columns(times, config),
                   onset_targets(times, item.song))


def corpus_openings(paths: list[Path], cache: Path, split: str, limit: int, seconds: float) -> Iterator[AudioSong]:
    """Up to `limit` songs of the split with a drum part, round-robin over collections, the first
    `seconds` of each rendered without drums (cached with the audio evaluation's renderings)."""
    from livedrum.commands import read_sources, spread
    from livedrum.corpus import discover, split_of
    from livedrum.midifile import load_song

    seen: set[str] = set()
    unique = [s for s in discover(paths) if split_of(s.song_id) == split and not (s.song_id in seen
                                                                                  or seen.add(s.song_id))]
    by: dict[str, list] = {}
    for src, blob in read_sources(spread(unique, 2 * limit)):
        if isinstance(blob, OSError):
            continue
        try:
            song = load_song(blob, src.label)
        except (ValueError, OSError, EOFError):
            continue
        if len(song.drums) >= MIN_DRUM_NOTES and len(song.band) > 0:
            by.setdefault(src.collection, []).append((src.label, blob, song))
    done = 0
    while done < limit and any(by.values()):
        for items in by.values():
            if not items or done >= limit:
                continue
            label, blob, song = items.pop(0)
            try:
                wav = render_band(first_seconds(blob, seconds), cache, RENDER_RATE)
            except (ValueError, OSError, EOFError) as exc:
                print(f"skipped {label}: {exc}", file=sys.stderr)
                continue
            done += 1
            yield AudioSong(label, song, wav)
