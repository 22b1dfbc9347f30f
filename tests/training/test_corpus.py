"""The repo corpus passes `rawan data check`, and the check catches the faults it claims to catch."""

from __future__ import annotations

import copy

from training.corpus_check import check_corpus, format_result, near_duplicates
from training.data import load_corpus, load_seeds


def test_repo_corpus_passes_the_data_check():
    result = check_corpus(load_corpus())
    report = format_result(result)
    assert result.ok, report
    assert "DATA CHECK PASSED" in report and "MISSING" not in report


def test_check_flags_bad_rows_and_leaks():
    rows = load_corpus()
    train = next(r for r in rows if r["split"] == "train" and r["source"] == "written")
    bad = [dict(copy.deepcopy(train), id="x1", issues=["politik_uwang"]),
           dict(copy.deepcopy(train), id="x2", regions=[{"code": "99.99", "name": "Nowhere"}]),
           dict(copy.deepcopy(train), id="x3", split="test")]  # same text in test: near-duplicate + outlet leak
    result = check_corpus(load_seeds() + bad)
    text = "\n".join(result.errors)
    assert "unknown issue ids ['politik_uwang']" in text
    assert "unknown region code '99.99'" in text
    assert "near-duplicate across splits" in text
    assert "outlets in both train and test" in text
    assert not result.ok


def test_near_duplicates_ignores_distinct_articles():
    rows = [r for r in load_corpus() if r["split"] == "dev"][:40]
    assert near_duplicates(rows) == []


def test_check_flags_v2_writer_and_event_leaks_and_lengths():
    base = {"title": "t", "issues": [], "regions": [], "source": "written_v2", "outlet_style": "brief",
            "negative_kind": "hard_negative", "election": "none", "event_kind": "non_election"}
    words = " ".join(f"kata{i}" for i in range(200))
    rows = [dict(base, id="v2-a", text=words + " satu", split="train", writer="g", outlet="A", event="e1"),
            dict(base, id="v2-b", text=" ".join(f"lain{i}" for i in range(200)), split="test", writer="g",
                 outlet="B", event="e1"),
            dict(base, id="v2-c", text="terlalu pendek", split="dev", writer="l", outlet="C", event="e2")]
    result = check_corpus(rows)
    text = "\n".join(result.errors)
    assert "writers in both train and test: ['g']" in text
    assert "events in both train and test: ['e1']" in text
    assert "v2-c: 2 words (allowed 150-1500)" in text
    assert "outlets in both" not in text
    assert any(what == "v2 articles" and value == 3 for what, value, _ in result.minimums)
