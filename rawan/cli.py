"""Entry point of the `rawan` console script."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ["train", "export", "classify", "eval", "data", "models", "serve", "batch", "annotations", "retrain",
            "quantize"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rawan", description="Rawan: Indonesian election-risk news classifier.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"rawan.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"rawan.commands.{name}":
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (FileNotFoundError, ValueError, KeyError, BlockingIOError) as err:  # BlockingIOError: a busy lock
        print(f"rawan {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        from model.runtime import MissingExtra

        if not isinstance(err, MissingExtra):
            raise
        print(f"rawan {args.command}: error: {err}", file=sys.stderr)  # names the pip extra to install
        return 2


if __name__ == "__main__":
    sys.exit(main())
