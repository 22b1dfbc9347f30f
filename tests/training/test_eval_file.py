"""`rawan eval --file`: a user's own labelled news, measured with per-label P/R/F1, no-issue false positives and
region top-1; bad rows are refused with their file and line."""

from __future__ import annotations

import json
import re

import pytest

from model.runtime import Classifier
from rawan.cli import main
from model.taxonomy import Taxonomy
from training.data import article_text, load_corpus, read_labelled


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _user_rows() -> list[dict]:
    test = [r for r in load_corpus(with_seeds=False) if r["split"] == "test"][:12]
    # the user's own shape: no split, regions as bare codes, ids optional
    return [{"id": f"u{i}", "text": r["text"], "title": r.get("title"), "issues": r["issues"],
             "regions": [g["code"] for g in r["regions"]]} for i, r in enumerate(test)]


def test_eval_file_prints_per_label_table_and_no_issue_false_positives(tiny_model_dir, tmp_path, capsys):
    rows = _user_rows()
    path = _write(tmp_path / "mine.jsonl", rows)
    assert main(["eval", "--file", str(path), "--model", str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out
    clf = Classifier.load(tiny_model_dir, regions=True)
    preds = clf.predict([article_text(r) for r in rows], evidence=False)
    negatives = [p for p, r in zip(preds, rows) if not r["issues"]]
    flagged = sum(bool(p.labels) for p in negatives)
    assert negatives, "the sample needs no-issue articles"
    assert re.search(rf"no-issue articles flagged\s+{flagged} of {len(negatives)} ", out)
    assert "politik_uang" in out and "micro-F1" in out and f"{len(rows)} articles" in out
    with_region = [(p, r) for p, r in zip(preds, rows) if r["regions"]]
    top1 = sum(bool(p.regions) and p.regions[0]["code"] == r["regions"][0] for p, r in with_region)
    assert re.search(rf"regions top-1\s+{top1} of {len(with_region)} ", out)


def test_eval_file_refuses_bad_rows_with_file_and_line(tiny_model_dir, tmp_path, capsys):
    rows = _user_rows()[:3]
    rows[1] = dict(rows[1], issues=["politik_uwang"])
    rows[2] = dict(rows[2], text="  ")
    path = _write(tmp_path / "bad.jsonl", rows)
    assert main(["eval", "--file", str(path), "--model", str(tiny_model_dir)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: unknown issue ids ['politik_uwang']" in err
    assert f"{path}:3: missing or empty 'text'" in err


def test_read_labelled_accepts_region_objects_and_codes(tmp_path):
    path = _write(tmp_path / "ok.jsonl", [{"text": "a", "issues": [], "regions": ["32.75"]},
                                          {"text": "b", "issues": ["hoaks"], "regions": [{"code": "32"}]}])
    rows = read_labelled([path], Taxonomy.load())
    assert [r["regions"] for r in rows] == [[{"code": "32.75"}], [{"code": "32"}]]
    assert rows[0]["id"] == f"{path}:1"
    with pytest.raises(ValueError, match="'issues' must be a list"):
        read_labelled([_write(tmp_path / "x.jsonl", [{"text": "a", "issues": "hoaks"}])], Taxonomy.load())
