"""The service must not pull in torch or the training package (the image ships without them)."""

from __future__ import annotations

import subprocess
import sys

from serve_helpers import REPO


def test_serving_leaves_torch_and_training_unloaded(tiny_model_dir):
    code = f"""
import sys
from fastapi.testclient import TestClient
from serve.app import create_app
from serve.config import Settings
import rawan.commands.serve, model.annotations
with TestClient(create_app(Settings(_env_file=None, model={str(tiny_model_dir)!r}, regions=False))) as c:
    import time
    for _ in range(600):
        if c.get("/readyz").status_code == 200:
            break
        time.sleep(0.05)
    assert c.post("/v1/classify", json={{"text": "Pemilu damai."}}).status_code == 200
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
