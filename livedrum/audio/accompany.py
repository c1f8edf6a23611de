"""`livedrum accompany` for audio: find the beats, hear the band on that grid, drum, and write a MIDI
file whose tempo map follows the audio, so its drums line up with the recording in any DAW.

MIDI beat 0 is the file's start (or the first beat found, when the song starts on it); then the
beats extrapolated back from the first one found, and from there every MIDI beat is a beat of the
audio, one tempo change per beat. Bars start at the first beat found (no downbeat detection yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from livedrum.audio.beatnet import BeatNet, analysis_features, beat_activation, frame_time, shipped_beatnet
from livedrum.audio.features import BeatTimes, audio_band_features
from livedrum.audio.onsets import Analyzer
from livedrum.audio.source import analyse_file
from livedrum.audio.tempo import track_activation, track_beats
from livedrum.batches import bar_lengths_of
from livedrum.features import positions_for
from livedrum.grid import STEPS_PER_BEAT, TimeSignature
from livedrum.midiwrite import drum_track
from livedrum.perform import SongGrid
from livedrum.song import Notes

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".au", ".w64", ".rf64")
TICKS_PER_BEAT = 480
MIN_BEATS = 4


def is_audio_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


@dataclass
class AudioGrid:
    """A recording on the beat grid: where each MIDI beat falls in it, and its band features."""

    beat_times: np.ndarray  # (n_beats + 1,) seconds of MIDI beats 0..n_beats (beat 0 at 0.0)
    pickup: int  # beats before the first bar line (0 when the song starts on a downbeat)
    grid: SongGrid
    analyzer: Analyzer

    @property
    def time_signatures(self) -> list[TimeSignature]:
        return signatures(self.pickup)


def signatures(pickup: int) -> list[TimeSignature]:
    """4/4, after a short pickup bar when the song does not start on a downbeat."""
    if pickup == 0:
        return [TimeSignature(0.0)]
    return [TimeSignature(0.0, pickup, 4), TimeSignature(float(pickup))]


def beat_grid(beats: np.ndarray, duration: float, beats_per_bar: int = 4) -> tuple[np.ndarray, int]:
    """(MIDI beat times from 0 s to past the end, pickup beats) from the beats a tracker found.

    The first beat found starts a bar (no downbeat detection yet): beats extrapolated before it
    make a pickup bar."""
    first = beats[1] - beats[0]
    last = beats[-1] - beats[-2]
    before = np.arange(int(np.floor(beats[0] / first)), 0, -1)
    lead = beats[0] - before * first  # extrapolated beats between 0 s and the first found
    after = beats[-1] + last * np.arange(1, int(np.ceil(max(0.0, duration - beats[-1]) / last)) + 1)
    lead = lead[lead > 0.1 * first]
    if beats[0] < 0.1 * first:  # the song starts on a beat: that beat is MIDI beat 0, no sliver before it
        beats = np.concatenate([[0.0], beats[1:]])
        times = np.concatenate([beats, after])
    else:
        times = np.concatenate([[0.0], lead, beats, after])
    first_found = len(times) - len(beats) - len(after)  # index of beats[0] in times
    pickup = first_found % beats_per_bar
    return times, pickup


def find_beats(analyzer: Analyzer, net: BeatNet | None = None) -> np.ndarray:
    """The beats (seconds) of an analysed recording: on the beat network's activation when there is one
    and the band played, else on the onset envelope (which peaks `flux_lag_s` after the onsets)."""
    if net is not None and len(analyzer.onsets) >= MIN_BEATS:  # silence: the network's output means nothing
        beat, _ = beat_activation(net, analysis_features(analyzer))
        start, frame_s = frame_time(analyzer.t0, analyzer.hop_s)
        beats = track_activation(beat, frame_s, start)
        if len(beats):
            return beats
    return track_beats(np.asarray(analyzer.flux), analyzer.hop_s, analyzer.t0 - analyzer.flux_lag_s)


def audio_grid(path: str | Path, hop: int = 256, method: str = "specflux", channel: int | None = None,
               beats_per_bar: int = 4, net: BeatNet | None | str = "shipped") -> AudioGrid:
    """Analyse a recording and put its band on the beat grid; ValueError when no beat can be found.

    net: the beat network that finds the beats ("shipped": `models/livedrum-beats.pt` where it is;
    None: the onset-envelope tracker)."""
    analyzer = analyse_file(path, hop, method, channel)
    beats = find_beats(analyzer, shipped_beatnet() if net == "shipped" else net)
    if len(beats) < MIN_BEATS:
        raise ValueError(f"{Path(path).name}: no steady beat found (too short or too quiet?)")
    duration = analyzer.times[-1]
    times, pickup = beat_grid(beats, duration, beats_per_bar)
    return AudioGrid(times, pickup, grid_on(analyzer, times, signatures(pickup)), analyzer)


def grid_on(analyzer: Analyzer, times: np.ndarray, time_signatures: list[TimeSignature]) -> SongGrid:
    """An analysed recording's band features on a beat timeline (seconds of beats 0..n) and meter: the
    tracked beats for `accompany`, a song's true beats for fitting the audio selector."""
    n_beats = len(times) - 1
    position, bar, beat_in_bar = positions_for(n_beats, time_signatures)
    band = audio_band_features(analyzer.onsets, np.asarray(analyzer.times), np.asarray(analyzer.levels),
                               BeatTimes(times), n_beats * STEPS_PER_BEAT)
    return SongGrid(band, position, bar_lengths_of(bar, beat_in_bar), 60.0 / np.maximum(np.diff(times), 1e-3))


def write_audio_accompaniment(grid: AudioGrid, drums: Notes, out: Path) -> None:
    """A type 1 MIDI file: the audio's tempo map (one tempo per beat), meter, and the drum track."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    meta = mido.MidiTrack([mido.MetaMessage("track_name", name="tempo map of the audio", time=0)])
    events = [(int(round(s.beat * TICKS_PER_BEAT)), 0,
               mido.MetaMessage("time_signature", numerator=s.numerator, denominator=s.denominator))
              for s in grid.time_signatures]
    for b, dt in enumerate(np.diff(grid.beat_times)):
        tempo = int(np.clip(round(dt * 1e6), 1, 0xFFFFFF))
        events.append((b * TICKS_PER_BEAT, 1, mido.MetaMessage("set_tempo", tempo=tempo)))
    events.sort(key=lambda e: (e[0], e[1]))
    last = 0
    for tick, _, msg in events:
        meta.append(msg.copy(time=tick - last))
        last = tick
    meta.append(mido.MetaMessage("end_of_track", time=0))
    mid.tracks.extend([meta, drum_track(drums, TICKS_PER_BEAT)])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        mid.save(str(out))
    except OSError as exc:
        raise ValueError(f"cannot write {out}: {exc.strerror or exc}") from exc
