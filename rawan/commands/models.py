"""`rawan models list|show|promote|rollback|clean`: the registry of model versions."""

from __future__ import annotations

import json

from model.registry import DEFAULT_MODELS_DIR, DEFAULT_NAME


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list, show, promote or roll back model versions")
    p.add_argument("action", choices=["list", "show", "promote", "rollback", "clean"],
                   help="clean: delete leftovers (dot directories) of builds killed more than an hour ago")
    p.add_argument("version", nargs="?", default=None)
    p.add_argument("--name", default=DEFAULT_NAME)
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.set_defaults(handler=run)


def run(args) -> int:
    from model.artifact import read_json
    from model.registry import Registry

    reg = Registry(args.models_dir, args.name)
    if args.action == "list":
        versions = reg.versions()
        if not versions:
            print(f"no versions under {reg.root}")
        for v in versions:
            s = reg.summary(v)
            f1 = s["test_micro_f1"]
            print(f"{v}  {s['served_variant'] or '?':12}  test micro-F1 {f1 if f1 is None else round(f1, 3)}  "
                  f"gate {s['gate'] or '-':8}  {' '.join(s['aliases'])}")
    elif args.action == "show":
        version = args.version or reg.champion() or ""
        path = reg.path(version)
        gate = read_json(path / "gate.json")
        print(json.dumps({"path": str(path), "aliases": reg.summary(version)["aliases"],
                          "classifier": read_json(path / "classifier.json"),
                          "training": read_json(path / "training.json"),
                          "gate": read_json(path / "metrics.json").get("gate"),
                          "retrain_gate": {k: gate.get(k) for k in ("champion", "decision", "gate", "data")}
                          if gate else None}, indent=2, ensure_ascii=False))
        if (path / "gate.txt").exists():
            print((path / "gate.txt").read_text(encoding="utf-8"))
    elif args.action == "promote":
        if not args.version:
            raise ValueError("promote needs a VERSION")
        print(json.dumps(reg.promote(args.version, reason="manual promote"), indent=2))
    elif args.action == "rollback":
        print(json.dumps(reg.rollback(), indent=2))
    else:
        removed = reg.clean_partials(min_age_s=3600)
        print(f"removed {len(removed)}: {' '.join(removed)}" if removed else "nothing to clean")
    return 0
