"""Shared fixtures: the repository's test vectors, the crate's command-line tool, and a real
uvicorn server on a loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def vectors() -> Any:
    return json.loads((REPO / "tests" / "vectors" / "v1.json").read_text())


def _build(manifest: Path, args: list[str], name: str) -> str:
    """Builds a Rust binary with cargo and returns its path (from cargo's JSON messages)."""
    out = subprocess.run(
        ["cargo", "build", "--manifest-path", str(manifest), "--locked", "--message-format=json", *args],
        check=True,
        stdout=subprocess.PIPE,
        timeout=900,
    ).stdout
    for line in out.decode().splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] == name:
            return msg["executable"]
    raise RuntimeError(f"cargo did not report the {name} binary")


@pytest.fixture(scope="session")
def cli() -> str:
    """The crate's `itsclassified` tool: $ITSCLASSIFIED_CLI, or built here with --features cli."""
    path = os.environ.get("ITSCLASSIFIED_CLI")
    if path:
        return path
    return _build(REPO / "Cargo.toml", ["--features", "cli", "--bin", "itsclassified"], "itsclassified")


@pytest.fixture(scope="session")
def rust_helper() -> str:
    """python/tests/rust_helper: Rust structs through rmp-serde and the crate, for byte-for-byte
    comparisons. $ITSCLASSIFIED_RUST_HELPER, or built here."""
    path = os.environ.get("ITSCLASSIFIED_RUST_HELPER")
    if path:
        return path
    return _build(Path(__file__).parent / "rust_helper" / "Cargo.toml", [], "rust_helper")


class Server:
    """A uvicorn server for `app` on 127.0.0.1, in a thread, on a port the OS picks."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        host, port = self.sock.getsockname()
        self.url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}"
        # log_config=None: uvicorn's loggers propagate to the root logger (and to caplog).
        config = uvicorn.Config(app, log_level="info", lifespan="off", log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Server] = []

    def start(app: Any) -> Server:
        server = Server(app).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


class RedisServer:
    """A real redis-server of this test run on a free loopback port, without persistence."""

    def __init__(self) -> None:
        import shutil

        if shutil.which("redis-server") is None:
            reason = "redis-server is not installed (run scripts/install_redis.sh)"
            if os.environ.get("CI") == "true":
                raise RuntimeError(f"CI=true and {reason}")
            pytest.skip(reason)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.process.kill()
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
        self.url = f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        import signal

        self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def axum_api() -> str:
    """The crate's reference example service (examples/axum_api.rs): $ITSCLASSIFIED_AXUM_API, or
    built here with the features it needs."""
    path = os.environ.get("ITSCLASSIFIED_AXUM_API")
    if path:
        return path
    return _build(REPO / "Cargo.toml", ["--example", "axum_api", "--all-features"], "axum_api")
