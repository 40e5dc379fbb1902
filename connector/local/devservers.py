"""Redis for trying Parlons out locally: REDIS_URL if set, else a private redis-server, else an
in-process Redis-compatible server (fakeredis) that is fine for a demo and nothing more."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

log = logging.getLogger("parlons.dev")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(port: int, path: str = "/ping", seconds: float = 30.0,
                  process: subprocess.Popen | None = None) -> None:
    """Until a server on this local port answers 200 on `path` (RuntimeError if it does not, or
    if `process`, the server's, ends first)."""
    import http.client

    deadline = time.monotonic() + seconds
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
            raise RuntimeError(f"nothing answered on port {port}")
        time.sleep(0.1)


def _wait_for(url: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def local_redis(workdir: Path) -> tuple[str, Callable[[], None], str]:
    """(url, stop, description) of the Redis this process should use."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], lambda: None, "REDIS_URL"
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = shutil.which("redis-server")
    if server:
        workdir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_for(url)

        def stop() -> None:
            proc.terminate()
            proc.wait(timeout=10)

        return url, stop, f"private redis-server on port {port}"
    from fakeredis import TcpFakeServer

    log.warning(
        "No REDIS_URL and no redis-server on the PATH: using an in-process Redis-compatible "
        "server (fakeredis). It is for trying Parlons out only; use a real Redis for anything else."
    )
    fake = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    _wait_for(url)
    return url, fake.shutdown, f"in-process fakeredis on port {port} (trying out only)"
