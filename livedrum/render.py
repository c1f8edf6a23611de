"""Hear what the drummer played: MIDI rendered through a SoundFont (FluidSynth), and mixes of song and drums.

FluidSynth is driven through its command line (Debian `fluidsynth`), so nothing native is linked into
livedrum; audio files are read and written with soundfile (libsndfile: WAV, FLAC, OGG ...).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SOUNDFONT_ENV = "LIVEDRUM_SOUNDFONT"
SOUNDFONT_PATHS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
)
RENDER_TIMEOUT_S = 900.0
TAIL_S = 60.0  # audio allowed past the file's last event (release tails) before a render counts as runaway
RELEASE_CONTROLS = (64, 66, 123)  # sustain and sostenuto pedals up, all notes off


def find_soundfont() -> Path:
    """The General MIDI SoundFont to render with: $LIVEDRUM_SOUNDFONT, else the first Debian one installed."""
    env = os.environ.get(SOUNDFONT_ENV)
    if env:
        path = Path(env)
        if not path.is_file():
            raise FileNotFoundError(f"{SOUNDFONT_ENV}={env}: no such SoundFont file")
        return path
    for path in SOUNDFONT_PATHS:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "no General MIDI SoundFont found: install the Debian package timgm6mb-soundfont "
        f"(or fluid-soundfont-gm), or set {SOUNDFONT_ENV}=FILE.sf2"
    )


def render_midi(midi_path: str | Path, wav_path: str | Path, soundfont: str | Path | None = None,
                rate: int = 44100) -> Path:
    """Render a MIDI file to audio (the type follows wav_path's extension) with the fluidsynth CLI."""
    midi_path, wav_path = Path(midi_path), Path(wav_path)
    sf2 = Path(soundfont) if soundfont is not None else find_soundfont()
    if not sf2.is_file():
        raise FileNotFoundError(f"no such SoundFont file: {sf2}")
    if not midi_path.is_file():
        raise FileNotFoundError(f"no such MIDI file: {midi_path}")
    if not 8000 <= int(rate) <= 192000:
        raise ValueError(f"sample rate {rate} Hz is out of range (8000 to 192000)")
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise FileNotFoundError("fluidsynth not found: install the Debian package fluidsynth")
    try:
        wav_path.parent.mkdir(parents=True, exist_ok=True)
        wav_path.unlink(missing_ok=True)
    except OSError as exc:
        raise OSError(f"cannot write {wav_path}: {exc.strerror or exc}") from exc
    with tempfile.TemporaryDirectory(prefix="livedrum-render-") as tmp:
        played, seconds = released(midi_path, Path(tmp) / "released.mid")
        # 8 bytes a frame covers every sample format fluidsynth writes (up to 32-bit stereo)
        max_bytes = None if seconds is None else int((seconds + TAIL_S) * int(rate) * 8) + 1_000_000
        cmd = [exe, "-n", "-i", "-q", "-g", "0.5", "-r", str(int(rate)), "-F", str(wav_path), str(sf2), str(played)]
        returncode, output = _run_bounded(cmd, wav_path, max_bytes, midi_path)
    # fluidsynth exits 0 on several failures (unreadable SoundFont, unwritable output): check what it wrote
    errors = [line for line in output.splitlines() if "error" in line.lower()]
    if returncode != 0 or errors or not wav_path.is_file() or wav_path.stat().st_size <= 44:
        reason = errors[0] if errors else f"exit status {returncode}, no audio written"
        reason = reason.removeprefix("fluidsynth: ").removeprefix("error: ")
        raise OSError(f"fluidsynth could not render {midi_path}: {reason}")
    return wav_path


def released(midi_path: Path, out: Path) -> tuple[Path, float | None]:
    """A copy of the MIDI file that lifts the pedals and ends every note at its last event, and the
    file's length in seconds (None, with the file itself, where mido cannot read it: fluidsynth's own
    error then names the problem).

    FluidSynth renders until every voice has died: one note-on never switched off (a corpus file ends
    so, on a sustaining guitar) turned a 19-second song into 7 GB of audio in four minutes, unending.
    """
    import mido

    try:
        mid = mido.MidiFile(str(midi_path), clip=True)
        seconds = float(mid.length)
    except (OSError, ValueError, EOFError, KeyError, IndexError, TypeError):  # a type 2 file too: no length
        return midi_path, None
    if not mid.tracks:
        return midi_path, seconds
    end = max(sum(msg.time for msg in track) for track in mid.tracks)
    release = mido.MidiTrack()
    for channel in range(16):
        for control in RELEASE_CONTROLS:
            release.append(mido.Message("control_change", channel=channel, control=control, value=0,
                                        time=end if len(release) == 0 else 0))
    mid.type = 1
    mid.tracks.append(release)
    mid.save(str(out))
    return out, seconds


def _run_bounded(cmd: list[str], wav_path: Path, max_bytes: int | None, midi_path: Path) -> tuple[int, str]:
    """Run fluidsynth; stop it, with a clear error, past RENDER_TIMEOUT_S or once it has written more
    audio than the song can hold (a render that never ends would otherwise fill the disk)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    waited = 0.0
    while True:
        try:
            output, _ = proc.communicate(timeout=0.25)
            return proc.returncode, output
        except subprocess.TimeoutExpired:
            waited += 0.25
        runaway = max_bytes is not None and wav_path.is_file() and wav_path.stat().st_size > max_bytes
        if runaway or waited >= RENDER_TIMEOUT_S:
            proc.kill()
            proc.communicate()
            wav_path.unlink(missing_ok=True)
            if runaway:
                raise OSError(f"fluidsynth kept rendering {midi_path} past its end (over {TAIL_S:.0f} s of audio "
                              "after the last event): stopped")
            raise OSError(f"fluidsynth took over {RENDER_TIMEOUT_S:.0f} s rendering {midi_path}")


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """An audio file as float32 (frames, channels) and its sample rate; one clear error if unreadable."""
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such audio file: {path}")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable audio file ({str(exc).strip() or type(exc).__name__})") from exc
    if len(data) == 0:
        raise ValueError(f"{path}: the audio file holds no samples")
    return data, int(rate)


def to_stereo(data: np.ndarray) -> np.ndarray:
    """(frames, channels) -> (frames, 2): mono is doubled, more channels keep the first two."""
    if data.shape[1] == 1:
        return np.repeat(data, 2, axis=1)
    return data[:, :2]


def resample(data: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Linear resampling: enough for a listening mix (the analysis never resamples)."""
    if rate == new_rate or len(data) == 0:
        return data
    n = max(1, int(round(len(data) * new_rate / rate)))
    t = np.arange(n) * (rate / new_rate)
    src = np.arange(len(data))
    return np.stack([np.interp(t, src, data[:, c]) for c in range(data.shape[1])], axis=1).astype(np.float32)


def mix_audio(parts: Sequence[str | Path], out_path: str | Path, gains: Sequence[float] | None = None,
              rate: int | None = None) -> Path:
    """Sum audio files into one stereo file (at the first part's rate unless told), peak-limited to -1 dBFS."""
    import soundfile

    if not parts:
        raise ValueError("nothing to mix")
    gains = list(gains) if gains is not None else [1.0] * len(parts)
    if len(gains) != len(parts):
        raise ValueError("one gain per part")
    loaded = [read_audio(p) for p in parts]
    rate = int(rate or loaded[0][1])
    tracks = [resample(to_stereo(data), r, rate) * float(g) for (data, r), g in zip(loaded, gains)]
    mix = np.zeros((max(len(t) for t in tracks), 2), dtype=np.float32)
    for t in tracks:
        mix[: len(t)] += t
    peak = float(np.max(np.abs(mix))) if len(mix) else 0.0
    limit = 10 ** (-1 / 20)
    if peak > limit:
        mix *= limit / peak
    out_path = Path(out_path)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(out_path), mix, rate, subtype="PCM_16")
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        raise OSError(f"could not write {out_path}: {str(exc).strip()}") from exc
    return out_path


def render_mix(song: str | Path, drums_midi: str | Path, out_path: str | Path, soundfont: str | Path | None = None,
               drum_gain: float = 1.0) -> Path:
    """Song (audio file, or MIDI rendered first) plus the drum MIDI rendered at the song's rate, as one file."""
    song = Path(song)
    is_midi = song.suffix.lower() in (".mid", ".midi")
    rate = 44100
    if not is_midi:
        import soundfile

        try:
            rate = int(soundfile.info(str(song)).samplerate)
        except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
            raise ValueError(f"{song}: not a readable audio file") from exc
    with tempfile.TemporaryDirectory(prefix="livedrum-mix-") as tmp:
        band = render_midi(song, Path(tmp) / "band.wav", soundfont, rate) if is_midi else song
        drums = render_midi(drums_midi, Path(tmp) / "drums.wav", soundfont, rate)
        return mix_audio([band, drums], out_path, gains=[1.0, drum_gain], rate=rate)
