"""The service must not pull in torch or the training package (the image ships without them)."""

from __future__ import annotations

import subprocess
import sys

from serve_helpers import REPO


def test_serving_leaves_torch_and_training_unloaded(tiny_model_dir, tmp_path):
    """Classify, and the Label Studio backend's predict and webhook (which map choices like file imports do)."""
    code = f"""
import sys
from fastapi.testclient import TestClient
from serve.app import create_app
from serve.config import Settings
import rawan.commands.serve, model.annotations
settings = Settings(_env_file=None, model={str(tiny_model_dir)!r}, regions=False, admin_token="t",
                    annotations_db={str(tmp_path / "a.db")!r})
with TestClient(create_app(settings), headers={{"Authorization": "Bearer t"}}) as c:
    import time
    for _ in range(600):
        if c.get("/readyz").status_code == 200:
            break
        time.sleep(0.05)
    assert c.post("/v1/classify", json={{"text": "Pemilu damai."}}).status_code == 200
    assert c.post("/ls/predict", json={{"tasks": [{{"id": 1, "data": {{"text": "Pemilu damai."}}}}]}}).status_code == 200
    event = {{"action": "ANNOTATION_CREATED", "project": {{"id": 1}}, "task": {{"id": 1, "data": {{"text": "Pemilu."}}}},
             "annotation": {{"id": 1, "result": [{{"type": "choices", "from_name": "issues", "to_name": "text",
                                                 "value": {{"choices": ["hoaks"]}}}}]}}}}
    assert c.post("/ls/webhook", json=event).status_code == 201
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "training", "transformers"))
print(bad)
sys.exit(1 if bad else 0)
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_cli_has_a_serve_command():
    from rawan.cli import build_parser

    args = build_parser().parse_args(["serve", "--port", "9999", "--model", "x", "--no-batching", "--threads", "2"])
    assert args.command == "serve" and args.port == 9999 and args.no_batching and args.threads == 2
