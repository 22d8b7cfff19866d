"""Make outbound network access fail loudly: tutorials must run offline.

Loopback (127.0.0.0/8, ::1, localhost) and Unix sockets stay allowed, so torchrun and
local servers work. Every blocked attempt is recorded in `BLOCKED` (the pytest plugin
fails the test that made it even if the code swallowed the error) and printed to stderr
(tools/run/runner.py fails an ```sh unit whose scripts printed it).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

BLOCKED: list[str] = []
MESSAGE = "network access blocked in tests: {} (tutorial code must run offline)"


# On PYTHONPATH, tools/run/netguard/sitecustomize.py installs this guard in every Python process.
GUARD_PATH = os.pathsep.join(str(Path(__file__).resolve().parent / d) for d in ("netguard", "."))


def guarded_env(**extra: str) -> dict[str, str]:
    """The environment for a script a test or the runner starts: this guard in its process, one
    torch thread (other tests run beside it on a 2-core machine), and `extra`."""
    return dict(os.environ, PYTHONPATH=GUARD_PATH, OMP_NUM_THREADS="1", **extra)


class NetworkBlocked(ConnectionRefusedError):
    pass


def _is_local(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str):
    BLOCKED.append(what)
    print(MESSAGE.format(what), file=sys.stderr)
    raise NetworkBlocked(MESSAGE.format(what))


def install() -> None:
    if getattr(socket, "_no_network", False):
        return
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _refuse(f"connection to {address[0]}:{address[1]}")

    def connect(self, address):
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host.decode() if isinstance(host, bytes) else host):
            _refuse(f"name lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.getaddrinfo = getaddrinfo
    socket._no_network = True
