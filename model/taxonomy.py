"""The issue label set, loaded from one versioned JSON file. Label order is the model's output index."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.json")


@dataclass(frozen=True)
class Issue:
    """One electoral-risk issue: a stable id, display names per language, and what it covers."""

    id: str
    name: dict[str, str]
    description: str

    def display(self, lang: str = "id") -> str:
        return self.name.get(lang) or self.name["id"]


@dataclass(frozen=True)
class Taxonomy:
    """An ordered set of issues. Add an issue to the JSON file and retrain to extend the model."""

    version: str
    issues: tuple[Issue, ...]

    @classmethod
    def load(cls, path: str | Path = DEFAULT_TAXONOMY) -> "Taxonomy":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        issues = tuple(Issue(i["id"], dict(i["name"]), i.get("description", "")) for i in data["issues"])
        ids = [i.id for i in issues]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{path}: duplicate issue ids")
        return cls(str(data["version"]), issues)

    def to_dict(self) -> dict:
        return {"version": self.version,
                "issues": [{"id": i.id, "name": i.name, "description": i.description} for i in self.issues]}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.issues]

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.ids))

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.issues)

    def index(self, issue_id: str) -> int:
        try:
            return self.label2id[issue_id]
        except KeyError:
            raise KeyError(f"unknown issue id {issue_id!r}; known: {', '.join(self.ids)}") from None

    def multi_hot(self, issue_ids: list[str]) -> list[float]:
        """A 0/1 vector in label order; raises on unknown ids so typos in data never pass silently."""
        vec = [0.0] * len(self)
        for issue_id in issue_ids:
            vec[self.index(issue_id)] = 1.0
        return vec
