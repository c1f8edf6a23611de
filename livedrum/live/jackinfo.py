"""Is the JACK server realtime? Asked once at start, through the libjack rtmidi already loaded.

A JACK server without realtime scheduling (`jackd --no-realtime`, or one refused SCHED_FIFO) lets the
kernel preempt its clients' process threads. A preempted client's callback runs past its cycle, and
rtmidi's JACK input then can read an event buffer the next cycle is rewriting: garbage sizes and, in
our 15-minute soaks, a SIGSEGV (a receiver's core dump stops in rtmidi's `jackProcessIn`; the daemon
died in a native thread in another).
Notes also come late. So the daemon says so, once, at start: a stage's JACK should run realtime
(jackd's default, `-R`; qjackctl's "Realtime").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os

import rtmidi

from livedrum.signalmask import mask_kept, signals_held

JACK_NO_START_SERVER = 0x01


def _libjack() -> ctypes.CDLL | None:
    """The libjack rtmidi uses (its wheel bundles one: the same copy, so the same server connection
    state), else the system's."""
    here = os.path.dirname(os.path.dirname(rtmidi.__file__))
    bundled = sorted(glob.glob(os.path.join(here, "python_rtmidi*", "libjack*.so*")))
    for path in [*bundled, ctypes.util.find_library("jack")]:
        if path:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            lib.jack_client_open.restype = ctypes.c_void_p
            lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
            lib.jack_is_realtime.argtypes = [ctypes.c_void_p]
            lib.jack_client_close.argtypes = [ctypes.c_void_p]
            return lib
    return None


def server_is_realtime(client_name: str = "livedrum-probe") -> bool | None:
    """True or False for the JACK server JACK_DEFAULT_SERVER names; None when it cannot be asked
    (no libjack, no server). Opens and closes a client of its own (a few milliseconds)."""
    lib = _libjack()
    if lib is None:
        return None
    status = ctypes.c_int(0)
    with signals_held():  # libjack's threads inherit this thread's mask: they never take SIGTERM
        client = lib.jack_client_open(client_name.encode(), JACK_NO_START_SERVER, ctypes.byref(status))
    if not client:
        return None
    try:
        return bool(lib.jack_is_realtime(client))
    finally:
        with mask_kept():
            lib.jack_client_close(client)


NOT_REALTIME = ("the JACK server runs without realtime scheduling: notes may come late, and rtmidi's JACK input "
                "can crash when its thread is preempted; start jackd with -R (its default) or tick Realtime in "
                "qjackctl")
