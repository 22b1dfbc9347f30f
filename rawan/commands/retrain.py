"""`rawan retrain`: learn from the annotation store, gate the candidate against the champion, promote if it passes.

Exit status: 0 promoted (or built with --no-promote), 3 rejected by the gate, 2 usage/data errors, 4 another
retrain holds the lock.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from model.registry import DEFAULT_MODELS_DIR, DEFAULT_NAME

DEFAULT_DB = os.environ.get("RAWAN_ANNOTATIONS_DB", "data/annotations.db")


def add_parser(sub) -> None:
    p = sub.add_parser("retrain", help="retrain on corpus + annotations; promote only through the quality gate",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--name", default=DEFAULT_NAME)
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.add_argument("--db", default=DEFAULT_DB, help="annotation store (SQLite; env RAWAN_ANNOTATIONS_DB)")
    p.add_argument("--data", nargs="*", default=None, help="corpus JSONL files (default: training/corpus + seeds)")
    g = p.add_argument_group("training (default: the champion's training.json args)")
    g.add_argument("--config", default=None, help="JSON file of TrainingArgs fields to override")
    g.add_argument("--base-encoder", default=None)
    g.add_argument("--epochs", type=float, default=None)
    g.add_argument("--max-steps", type=int, default=None)
    g.add_argument("--freeze-layers", type=int, default=None)
    g.add_argument("--no-quantize", action="store_true")
    s = p.add_argument_group("where new annotations go")
    s.add_argument("--split-seed", type=int, default=13)
    s.add_argument("--recent-share", type=float, default=0.2, help="share of new texts held out as 'recent'")
    s.add_argument("--dev-share", type=float, default=0.15, help="share of the other new texts put in dev")
    q = p.add_argument_group("gate (points of F1 on the test split)")
    q.add_argument("--max-micro-drop", type=float, default=0.5)
    q.add_argument("--max-label-drop", type=float, default=5.0)
    q.add_argument("--min-label-support", type=int, default=1, help="labels with fewer test positives are not gated")
    q.add_argument("--gate-recent", action="store_true", help="apply the micro-F1 rule to the recent slice too")
    q.add_argument("--recent-min-items", type=int, default=20)
    p.add_argument("--no-promote", action="store_true", help="build and report, never switch the champion")
    p.add_argument("--reload-url", default=None,
                   help="after a promotion, POST {URL}/v1/admin/reload with $RAWAN_ADMIN_TOKEN (e.g. "
                        "http://127.0.0.1:8000)")
    p.set_defaults(handler=run)


def overrides_from(args) -> dict:
    options = json.load(open(args.config)) if args.config else {}
    for key in ("base_encoder", "epochs", "max_steps", "freeze_layers"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    if args.no_quantize:
        options["quantize"] = False
    return options


def run(args) -> int:
    from model.annotations import AnnotationStore
    from model.registry import RegistryBusy
    from training.data import read_jsonl
    from training.gate import GateThresholds
    from training.retrain import SplitPolicy, retrain

    annotations = AnnotationStore(args.db).current() if os.path.exists(args.db) else []
    corpus = [r for f in args.data for r in read_jsonl(f)] if args.data else None
    try:
        result = retrain(
            args.models_dir, args.name, corpus=corpus, annotations=annotations, overrides=overrides_from(args),
            policy=SplitPolicy(args.split_seed, args.recent_share, args.dev_share),
            thresholds=GateThresholds(args.max_micro_drop, args.max_label_drop, args.min_label_support,
                                      args.gate_recent, args.recent_min_items),
            promote=not args.no_promote, log=lambda m: print(m, flush=True))
    except RegistryBusy as err:
        print(f"rawan retrain: {err}", file=sys.stderr)
        return 4
    print(f"report: {result.path / 'gate.txt'}")
    if result.promoted and args.reload_url:
        print(reload_server(args.reload_url))
    return 3 if result.decision == "reject" else 0


def reload_server(url: str) -> str:
    """Ask a running server to swap in the new champion (the reload itself is the server's business)."""
    import urllib.request

    token = os.environ.get("RAWAN_ADMIN_TOKEN", "")
    req = urllib.request.Request(url.rstrip("/") + "/v1/admin/reload", method="POST",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return f"reload: {resp.status} {resp.read().decode()}"
    except OSError as err:
        return f"reload failed ({err}); the new champion is served after the next reload or restart"
