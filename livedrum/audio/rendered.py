"""Corpus songs as audio: validation (or training) songs, their drums removed, rendered through a SoundFont.

The rendered files are cached (by the song's bytes), so benchmarks, the audio evaluation and
audio training data share one rendering. Each item keeps its MIDI song: the true beats and the
real drummer's part come from it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from livedrum.corpus import discover, split_of
from livedrum.midifile import load_song
from livedrum.render import render_midi
from livedrum.song import Song

MIN_DRUM_NOTES = 64
MAX_SECONDS = 360.0


@dataclass
class AudioSong:
    label: str
    song: Song  # the MIDI song, drums included (the reference)
    audio: Path  # the band without drums, rendered

    def beat_times(self) -> np.ndarray:
        """True beats (seconds) from the first to the last band note."""
        return self.song.seconds_at(band_beats(self.song))


def band_beats(song: Song) -> np.ndarray:
    """The song's whole beats from the one before the band's first note to the one after its last."""
    return np.arange(int(np.floor(song.band.start.min())), int(np.ceil(song.band.end.max())) + 1)


def without_drums(data: bytes) -> bytes:
    """The MIDI file's bytes with every channel-10 event removed (as `livedrum eval` hears a song)."""
    mid = mido.MidiFile(file=io.BytesIO(data), clip=True)
    for track in mid.tracks:
        tick, last, kept = 0, 0, []
        for msg in track:
            tick += msg.time
            if not msg.is_meta and hasattr(msg, "channel") and msg.channel == 9:
                continue
            kept.append(msg.copy(time=tick - last))
            last = tick
        track[:] = kept
    out = io.BytesIO()
    mid.save(file=out)
    return out.getvalue()


def beat_at_seconds(song: Song, seconds: np.ndarray | float) -> np.ndarray:
    """The song's beat positions at times in seconds: its tempo map inverted."""
    starts = np.array([b for b, _ in song.tempos], dtype=np.float64)
    spb = np.array([us for _, us in song.tempos], dtype=np.float64) / 1e6
    at = np.asarray(song.seconds_at(starts))
    seconds = np.asarray(seconds, dtype=np.float64)
    i = np.clip(np.searchsorted(at, seconds, side="right") - 1, 0, len(starts) - 1)
    return starts[i] + (seconds - at[i]) / spb[i]


def first_seconds(data: bytes, seconds: float) -> bytes:
    """The MIDI file's bytes cut after `seconds`: later events dropped, notes still sounding ended there
    (training on audio needs many songs' openings more than a few whole songs)."""
    song = load_song(data)
    limit = int(np.ceil(float(beat_at_seconds(song, seconds)) * song.ticks_per_beat))
    mid = mido.MidiFile(file=io.BytesIO(data), clip=True)
    for track in mid.tracks:
        tick, last, kept = 0, 0, []
        for msg in track:
            tick += msg.time
            ends = msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0)
            if tick >= limit and not (ends or msg.type == "end_of_track"):
                continue
            at = min(tick, limit)
            kept.append(msg.copy(time=at - last))
            last = at
        track[:] = kept
    out = io.BytesIO()
    mid.save(file=out)
    return out.getvalue()


def render_band(data: bytes, cache: Path, rate: int = 44100) -> Path:
    """A MIDI file's bytes rendered without drums, cached by those bytes: the WAV's path."""
    key = hashlib.sha1(data).hexdigest()[:16]
    wav = cache / f"{key}-{rate}.wav"
    if not wav.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        mid = cache / f"{key}.mid"
        mid.write_bytes(without_drums(data))
        render_midi(mid, wav, rate=rate)
    return wav


def pick_songs(n: int, data: str | None = None, split: str = "validation") -> list[tuple[str, bytes, Song]]:
    """Up to n songs of a split with a real drum part, one file per song, round-robin over collections
    (as eval's `spread`): (label, MIDI bytes, song), by label."""
    from livedrum.commands import read_sources, spread
    from livedrum.corpus import data_root, default_paths
    from livedrum.evaluate import MIN_DRUM_HITS
    from livedrum.metrics import drum_note_count

    sources = [s for s in discover(default_paths(data_root(data))) if split_of(s.song_id) == split]
    seen: set[str] = set()
    unique = [s for s in sources if not (s.song_id in seen or seen.add(s.song_id))]
    by: dict[str, list] = {}
    for src, blob in read_sources(spread(unique, 4 * n)):
        if isinstance(blob, OSError):
            continue
        try:
            song = load_song(blob, src.label)
        except (ValueError, OSError, EOFError):
            continue
        if (len(song.drums) < MIN_DRUM_NOTES or drum_note_count(song.drums) < MIN_DRUM_HITS or len(song.band) == 0
                or float(song.seconds_at(song.length_beats)) > MAX_SECONDS):
            continue
        by.setdefault(src.collection, []).append((src.label, blob, song))
    out: list = []
    while len(out) < n and any(by.values()):
        for items in by.values():
            if items and len(out) < n:
                out.append(items.pop(0))
    return sorted(out, key=lambda x: x[0])
