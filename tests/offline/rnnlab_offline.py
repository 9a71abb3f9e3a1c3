"""Refuse every outbound network connection in this Python process (loopback stays open).

`make test` puts this folder on PYTHONPATH with RNNLAB_OFFLINE=1; its sitecustomize.py
imports this module at start-up, so every Python process of the test run — pytest and the
Jupyter kernels that execute the notebooks — starts with the guard installed: a chapter
that tried to download anything would fail its test.
"""

from __future__ import annotations

import os
import socket


class NetworkBlocked(RuntimeError):
    pass


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):      # AF_UNIX path
        return True
    host = str(address[0] if isinstance(address, tuple) else address)
    return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")


def _guarded(real):
    def connect(self, address, *args, **kwargs):
        if not _is_local(address):
            raise NetworkBlocked(f"network access is blocked in tests: tried {address!r}")
        return real(self, address, *args, **kwargs)
    return connect


def block() -> None:
    socket.socket.connect = _guarded(_real_connect)
    socket.socket.connect_ex = _guarded(_real_connect_ex)


def unblock() -> None:
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex


if os.environ.get("RNNLAB_OFFLINE") == "1":
    block()
