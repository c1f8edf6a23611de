"""The test servers' registry clean-up frees dead servers' places and only those."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

from tests.live.jack_registry import HEADER, MAGIC, MAX_SERVERS, reclaim_dead_servers

PLACE = 264  # jackd 1.9.21 on x86-64: pid_t + char[257], padded
ENTRY = 268


def _registry(path: Path, servers: dict[int, tuple[int, str]]) -> Path:
    """A registry as jackd writes it, with `servers` {place: (pid, name)}."""
    hdr_len = HEADER.size + MAX_SERVERS * PLACE
    size = hdr_len + 256 * ENTRY
    data = bytearray(size)
    HEADER.pack_into(data, 0, MAGIC, 0, 1, size, hdr_len, ENTRY)
    for i, (pid, name) in servers.items():
        offset = HEADER.size + i * PLACE
        struct.pack_into("<i", data, offset, pid)
        raw = f"jack-0:{name}:".encode()
        data[offset + 4:offset + 4 + len(raw)] = raw
    path.write_bytes(bytes(data))
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _pids(path: Path) -> list[int]:
    data = path.read_bytes()
    return [struct.unpack_from("<i", data, HEADER.size + i * PLACE)[0] for i in range(MAX_SERVERS)]


def test_dead_servers_places_are_freed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = _dead_pid()
    registry = _registry(tmp_path / "jack-shm-registry", {
        0: (os.getpid(), "livedrum-test-alive"),
        2: (dead, "livedrum-test-1-dead"),
        5: (dead, "someone-elses"),
    })
    (tmp_path / "jack_livedrum-test-1-dead_0_0").touch()
    (tmp_path / "jack_sem.0_livedrum-test-1-dead_system").touch()
    (tmp_path / "jack_sem.0_someone-elses_system").touch()
    before = registry.read_bytes()

    freed = reclaim_dead_servers(registry)

    assert sorted(freed) == ["livedrum-test-1-dead", "someone-elses"]
    assert _pids(registry) == [os.getpid()] + [0] * 7
    after = registry.read_bytes()
    assert after[:HEADER.size + PLACE] == before[:HEADER.size + PLACE]  # the header and the live server
    assert after[HEADER.size + MAX_SERVERS * PLACE:] == before[HEADER.size + MAX_SERVERS * PLACE:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jack-shm-registry", "jack_sem.0_someone-elses_system"]


def test_a_file_that_is_not_a_registry_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "jack-shm-registry"
    path.write_bytes(b"not jack" * 400)
    assert reclaim_dead_servers(path) == []
    assert path.read_bytes() == b"not jack" * 400
    assert reclaim_dead_servers(tmp_path / "missing") == []

