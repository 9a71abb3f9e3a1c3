"""Test-wide guards: no test may open a network connection (the course runs offline)."""

from __future__ import annotations

import socket

import pytest


class NetworkBlocked(RuntimeError):
    pass


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):      # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    return host in ("localhost", "127.0.0.1", "::1") or str(host).startswith("127.")


def _guarded(real):
    def connect(self, address, *args, **kwargs):
        if not _is_local(address):
            raise NetworkBlocked(f"test tried to open a network connection to {address!r}")
        return real(self, address, *args, **kwargs)
    return connect


@pytest.fixture(autouse=True, scope="session")
def block_network():
    """Every test runs with outbound connections refused (loopback stays allowed)."""
    socket.socket.connect = _guarded(_real_connect)
    socket.socket.connect_ex = _guarded(_real_connect_ex)
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex
