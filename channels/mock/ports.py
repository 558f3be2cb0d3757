"""Free loopback ports for the sandbox elements of one process, never handed out twice.

``free_port`` binds port 0, reads the number and closes the socket, so two calls (or a
call and a port somebody chose but has not bound yet, such as the service's own
``--port`` while demo mode starts) can meet on the same number. Demo mode reserves the
service's port first; every element then takes its ports from ``take()``.
``PORTS`` is this process's allocator (``router.demo.PortAllocator``) that every mock
element names, so the service reserves its port in the same one the SMSC takes from.
"""

from __future__ import annotations

import socket
import threading


class LoopbackPorts:
    """Free loopback ports, each handed out once (``router.demo.PortAllocator``)."""

    def __init__(self) -> None:
        self._taken: set[int] = set()
        self._lock = threading.Lock()

    def reserve(self, port: int) -> None:
        """Never hand out ``port`` (the service's own, chosen but not yet bound)."""
        with self._lock:
            self._taken.add(port)

    def take(self) -> int:
        """A loopback port that is free now and that this allocator has not handed out."""
        with self._lock:
            for _ in range(100):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", 0))
                    port: int = sock.getsockname()[1]
                if port not in self._taken:
                    self._taken.add(port)
                    return port
        raise OSError("no free loopback port that was not already handed out")


PORTS = LoopbackPorts()
reserve = PORTS.reserve
take = PORTS.take
