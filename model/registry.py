"""Model registry on the file system: versions under `models/<name>/`, aliases switched by atomic rename.

`models/<name>/aliases.json` holds {"champion": version, "previous": version}. It is replaced with os.replace, so a
reader sees the old or the new champion, never a torn file; versions themselves are never modified once written.
Writers (promote, rollback, retrain) serialise on an flock'ed `.lock` file, which the kernel releases if the holder
dies, so a killed process never leaves the registry locked. Names starting with a dot are work in progress
(`.<version>.partial`, `.staging-*`) and never count as versions.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from model.artifact import CLASSIFIER_FILE, read_json
from model.locks import exclusive_lock

DEFAULT_MODELS_DIR = Path(os.environ.get("RAWAN_MODELS_DIR", Path(__file__).resolve().parent.parent / "models"))
DEFAULT_NAME = "rawan-e5-small"
ALIASES = "aliases.json"
LOCK_FILE = ".lock"
RETRAIN_LOCK = ".retrain.lock"
STAGING_PREFIX = ".staging-"
GATE_FILE = "gate.json"
_ANY = object()


class RegistryBusy(RuntimeError):
    """Another process holds the registry lock (e.g. a retrain is running)."""


class ChampionChanged(ValueError):
    """The champion moved since the caller looked (someone promoted meanwhile); nothing was changed."""


class Registry:
    """Versions and aliases of one model name."""

    def __init__(self, models_dir: str | Path = DEFAULT_MODELS_DIR, name: str = DEFAULT_NAME) -> None:
        self.root = Path(models_dir) / name
        self.name = name
        self._held = threading.local()   # lock depths per thread: re-entrant for rollback -> promote

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

    def promote(self, version: str, reason: str = "", *, expect_champion=_ANY) -> dict:
        """Make `version` the champion; the old champion becomes `previous` (what rollback returns to).

        With `expect_champion`, promote only if the champion is still that version (None: no champion yet), so a
        retrain that compared against champion A never replaces a B someone promoted while it ran.
        """
        with self.lock():
            self.path(version)
            old = self.aliases()
            if expect_champion is not _ANY and old.get("champion") != expect_champion:
                raise ChampionChanged(f"{self.name}: champion is now {old.get('champion')!r}, not "
                                      f"{expect_champion!r}; not promoting {version}")
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            new = {"champion": version, "previous": old.get("champion") if old.get("champion") != version else
                   old.get("previous"), "updated": now, "reason": reason,
                   "history": (old.get("history") or [])[-49:] + [{"champion": version, "reason": reason,
                                                                    "at": now}]}
            self._write_aliases(new)
            return new

    def rollback(self) -> dict:
        """Swap back to the previous champion."""
        with self.lock():
            old = self.aliases()
            if not old.get("previous"):
                raise ValueError(f"{self.name}: no previous champion to roll back to")
            return self.promote(old["previous"], reason=f"rollback from {old.get('champion')}")

    # -- safety ----------------------------------------------------------------------------------------------
    @contextmanager
    def lock(self, *, wait: bool = True, file: str = LOCK_FILE) -> Iterator[None]:
        """Exclusive lock across processes on `root/file`; re-entrant within one thread.

        The alias lock (default) is held for milliseconds; retrain holds its own `RETRAIN_LOCK` for its whole run.
        """
        depth = getattr(self._held, "depth", None)
        if depth is None:
            depth = self._held.depth = {}
        if depth.get(file):
            depth[file] += 1
            try:
                yield
            finally:
                depth[file] -= 1
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.root / file, wait=wait,
                            busy=lambda path: RegistryBusy(f"{path} is held by another process (a retrain running?)")):
            depth[file] = 1
            try:
                yield
            finally:
                depth[file] = 0

    def _write_aliases(self, data: dict) -> None:
        """Write, fsync, then atomically rename over aliases.json (and fsync the directory entry)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{ALIASES}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, ensure_ascii=False, indent=2))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / ALIASES)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def partials(self) -> list[Path]:
        """Work-in-progress directories left by builds or retrains (dot names): never served, safe to delete."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.startswith("."))

    def clean_partials(self, prefix: str = ".", min_age_s: float = 0.0) -> list[str]:
        """Delete leftovers of killed builds whose name starts with `prefix` and that are older than `min_age_s`.

        Retrain removes its own `.staging-*` under the retrain lock (no live one can exist then); for other leftovers
        (`.<version>.partial` of `rawan train`) an age keeps a build running right now safe.
        """
        import time

        removed = []
        for p in self.partials():
            if p.name.startswith(prefix) and time.time() - p.stat().st_mtime >= min_age_s:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p.name)
        return removed

    def gate(self, version: str) -> dict:
        """The retrain gate report of a version ({} for versions built by `rawan train`)."""
        return read_json(self.path(version) / GATE_FILE)

    def summary(self, version: str) -> dict:
        """One line's worth of facts about a version: served variant, test micro-F1, gate outcome, aliases."""
        path = self.path(version)
        metrics = read_json(path / "metrics.json")
        served = metrics.get("served_variant")
        f1 = metrics.get("variants", {}).get(served, {}).get("test", {}).get("micro_f1")
        gate = read_json(path / GATE_FILE)
        aliases = self.aliases()
        return {"version": version, "served_variant": served, "test_micro_f1": f1,
                "gate": None if not gate else ("passed" if gate.get("gate", {}).get("passed") else "rejected"),
                "aliases": [k for k in ("champion", "previous") if aliases.get(k) == version]}


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
