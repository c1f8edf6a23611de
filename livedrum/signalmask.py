"""Keep SIGINT and SIGTERM out of the threads that the MIDI and audio libraries start.

libjack, alsa-lib and PortAudio start threads of their own (JACK's process and notification
threads), and a new thread inherits the signal mask of the thread that creates it. A SIGTERM that
the kernel hands to one of those threads interrupts the blocking call it lives in; the daemon was
seen to die of SIGSEGV instead of stopping cleanly. Created with the signals held, those threads
never receive them, and the signals reach the main thread, where Python's handlers run.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

HELD = frozenset({signal.SIGINT, signal.SIGTERM})


@contextmanager
def signals_held() -> Iterator[None]:
    """Run the body with SIGINT and SIGTERM blocked in this thread (they stay pending, and arrive
    when it ends); every thread started inside inherits the block for good."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks, nothing to hold
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
