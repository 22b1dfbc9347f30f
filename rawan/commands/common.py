"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse

from model.registry import DEFAULT_MODELS_DIR, DEFAULT_NAME


def add_model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help=f"model directory, NAME@champion, NAME@VERSION, or NAME (default: {DEFAULT_NAME}@champion)")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR), help="registry root (default: %(default)s)")


def model_path(args):
    from model.registry import resolve_model_path

    return resolve_model_path(args.model, args.models_dir)
