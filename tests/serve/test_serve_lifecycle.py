"""Readiness before/after load, a failed load, and hot reload of a newly promoted champion under traffic."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from serve_helpers import ADMIN, AUTH, wait_ready


def test_readiness_before_and_after_load(settings_factory, monkeypatch):
    import serve.holder as holder_module
    from serve.app import create_app

    release = threading.Event()
    real = holder_module.load_classifier

    def slow_load(path, settings):
        release.wait(30)
        return real(path, settings)

    monkeypatch.setattr(holder_module, "load_classifier", slow_load)
    with TestClient(create_app(settings_factory())) as client:
        assert client.get("/healthz").status_code == 200  # alive while loading
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json() == {"ready": False, "state": "loading", "model": None,
                                                             "error": None}
        refused = client.post("/v1/classify", json={"text": "Pemilu damai."})
        assert refused.status_code == 503 and refused.json()["error_type"] == "not_ready"
        assert refused.headers["retry-after"]
        assert client.get("/v1/model").status_code == 503
        release.set()
        wait_ready(client)
        assert client.get("/readyz").json()["state"] == "ready"
        assert client.post("/v1/classify", json={"text": "Pemilu damai."}).status_code == 200


def test_failed_load_keeps_the_process_alive(settings_factory, tmp_path):
    from serve.app import create_app

    with TestClient(create_app(settings_factory(model=str(tmp_path / "missing")))) as client:
        deadline = time.monotonic() + 10
        while client.get("/readyz").json()["state"] == "loading" and time.monotonic() < deadline:
            time.sleep(0.02)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["state"] == "failed" and ready.json()["error"]
        assert client.get("/healthz").status_code == 200
        assert client.post("/v1/classify", json={"text": "abc"}).status_code == 503


def test_reload_needs_the_admin_token(client):
    assert client.post("/v1/admin/reload").status_code == 401
    assert client.post("/v1/admin/reload", headers={"Authorization": "Bearer nope"}).status_code == 403
    r = client.post("/v1/admin/reload", headers=AUTH)
    assert r.status_code == 200 and r.json()["changed"] is False


def test_admin_routes_are_closed_without_a_configured_token(settings_factory):
    from serve.app import create_app

    with TestClient(create_app(settings_factory(admin_token=None))) as client:
        wait_ready(client)
        assert client.post("/v1/admin/reload", headers=AUTH).status_code == 403


def _hammer(client, texts, stop: threading.Event, seen: list, errors: list) -> None:
    i = 0
    while not stop.is_set():
        r = client.post("/v1/classify", json={"text": texts[i % len(texts)]})
        if r.status_code != 200:
            errors.append((r.status_code, r.text))
        else:
            seen.append(r.json()["model"]["version"])
        i += 1


def test_hot_reload_under_traffic(settings_factory, registry_copy, seeds):
    from serve.app import create_app

    app = create_app(settings_factory(model=str(registry_copy.root)))
    with TestClient(app) as client:
        wait_ready(client)
        assert client.get("/v1/model").json()["version"] == "v1"
        stop, seen, errors = threading.Event(), [], []
        threads = [threading.Thread(target=_hammer, args=(client, seeds, stop, seen, errors)) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        registry_copy.promote("v2", reason="test")
        r = client.post("/v1/admin/reload", headers=AUTH)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(30)
        assert r.status_code == 200 and r.json()["changed"] is True
        assert r.json()["previous"]["version"] == "v1" and r.json()["current"]["version"] == "v2"
        assert errors == []
        assert "v1" in seen and seen[-1] == "v2"
        assert client.get("/v1/model").json()["version"] == "v2"
        assert 'rawan_model_info{name="tiny",version="v2"} 1.0' in client.get("/metrics").text


def test_reload_to_a_broken_champion_keeps_the_old_model(settings_factory, registry_copy):
    from serve.app import create_app

    with TestClient(create_app(settings_factory(model=str(registry_copy.root)))) as client:
        wait_ready(client)
        (registry_copy.root / "aliases.json").write_text('{"champion": "v9"}')
        r = client.post("/v1/admin/reload", headers=AUTH)
        assert r.status_code == 409 and "old model" in r.json()["error"]
        assert client.get("/v1/model").json()["version"] == "v1"
        assert client.post("/v1/classify", json={"text": "Pemilu damai."}).status_code == 200


def test_polling_picks_up_a_new_champion(settings_factory, registry_copy):
    from serve.app import create_app

    with TestClient(create_app(settings_factory(model=f"{registry_copy.root}", reload_poll_s=0.05))) as client:
        wait_ready(client)
        registry_copy.promote("v2", reason="test")
        deadline = time.monotonic() + 20
        while client.get("/v1/model").json()["version"] != "v2":
            assert time.monotonic() < deadline, "poller did not reload"
            time.sleep(0.05)
        assert client.post("/v1/classify", json={"text": "Pemilu damai."}).json()["model"]["version"] == "v2"


def test_in_flight_request_finishes_on_the_old_model(settings_factory, registry_copy):
    """A request that started before the swap is answered by the old version, and the old batcher then closes."""
    import asyncio

    import httpx

    from serve.app import create_app
    from serve_helpers import wait_ready_async

    app = create_app(settings_factory(model=str(registry_copy.root)))

    async def scenario():
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                await wait_ready_async(c)
                old = app.state.holder.slot
                gate = threading.Event()
                real = old.batcher._infer
                old.batcher._infer = lambda ws: (gate.wait(10), real(ws))[1]
                pending = asyncio.create_task(c.post("/v1/classify", json={"text": "Pemilu damai."}))
                while old.batcher.outstanding == 0:
                    await asyncio.sleep(0.01)
                registry_copy.promote("v2", reason="test")
                swap = await c.post("/v1/admin/reload", headers={"Authorization": f"Bearer {ADMIN}"})
                fresh = await c.post("/v1/classify", json={"text": "Pemilu damai."})
                gate.set()
                answered = await pending
                for _ in range(100):
                    if not old.batcher._thread.is_alive():
                        break
                    await asyncio.sleep(0.02)
                return swap, fresh, answered, old

    swap, fresh, answered, old = asyncio.run(scenario())
    assert swap.json()["changed"] is True
    assert fresh.json()["model"]["version"] == "v2"
    assert answered.status_code == 200 and answered.json()["model"]["version"] == "v1"
    assert not old.batcher._thread.is_alive()


def test_polling_recovers_a_failed_first_load(settings_factory, registry_copy):
    from serve.app import create_app

    (registry_copy.root / "aliases.json").rename(registry_copy.root / "aliases.bak")
    with TestClient(create_app(settings_factory(model=str(registry_copy.root.parent / "tiny"),
                                                reload_poll_s=0.05))) as client:
        deadline = time.monotonic() + 10
        while client.get("/readyz").json()["state"] != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        registry_copy.root.joinpath("aliases.bak").rename(registry_copy.root / "aliases.json")
        wait_ready(client, timeout=20)
        assert client.get("/v1/model").json()["version"] == "v1"
