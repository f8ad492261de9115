"""A minimal, synchronous QMP client: enough to learn why a guest stopped.

QEMU is started with ``-qmp unix:PATH,server=on,wait=on``, so it does not
run the guest until we have connected: no event can be missed.  After QEMU
exits, ``events()`` drains what it sent.  The QEMU project's ``qemu.qmp``
package does much more, asynchronously; a dozen lines of JSON over a socket
are all we need here, and keep the console loop single-threaded.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from ci_tools.errors import HarnessError


class QmpClient:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._events: list[dict[str, Any]] = []

    def connect(self, *, timeout: float = 10.0, alive: Any = None) -> None:
        """Connect (retrying while QEMU creates the socket) and negotiate capabilities."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() > deadline or (alive is not None and not alive()):
                    raise HarnessError(
                        f"QEMU's QMP socket {self.path} did not appear within {timeout:g} s"
                    ) from None
                time.sleep(0.02)
        sock.settimeout(timeout)
        self._sock = sock
        if self._read_message() is None:  # the greeting
            raise HarnessError("QEMU closed its QMP socket before greeting (it exited)")
        self.execute("qmp_capabilities")

    def execute(self, command: str, **arguments: Any) -> Any:
        if self._sock is None:
            raise HarnessError("QMP command before connect")
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError as exc:
            raise HarnessError(f"QMP {command}: QEMU is gone ({exc.strerror})") from exc
        while True:
            reply = self._read_message()
            if reply is None:
                raise HarnessError(f"QEMU closed QMP while answering {command}")
            if "event" in reply:
                self._events.append(reply)
                continue
            if "error" in reply:
                raise HarnessError(f"QMP {command} failed: {reply['error'].get('desc')}")
            return reply.get("return")

    def _read_message(self) -> dict[str, Any] | None:
        assert self._sock is not None
        while b"\n" not in self._buffer:
            try:
                chunk = self._sock.recv(65536)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def events(self, *, timeout: float = 2.0) -> list[dict[str, Any]]:
        """Every event QEMU sent, reading until it closes the socket (it has exited)."""
        if self._sock is not None:
            self._sock.settimeout(timeout)
            while (message := self._read_message()) is not None:
                if "event" in message:
                    self._events.append(message)
        return list(self._events)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
