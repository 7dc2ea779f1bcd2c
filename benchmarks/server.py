"""`proposal-router serve` as its own process on a fresh SQLite file, for benchmarks that talk to it over
loopback: started, waited for until ready, and stopped whatever happens."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Server:
    url: str
    key: str
    pid: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cli(*args: str) -> str:
    return subprocess.run(["proposal-router", *args], check=True, capture_output=True, text=True).stdout


@contextmanager
def serve(bundle: Path, encoder: str, role: str = "screener", **env: str) -> Iterator[Server]:
    """The service on `bundle` with a key of `role`; `env` adds PROPOSAL_ROUTER_* settings."""
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'service.db'}"
        key = _cli("keys", "create", "--role", role, "--name", "benchmark", "--db", db).strip().splitlines()[-1]
        port = _free_port()
        command = ["proposal-router", "serve", "--model", str(bundle), "--encoder", encoder, "--db", db]
        server = subprocess.Popen(
            [*command, "--port", str(port)],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the service did not start")
                time.sleep(0.5)
            yield Server(url, key, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
