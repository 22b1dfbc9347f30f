"""Fixtures for the service tests: settings on the session's tiny model, a ready app, a private registry."""

from __future__ import annotations

import shutil

import pytest

from serve_helpers import make_settings, seed_texts, wait_ready


@pytest.fixture(scope="session")
def seeds() -> list[str]:
    return seed_texts()


@pytest.fixture(scope="module")
def settings_factory(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    return lambda **kw: make_settings(tiny_model_dir, tmp, **kw)


@pytest.fixture(scope="module")
def client(settings_factory):
    """A TestClient on a ready app (tiny model, regions on), shared by a module's tests."""
    from fastapi.testclient import TestClient

    from serve.app import create_app

    with TestClient(create_app(settings_factory())) as c:
        wait_ready(c)
        yield c


@pytest.fixture
def registry_copy(tiny_model_dir, tmp_path):
    """A private registry `<tmp>/models/tiny` holding two versions (v1 champion, v2 not), for reload tests."""
    from model.artifact import ArtifactConfig
    from model.registry import Registry

    root = tmp_path / "models" / "tiny"
    for version in ("v1", "v2"):
        shutil.copytree(tiny_model_dir, root / version)
        cfg = ArtifactConfig.load(root / version)
        cfg.version = version
        cfg.save(root / version)
    reg = Registry(tmp_path / "models", "tiny")
    reg.promote("v1", reason="test")
    return reg
