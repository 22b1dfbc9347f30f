"""Model registry on the file system: versions under `models/<name>/`, aliases switched by atomic rename.

`models/<name>/aliases.json` holds {"champion": version, "previous": version}. It is replaced with os.replace, so a
reader sees the old or the new champion, never a torn file; versions themselves are never modified once written.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from model.artifact import CLASSIFIER_FILE, read_json, write_json

DEFAULT_MODELS_DIR = Path(os.environ.get("RAWAN_MODELS_DIR", Path(__file__).resolve().parent.parent / "models"))
DEFAULT_NAME = "rawan-e5-small"
ALIASES = "aliases.json"


class Registry:
    """Versions and aliases of one model name."""

    def __init__(self, models_dir: str | Path = DEFAULT_MODELS_DIR, name: str = DEFAULT_NAME) -> None:
        self.root = Path(models_dir) / name
        self.name = name

    def versions(self) -> list[str]:
        """Complete versions (a classifier.json present), oldest first; partial builds start with a dot."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / CLASSIFIER_FILE).exists())

    def path(self, version: str) -> Path:
        p = self.root / version
        if not (p / CLASSIFIER_FILE).exists():
            raise FileNotFoundError(f"no model version {version!r} under {self.root}")
        return p

    def aliases(self) -> dict:
        return read_json(self.root / ALIASES)

    def champion(self) -> str | None:
        return self.aliases().get("champion")

    def champion_path(self) -> Path:
        version = self.champion()
        if version is None:
            raise FileNotFoundError(f"no champion model under {self.root}: build one with `rawan train` or `make run`")
        return self.path(version)

    def promote(self, version: str, reason: str = "") -> dict:
        """Make `version` the champion; the old champion becomes `previous` (what rollback returns to)."""
        self.path(version)
        old = self.aliases()
        new = {"champion": version, "previous": old.get("champion") if old.get("champion") != version else
               old.get("previous"), "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "reason": reason, "history": (old.get("history") or [])[-49:] + [{"champion": version,
                                                                                   "reason": reason}]}
        write_json(self.root / ALIASES, new)
        return new

    def rollback(self) -> dict:
        """Swap back to the previous champion."""
        old = self.aliases()
        if not old.get("previous"):
            raise ValueError(f"{self.name}: no previous champion to roll back to")
        return self.promote(old["previous"], reason=f"rollback from {old.get('champion')}")


def resolve_model_path(spec: str | Path | None, models_dir: str | Path = DEFAULT_MODELS_DIR,
                       name: str = DEFAULT_NAME) -> Path:
    """A model directory from a path, a `name@alias`/`name@version` reference, or the default champion."""
    if spec and Path(spec).is_dir():
        p = Path(spec)
        if (p / CLASSIFIER_FILE).exists():
            return p
        if (p / ALIASES).exists():
            return Registry(p.parent, p.name).champion_path()
        raise FileNotFoundError(f"{p} is neither a model version nor a model name directory")
    if spec and "@" in str(spec):
        model_name, ref = str(spec).split("@", 1)
        reg = Registry(models_dir, model_name)
        return reg.champion_path() if ref in ("champion", "") else (
            reg.path(reg.aliases()[ref]) if ref in reg.aliases() else reg.path(ref))
    return Registry(models_dir, str(spec) if spec else name).champion_path()
