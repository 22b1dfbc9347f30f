"""`rawan models list|show|promote|rollback`: the registry of model versions."""

from __future__ import annotations

import json

from model.registry import DEFAULT_MODELS_DIR, DEFAULT_NAME


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list, show, promote or roll back model versions")
    p.add_argument("action", choices=["list", "show", "promote", "rollback"])
    p.add_argument("version", nargs="?", default=None)
    p.add_argument("--name", default=DEFAULT_NAME)
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.set_defaults(handler=run)


def run(args) -> int:
    from model.artifact import read_json
    from model.registry import Registry

    reg = Registry(args.models_dir, args.name)
    aliases = reg.aliases()
    if args.action == "list":
        for v in reg.versions():
            m = read_json(reg.path(v) / "metrics.json")
            served = m.get("served_variant")
            f1 = m.get("variants", {}).get(served, {}).get("test", {}).get("micro_f1")
            tags = [k for k in ("champion", "previous") if aliases.get(k) == v]
            print(f"{v}  {served or '?':5}  test micro-F1 {f1 if f1 is None else round(f1, 3)}  {' '.join(tags)}")
    elif args.action == "show":
        path = reg.path(args.version or reg.champion() or "")
        print(json.dumps({"path": str(path), "classifier": read_json(path / "classifier.json"),
                          "training": read_json(path / "training.json"),
                          "gate": read_json(path / "metrics.json").get("gate")}, indent=2, ensure_ascii=False))
    elif args.action == "promote":
        if not args.version:
            raise ValueError("promote needs a VERSION")
        print(json.dumps(reg.promote(args.version, reason="manual promote"), indent=2))
    else:
        print(json.dumps(reg.rollback(), indent=2))
    return 0
