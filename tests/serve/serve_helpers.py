"""Helpers shared by the service tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ADMIN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def seed_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]


def make_settings(model_dir: Path, tmp: Path, **kw):
    from serve.config import Settings

    base = dict(model=str(model_dir), annotations_db=tmp / "annotations.db", admin_token=ADMIN, threads=1,
                cpu_workers=2, log_level="WARNING")
    base.update(kw)
    return Settings(_env_file=None, **base)


def wait_ready(client, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"not ready after {timeout}s: {client.get('/readyz').json()}")


async def wait_ready_async(client, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await client.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not ready")



@contextlib.contextmanager
def live_server(app):
    """Run `app` under uvicorn on 127.0.0.1 (free port) in a thread; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (server.started and server.servers):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    import httpx

    while httpx.get(f"http://127.0.0.1:{port}/readyz").status_code != 200:
        if time.monotonic() > deadline + 30:
            raise RuntimeError("model did not load")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
