"""The service's listening socket, bound before anything is printed or loaded, so that a busy port
is a one-line error instead of a "serving ..." line followed by uvicorn's traceback."""

from __future__ import annotations

import errno
import socket


def address(host: str, port: int) -> str:
    """``host:port`` as a URL writes it (IPv6 addresses in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening: uvicorn listens on it when it starts).

    Raises:
        ValueError: the port is already in use, or the address cannot be bound (unknown host,
            permission denied, ...); the message names ``host:port``.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn does
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free; a listening one is not
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ValueError(f"{address(host, port)} is already in use") from None
        raise ValueError(f"cannot listen on {address(host, port)}: {error.strerror or error}") from None
    sock.set_inheritable(True)
    return sock
