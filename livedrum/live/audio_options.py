"""`livedrum run`'s sound card options, and how they plug the audio input into the daemon.

Kept apart from `audio_input` so that building the command line imports neither numpy nor aubio.
"""

from __future__ import annotations

import argparse

# livedrum.audio.onsets.ONSET_METHODS (a test keeps them equal): our causal flux detector, then aubio's
ONSET_METHODS = ("flux", "energy", "hfc", "complex", "phase", "wphase", "specdiff", "kl", "mkl", "specflux")


def add_audio_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audio-in", nargs="?", const="", default=None, metavar="DEVICE",
                   help="also listen to a sound card input (a name substring or an index from livedrum ports; "
                        "no value: the system's default input): onsets, tempo and beat phase from the audio")
    p.add_argument("--audio-rate", type=int, default=None, metavar="HZ",
                   help="sample rate of the audio input (default: the device's own)")
    p.add_argument("--audio-block", type=int, default=256, metavar="FRAMES",
                   help="frames per audio block from the sound card (default 256)")
    p.add_argument("--audio-channel", type=int, default=None, metavar="N",
                   help="listen to this input channel only, 1-based (default: the mix of the first two)")
    p.add_argument("--onset-method", default="flux", choices=ONSET_METHODS,
                   help="onset detector for the audio input: flux (default: livedrum's own, about 12 ms from "
                        "the note to its features) or one of aubio's (about 25 ms: they wait past the peak)")


def open_audio(args: argparse.Namespace, drummer, log):  # noqa: ANN001, ANN201
    """The running audio input `--audio-in` asks for, feeding `drummer`; None without it. A missing
    or refusing device, or a bad option, is ValueError or OSError in one line."""
    if getattr(args, "audio_in", None) is None:
        return None
    if not 16 <= args.audio_block <= 8192:
        raise ValueError(f"--audio-block must be within 16..8192 frames, got {args.audio_block}")
    if args.audio_channel is not None and args.audio_channel < 1:
        raise ValueError(f"--audio-channel counts from 1, got {args.audio_channel}")
    if args.audio_rate is not None and not 8000 <= args.audio_rate <= 192000:
        raise ValueError(f"--audio-rate must be within 8000..192000 Hz, got {args.audio_rate}")
    from livedrum.live.audio_input import AudioInput

    device = args.audio_in or None
    channel = None if args.audio_channel is None else args.audio_channel - 1
    try:
        return AudioInput(drummer, log, device, args.audio_rate, args.audio_block, channel, args.onset_method)
    except ImportError as exc:  # sounddevice or aubio missing
        raise OSError(f"audio input needs sounddevice and aubio ({exc})") from exc


def follow_audio(args: argparse.Namespace, audio, drummer, sync):  # noqa: ANN001, ANN201
    """The clock with a microphone: `--clock follow` also hears the audio onsets; `--clock internal`
    without `--bpm` takes tempo and phase from the audio's beat tracker; any other keeps `sync`."""
    if audio is None:
        return sync
    if args.clock == "follow" and sync is not None:
        audio.band.on_onset.append(sync.onset)
    elif args.clock == "internal" and args.bpm is None:
        sync = audio.follow_tempo(drummer.cfg.bpm)
        drummer.sync = sync
    return sync
