"""Free the places that dead JACK servers hold in JACK's shared registry.

jackd 1.9 keeps at most 8 servers in `/dev/shm/jack-shm-registry` and frees the place of a server that
died without cleaning up (SIGKILL, a crash) only when a new server of the same name starts. Test servers
have names of their own, and one test kills its server on purpose, so every test run left one dead
place behind, and after six runs on one machine every jackd refused to start ("Too many servers already
active"). This does what jackd does for a reused name, for every place whose process is gone.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

REGISTRY = Path("/dev/shm/jack-shm-registry")
MAGIC = 0x4A41434B  # "JACK"
MAX_SERVERS = 8
TEST_PREFIX = "livedrum-test-"
# jack_shm_header_t: magic u32, protocol u16 (+2 padding), type i32, size i32, hdr_len i32, entry_len i32,
# then server[MAX_SERVERS] of {pid_t pid; char name[257]} (padded to 264 bytes each).
HEADER = struct.Struct("<IH2xiiii")


def reclaim_dead_servers(registry: Path = REGISTRY) -> list[str]:
    """Zero the registry places of servers whose process no longer exists, and remove their leftover
    sockets and semaphores beside the registry. Returns the names freed; nothing when there is no
    registry, it is not one jackd 1.9 wrote, or it cannot be written (another user's)."""
    try:
        data = bytearray(registry.read_bytes())
    except OSError:
        return []
    if len(data) < HEADER.size:
        return []
    magic, _protocol, _kind, _size, hdr_len, _entry_len = HEADER.unpack_from(data)
    place = (hdr_len - HEADER.size) // MAX_SERVERS
    if magic != MAGIC or place < 8 or HEADER.size + place * MAX_SERVERS > len(data):
        return []
    freed = []
    try:
        with open(registry, "r+b") as f:
            for i in range(MAX_SERVERS):
                offset = HEADER.size + i * place
                (pid,) = struct.unpack_from("<i", data, offset)
                if pid <= 0 or _alive(pid):
                    continue
                f.seek(offset)
                f.write(bytes(place))
                freed.append(_server_name(data[offset + 4:offset + place]))
    except OSError:  # another user's registry: jackd itself will say what is wrong
        pass
    for name in freed:
        _remove_leftovers(registry.parent, name)
    return freed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _server_name(raw: bytes) -> str:
    """'jack-0:NAME:' (jackd's per-user prefix) -> NAME."""
    text = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    parts = text.split(":")
    return parts[1] if len(parts) >= 2 else text


def _remove_leftovers(folder: Path, name: str) -> None:
    """A killed test server's request socket and semaphores (jack_NAME_0_0, jack_sem.UID_NAME_CLIENT); only
    ours, whose names cannot be the tail of another server's."""
    if not name.startswith(TEST_PREFIX):
        return
    for pattern in (f"jack_{name}_*", f"jack_sem.*_{name}_*"):
        for path in folder.glob(pattern):
            try:
                path.unlink()
            except OSError:
                pass
