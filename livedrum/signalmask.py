"""Keep SIGINT and SIGTERM out of the threads that the MIDI and audio libraries start.

libjack, alsa-lib and PortAudio start threads of their own (JACK's process and notification
threads), and a new thread inherits the signal mask of the thread that creates it. A SIGTERM that
the kernel hands to one of those threads interrupts the blocking call it lives in (a suspect, not
a proven cause, when the daemon died of SIGSEGV at SIGTERM in CI). Created with the signals held,
those threads never receive them, and the signals reach the main thread, where Python's handlers run.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

HELD = frozenset({signal.SIGINT, signal.SIGTERM})


@contextmanager
def _mask_restored(block: frozenset[signal.Signals]) -> Iterator[None]:
    """Run the body with `block` added to this thread's signal mask, then put the mask back as it was."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, block)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def signals_held() -> AbstractContextManager[None]:
    """Run the body with SIGINT and SIGTERM blocked in this thread (they stay pending, and arrive
    when it ends); every thread started inside inherits the block for good."""
    return _mask_restored(HELD)


def mask_kept() -> AbstractContextManager[None]:
    """Run the body, then put this thread's signal mask back as it was. When its last client closes,
    libjack restores the mask it saw when its first one opened, which was held: without this, the
    thread that closed it (the main one) would never take SIGTERM again, nor would processes it starts."""
    return _mask_restored(frozenset())


def take_signals() -> None:
    """Let this thread take SIGINT and SIGTERM, whatever mask the process was started with (a parent
    whose thread held them passes the mask on): the daemon must always stop on SIGTERM."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)
