"""Where audio comes from: a file (WAV, FLAC ... through libsndfile), or a sound card (sounddevice).

Both hand mono float32 blocks to a callback, block by block, so the analysis cannot tell a
file replay from a microphone. The sound card's callback runs on PortAudio's thread: it does
the (cheap) analysis there and must never block; overflows are counted, never fatal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from livedrum.audio.onsets import Analyzer
from livedrum.signalmask import mask_kept, signals_held

Block = Callable[[np.ndarray, float], None]  # (mono block, stream time of its first sample in seconds)


def mono(data: np.ndarray, channel: int | None = None) -> np.ndarray:
    """(frames, channels) -> (frames,): one channel (0-based), or the mean of all."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        return data
    if channel is not None:
        if not 0 <= channel < data.shape[1]:
            raise ValueError(f"audio channel {channel + 1} asked for, the input has {data.shape[1]}")
        return data[:, channel]
    return data.mean(axis=1)


class FileSource:
    """An audio file read in blocks (no need to hold a long set in memory)."""

    def __init__(self, path: str | Path, block: int = 4096, channel: int | None = None) -> None:
        import soundfile

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no such audio file: {self.path}")
        try:
            info = soundfile.info(str(self.path))
        except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
            raise ValueError(f"{self.path}: not a readable audio file ({str(exc).strip()})") from exc
        if info.frames <= 0 or info.samplerate <= 0:
            raise ValueError(f"{self.path}: the audio file holds no samples")
        self.rate, self.frames, self.channels = int(info.samplerate), int(info.frames), int(info.channels)
        self.block, self.channel = block, channel
        mono(np.zeros((1, self.channels), np.float32), channel)  # a wrong channel fails before any work

    @property
    def duration(self) -> float:
        return self.frames / self.rate

    def play(self, sink: Block) -> int:
        """Every block, in order; returns frames read (a truncated file ends early, with a ValueError)."""
        import soundfile

        done = 0
        try:
            with soundfile.SoundFile(str(self.path)) as f:
                for block in f.blocks(blocksize=self.block, dtype="float32", always_2d=True):
                    sink(mono(block, self.channel), done / self.rate)
                    done += len(block)
        except (soundfile.LibsndfileError, RuntimeError) as exc:
            raise ValueError(f"{self.path}: the audio file is damaged ({str(exc).strip()})") from exc
        if done == 0:
            raise ValueError(f"{self.path}: the audio file holds no samples")
        return done


def analyse_file(path: str | Path, hop: int = 256, method: str = "specflux", channel: int | None = None) -> Analyzer:
    """The whole file through the streaming analysis, as a live input would have gone."""
    source = FileSource(path, channel=channel)
    analyzer = Analyzer(source.rate, hop, method)
    source.play(lambda block, t: analyzer.feed(block))
    if analyzer.hops == 0:
        raise ValueError(f"{path}: too short to analyse")
    return analyzer


def find_device(device: str | int | None, kind: str = "input") -> int | None:
    """A sound card by index or by a name substring; None for the system default. ValueError if absent."""
    import sounddevice as sd

    if device is None or device == "":
        return None
    try:
        devices = sd.query_devices()
    except Exception as exc:  # PortAudio missing or failing: one line for the user
        raise OSError(f"cannot list audio devices: {exc}") from exc
    channels = "max_input_channels" if kind == "input" else "max_output_channels"
    candidates = [i for i, d in enumerate(devices) if d[channels] > 0]
    if isinstance(device, int) or str(device).isdigit():
        index = int(device)
        if index not in candidates:
            raise ValueError(f"no audio {kind} device number {index} (see livedrum ports)")
        return index
    named = [i for i in candidates if str(device).lower() in devices[i]["name"].lower()]
    if not named:
        raise ValueError(f"no audio {kind} device named like {device!r} (see livedrum ports)")
    return named[0]


def list_devices() -> list[str]:
    """One line per audio device that can capture or play: index, name, host API, channels."""
    try:
        import sounddevice as sd

        devices, apis = sd.query_devices(), sd.query_hostapis()
    except Exception as exc:
        raise OSError(f"cannot list audio devices: {exc}") from exc
    lines = []
    for i, d in enumerate(devices):
        api = apis[d["hostapi"]]["name"]
        lines.append(f"  {i}: {d['name']} ({api}, {d['max_input_channels']} in, {d['max_output_channels']} out, "
                     f"{d['default_samplerate']:.0f} Hz)")
    return lines


class CaptureSource:
    """A sound card input through sounddevice: blocks to `sink` on PortAudio's thread, overflows counted."""

    def __init__(self, device: str | int | None = None, rate: int | None = None, block: int = 256,
                 channel: int | None = None) -> None:
        with signals_held():  # PortAudio's JACK host API starts threads of its own when it first loads
            import sounddevice as sd

            self.index = find_device(device)
            info = sd.query_devices(self.index, "input")
        self.name = str(info["name"])
        self.rate = int(rate or info["default_samplerate"])
        self.block, self.channel = block, channel
        self.in_channels = max(1, int(info["max_input_channels"])) if channel is None else channel + 1
        if channel is not None and channel >= int(info["max_input_channels"]):
            raise ValueError(f"audio channel {channel + 1} asked for, {self.name} has {info['max_input_channels']}")
        if channel is None:
            self.in_channels = min(self.in_channels, 2)
        self.overflows = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._stream = None

    def start(self, sink: Block) -> None:
        """Open and start the stream; OSError in one line when the device refuses."""
        import sounddevice as sd

        def callback(indata: np.ndarray, frames: int, time_info, status) -> None:  # noqa: ANN001
            if status.input_overflow:
                with self._lock:
                    self.overflows += 1
            try:
                sink(mono(indata, self.channel), time_info.inputBufferAdcTime)
            except Exception:  # never raise into PortAudio: count, the stream goes on
                with self._lock:
                    self.errors += 1

        try:
            with signals_held():  # the stream's threads (JACK's process thread) never take SIGTERM
                self._stream = sd.InputStream(device=self.index, samplerate=self.rate, blocksize=self.block,
                                              channels=self.in_channels, dtype="float32", callback=callback)
                self._stream.start()
        except Exception as exc:
            self._stream = None
            raise OSError(f"audio input {self.name!r} cannot start: {str(exc).splitlines()[0]}") from exc

    @property
    def active(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    def stop(self) -> bool:
        """Stop and close the stream. False when PortAudio did not return within STOP_WAIT_S: a JACK
        server that died under the stream leaves PortAudio waiting for a cycle that never comes (the
        daemon froze there, deaf to SIGTERM). The stream is then left to it, and PortAudio is not shut
        down at exit either, which would wait the same way (see `stuck`)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return True
        done = threading.Event()

        def close() -> None:
            try:
                with mask_kept():  # PortAudio's JACK client may be libjack's last: see mask_kept
                    stream.abort()
                    stream.close()
            except Exception:  # a device that vanished: nothing left to close
                pass
            finally:
                done.set()

        threading.Thread(target=close, name="audio-stop", daemon=True).start()
        if done.wait(STOP_WAIT_S):
            return True
        _abandon(stream)
        return False


STOP_WAIT_S = 1.0
_ABANDONED: list[object] = []  # streams PortAudio would not let go: kept, so that nothing closes them again


def stuck() -> bool:
    """Whether a stream was abandoned: PortAudio cannot be restarted in this process (its shutdown would
    wait on that stream), so a lost device cannot be opened again until livedrum restarts."""
    return bool(_ABANDONED)


def _abandon(stream: object) -> None:
    import atexit

    import sounddevice as sd

    _ABANDONED.append(stream)
    atexit.unregister(sd._exit_handler)  # Pa_Terminate at exit would wait on it for ever
