"""`rawan batch` on the local engine: every input format, bad rows, duplicates, kill -9 and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from batch_helpers import REPO, corpus_rows, read_errors, read_output, write_csv, write_jsonl, write_parquet
from serve.batch import Columns, score_files

FAST = dict(progress=False, workers=2, threads=1, chunk_size=4)


def test_every_input_format_scores_like_the_runtime(tiny_model_dir, tmp_path):
    from model.runtime import Classifier

    rows = corpus_rows(36)
    src = tmp_path / "in"
    (src / "txt").mkdir(parents=True)
    write_jsonl(src / "a.jsonl", rows[0:6])
    write_jsonl(src / "b.jsonl.gz", rows[6:12], gz=True)
    write_csv(src / "c.csv", rows[12:18])
    write_csv(src / "d.csv.gz", rows[18:24], gz=True)
    write_parquet(src / "e.parquet", rows[24:30])
    for r in rows[30:36]:
        (src / "txt" / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
    summary = score_files([str(src)], tmp_path / "out", model=tiny_model_dir, **FAST)
    out = read_output(tmp_path / "out")
    txt_ids = {str(src / "txt" / f"{r['id']}.txt") for r in rows[30:36]}
    assert {r["id"] for r in out} == {r["id"] for r in rows[:30]} | txt_ids
    assert summary["scored"] == 36 and summary["bad_rows"] == 0

    clf = Classifier.load(tiny_model_dir)
    expect = clf.predict([r["text"] for r in rows[:30]], titles=[r["title"] for r in rows[:30]],
                         ids=[r["id"] for r in rows[:30]], evidence=False)
    by_id = {r["id"]: r for r in out}
    for p in expect:
        got = by_id[p.id]
        assert got["labels"] == p.labels
        assert np.allclose([got["scores"][k] for k in clf.labels], [p.scores[k] for k in clf.labels], atol=1e-6)
        assert [g["code"] for g in got["regions"]] == [g["code"] for g in p.regions]
        assert got["model"] == clf.config.name and got["model_version"] == clf.config.version
        assert got["windows"] == p.windows and len(got["text_hash"]) == 32 and got["error"] is None
    assert sum(summary["labels"].values()) == sum(len(r["labels"]) for r in out)


def test_jsonl_output_globs_and_custom_columns(tiny_model_dir, tmp_path):
    rows = [{"doc": r["id"], "body": r["text"], "headline": r["title"]} for r in corpus_rows(8)]
    write_jsonl(tmp_path / "x1.jsonl", rows[:4])
    write_jsonl(tmp_path / "x2.jsonl", rows[4:])
    score_files([str(tmp_path / "x*.jsonl")], tmp_path / "out", model=tiny_model_dir, output_format="jsonl",
                columns=Columns("doc", "body", "headline"), **FAST)
    out = read_output(tmp_path / "out")
    assert [r["id"] for r in out] == sorted(r["doc"] for r in rows)
    assert all(set(r["scores"]) and r["labels"] is not None for r in out)


def test_bad_rows_are_reported_and_do_not_stop_the_job(tiny_model_dir, tmp_path):
    good = corpus_rows(4)
    lines = [
        json_line(good[0]),
        b'{"id": "broken", "text": "unterminated\n',
        json_line({"id": "no-text"}),
        json_line({"id": "blank", "text": "   \n "}),
        json_line({"text": "an article without an id"}),
        b'{"id": "latin1", "text": "caf\xe9 di Bandung"}\n',
        b"[1, 2, 3]\n",
        json_line(good[1]),
        json_line({**good[1], "text": "a different text under the same id"}),
        json_line({"id": "num", "text": 12}),
    ]
    (tmp_path / "bad.jsonl").write_bytes(b"".join(lines))
    body = good[2]["text"][:500].replace('"', "'")
    (tmp_path / "bad.csv").write_bytes(b"id,title,text\n" + f'{good[2]["id"]},,"{body}"\n'.encode()
                                       + b"short,row\n" + b"x9,,\xff\xfe broken bytes\n")
    short = 3 + body.count("\n")  # the quoted text spans several lines
    from rawan.cli import main

    rc = main(["batch", str(tmp_path / "bad.jsonl"), str(tmp_path / "bad.csv"), "-o", str(tmp_path / "out"),
               "--model", str(tiny_model_dir), "--no-progress"])
    assert rc == 3
    errors = {(e["source"].rsplit("/", 1)[-1], e["position"]): e for e in read_errors(tmp_path / "out")}
    reasons = {k: (e["kind"], e["reason"].split(" (")[0]) for k, e in errors.items()}
    assert reasons == {
        ("bad.jsonl", 2): ("error", "malformed JSON"),
        ("bad.jsonl", 3): ("error", "missing text"),
        ("bad.jsonl", 4): ("error", "empty text"),
        ("bad.jsonl", 5): ("error", "missing id"),
        ("bad.jsonl", 6): ("error", "invalid UTF-8 at byte 29"),
        ("bad.jsonl", 7): ("error", "malformed row"),
        ("bad.jsonl", 9): ("duplicate", "duplicate id"),
        ("bad.jsonl", 10): ("error", "text is not a string"),
        ("bad.csv", short): ("error", "malformed CSV row"),
        ("bad.csv", short + 1): ("error", "invalid UTF-8"),
    }
    assert "caf\\xe9" in errors[("bad.jsonl", 6)]["row"] and errors[("bad.jsonl", 2)]["row"].startswith('{"id"')
    assert errors[("bad.jsonl", 9)]["reason"].endswith("bad.jsonl:8)")
    out = {r["id"]: r for r in read_output(tmp_path / "out")}
    assert set(out) == {good[0]["id"], good[1]["id"], good[2]["id"], "no-text", "blank", "num"}
    assert out["blank"]["error"] == "empty text" and out["blank"]["scores"] is None
    assert out[good[1]["id"]]["position"] == 8  # the first occurrence was scored, the duplicate was not
    import json

    summary = json.loads((tmp_path / "out" / "_summary.json").read_text())
    assert summary["bad_rows"] == 9 and summary["duplicates_reported"] == 1 and summary["scored"] == 3


def test_dedupe_by_text_hash(tiny_model_dir, tmp_path):
    rows = corpus_rows(3)
    copy = {"id": "copy-of-0", "title": rows[0]["title"], "text": "  " + rows[0]["text"] + "\n"}
    write_jsonl(tmp_path / "in.jsonl", rows + [copy])
    summary = score_files([str(tmp_path / "in.jsonl")], tmp_path / "out", model=tiny_model_dir, dedupe_text=True,
                          **FAST)
    out = {r["id"]: r for r in read_output(tmp_path / "out")}
    assert out["copy-of-0"]["duplicate_of"] == rows[0]["id"] and out["copy-of-0"]["scores"] is None
    assert out["copy-of-0"]["text_hash"] == out[rows[0]["id"]]["text_hash"]
    assert summary["scored"] == 3 and summary["duplicates_reported"] == 1


def test_existing_output_needs_resume_and_the_same_model(tiny_model_dir, tmp_path):
    write_jsonl(tmp_path / "in.jsonl", corpus_rows(2))
    score_files([str(tmp_path / "in.jsonl")], tmp_path / "out", model=tiny_model_dir, **FAST)
    with pytest.raises(ValueError, match="--resume"):
        score_files([str(tmp_path / "in.jsonl")], tmp_path / "out", model=tiny_model_dir, **FAST)
    with pytest.raises(ValueError, match="format"):
        score_files([str(tmp_path / "in.jsonl")], tmp_path / "out", model=tiny_model_dir, resume=True,
                    output_format="jsonl", **FAST)
    again = score_files([str(tmp_path / "in.jsonl")], tmp_path / "out", model=tiny_model_dir, resume=True, **FAST)
    assert again["run"]["scored"] == 0 and again["run"]["skipped_committed"] == 2 and again["rows"] == 2


def json_line(row: dict) -> bytes:
    import json

    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def test_sigkill_then_resume_gives_every_id_exactly_once(tiny_model_dir, tmp_path):
    rows = corpus_rows(160)
    write_jsonl(tmp_path / "a.jsonl", rows[:80])
    write_csv(tmp_path / "b.csv", rows[80:])
    with open(tmp_path / "a.jsonl", "ab") as f:  # a duplicate id and a bad row, to be reported once each
        f.write(json_line({**rows[3], "text": "again"}) + b"{oops\n")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rawan.cli", "batch", str(tmp_path / "a.jsonl"), str(tmp_path / "b.csv"),
           "-o", str(out), "--model", str(tiny_model_dir), "--part-rows", "6", "--chunk-size", "3", "--workers", "1",
           "--no-progress", "--no-regions"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "part-00003.parquet").exists():
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = read_output(out)
    assert 0 < len(before) < 160, "the job should have been killed mid-run"
    done = subprocess.run(cmd + ["--resume"], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 3, done.stderr  # finished, with one bad row
    ids = [r["id"] for r in read_output(out)]
    assert sorted(ids) == sorted(r["id"] for r in rows) and len(ids) == len(set(ids))
    errors = read_errors(out)
    assert sorted(e["kind"] for e in errors) == ["duplicate", "error"]
    assert not list(out.glob(".*.tmp"))
