"""Every endpoint through the real ASGI app and a real tiny ONNX model."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True and ready.json()["model"]["name"] == "tiny"


def test_classify_one_article_shape(client, seeds):
    r = client.post("/v1/classify", json={"text": seeds[0], "id": "seed-0", "return_text": True})
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "seed-0" and body["model"]["name"] == "tiny" and body["windows"] >= 2
    model = client.get("/v1/model").json()
    assert [i["id"] for i in body["issues"]] == [label["id"] for label in model["labels"]]
    for issue in body["issues"]:
        assert 0.0 <= issue["score"] <= 1.0
        assert issue["predicted"] == (issue["score"] >= model["thresholds"][issue["id"]] - 1e-4)
    assert body["labels"] == [i["id"] for i in body["issues"] if i["predicted"]]
    assert set(body["evidence"]) == set(body["labels"])
    for label, sentences in body["evidence"].items():
        assert 1 <= len(sentences) <= 3
        for s in sentences:
            assert body["text"][s["start"]:s["end"]] == s["sentence"]
    assert body["regions"] and body["regions"][0]["code"] == "32.75"  # seed 0 is about Kota Bekasi


def test_classify_matches_the_offline_runtime(client, seeds, tiny_model_dir):
    from model.runtime import Classifier

    offline = Classifier.load(tiny_model_dir, regions=False).predict(seeds[:2], evidence=False, regions=False)
    r = client.post("/v1/classify", json={"articles": [{"text": t} for t in seeds[:2]], "evidence": False,
                                          "regions": False})
    served = r.json()["articles"]
    for a, b in zip(offline, served):
        assert a.labels == b["labels"]
        np.testing.assert_allclose([i["score"] for i in a.issues], [i["score"] for i in b["issues"]], atol=1e-4)


def test_batch_request_and_options(client, seeds):
    r = client.post("/v1/classify", json={"articles": [{"text": t, "id": str(i)} for i, t in enumerate(seeds)],
                                          "threshold": 0.0, "evidence": False, "lang": "en"})
    assert r.status_code == 200
    body = r.json()
    assert [a["id"] for a in body["articles"]] == ["0", "1", "2", "3", "4"]
    first = body["articles"][0]
    assert len(first["labels"]) == len(first["issues"])  # threshold 0 predicts every label
    assert first["evidence"] == {}
    assert first["issues"][0]["name"] == "Money politics"
    none = client.post("/v1/classify", json={"text": seeds[0], "threshold": 1.0}).json()
    assert none["labels"] == [] and none["evidence"] == {}


def test_title_is_prepended(client, seeds):
    r = client.post("/v1/classify", json={"text": seeds[2], "title": "Judul Uji", "return_text": True})
    assert r.json()["text"].startswith("Judul Uji\n")


def test_long_text_is_windowed_not_rejected(client):
    text = ("Bawaslu menemukan dugaan politik uang di Kota Bekasi menjelang pemungutan suara. " * 1300)[:104_000]
    r = client.post("/v1/classify", json={"text": text, "evidence": False})
    assert r.status_code == 200
    assert r.json()["windows"] == 64 and r.json()["truncated"] is True


def test_model_card(client):
    info = client.get("/v1/model").json()
    assert info["name"] == "tiny" and info["version"] and info["created"]
    label = info["labels"][0]
    assert label["id"] == "politik_uang" and label["name"] == {"id": "Politik uang", "en": "Money politics"}
    assert 0 < label["threshold"] < 1 and info["thresholds"]["politik_uang"] == label["threshold"]
    assert info["metrics"]["served_variant"] and "test" in info["metrics"]


def test_metrics_exposes_requests_queue_batches_and_version(client, seeds):
    client.post("/v1/classify", json={"text": seeds[1]})
    text = client.get("/metrics").text
    assert 'rawan_http_requests_total{method="POST",route="/v1/classify",status="200"}' in text
    assert 'rawan_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/classify"' in text
    assert "rawan_queue_windows 0.0" in text
    assert "rawan_batch_windows_count" in text
    version = client.get("/v1/model").json()["version"]
    assert f'rawan_model_info{{name="tiny",version="{version}"}} 1.0' in text


def test_docs_and_openapi(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/classify", "/v1/model", "/healthz", "/readyz", "/metrics", "/v1/annotations",
            "/v1/admin/reload"} <= set(paths)


def test_page_and_static_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and 'lang="id"' in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_request_id_is_echoed_and_logged(client):
    from serve.logging import JsonFormatter

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    access = logging.getLogger("rawan.serve.access")
    access.addHandler(handler)
    old_level = access.level
    access.setLevel(logging.INFO)
    try:
        r = client.post("/v1/classify", json={"text": "Pemilu damai."}, headers={"X-Request-ID": "abc-123"})
    finally:
        access.removeHandler(handler)
        access.setLevel(old_level)
    assert r.headers["x-request-id"] == "abc-123"
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["request_id"] == "abc-123" and line["path"] == "/v1/classify" and line["status"] == 200
    assert client.get("/healthz").headers["x-request-id"]  # generated when not given


@pytest.mark.parametrize("path", ["/nope", "/v1/nope"])
def test_unknown_path_is_a_json_404(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.json()["error_type"] == "not_found"


def test_model_info_says_when_the_served_variant_fell_back(tiny_model_dir, tmp_path, monkeypatch, seeds):
    """classifier.json names OpenVINO bf16 (gated on an AMX machine); on an AVX2-only CPU fp32 is served and said."""
    import shutil

    from fastapi.testclient import TestClient
    from serve_helpers import make_settings, wait_ready

    import model.hardware
    from model.artifact import ArtifactConfig
    from serve.app import create_app

    copy = shutil.copytree(tiny_model_dir, tmp_path / "v")
    cfg = ArtifactConfig.load(copy)
    cfg.backend, cfg.backend_options, cfg.requires = "openvino", {"precision": "bf16"}, ["bf16"]
    cfg.save(copy)
    monkeypatch.setattr(model.hardware, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    with TestClient(create_app(make_settings(copy, tmp_path))) as client:
        wait_ready(client)
        info = client.get("/v1/model").json()
        assert (info["backend"], info["onnx_file"]) == ("ort", "model.onnx") and "lacks bf16" in info["fallback"]
        assert info["metrics"]["served_variant"] == "fp32"
        assert client.post("/v1/classify", json={"text": seeds[0]}).status_code == 200
    normal = ArtifactConfig.load(tiny_model_dir)
    assert normal.backend == "ort" and normal.requires == []
