"""The annotation store (SQLite, WAL, supersede, all-or-nothing) and POST /v1/annotations."""

from __future__ import annotations

import sqlite3
import threading
import unicodedata

import pytest

from model.annotations import AnnotationError, AnnotationStore, text_hash
from serve_helpers import AUTH

TEXT = "Bawaslu Kota Bekasi menemukan dugaan politik uang menjelang Pilkada."


@pytest.fixture
def store(tmp_path):
    return AnnotationStore(tmp_path / "db" / "annotations.db")


def test_wal_mode_and_round_trip(store):
    ids = store.add([{"text": f"  {TEXT}\n", "title": "Judul", "issues": ["politik_uang"], "regions": ["32.75"]}],
                    annotator="rina", source="web")
    assert len(ids) == 1
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    [row] = store.current()
    assert row["id"] == ids[0] and row["text"] == TEXT and row["title"] == "Judul"
    assert row["issues"] == ["politik_uang"] and row["regions"] == [{"code": "32.75", "name": "Kota Bekasi"}]
    assert row["annotator"] == "rina" and row["source"] == "web" and row["status"] == "active" and row["created"]
    assert row["text_hash"] == text_hash(TEXT) and store.count() == 1


def test_text_hash_is_nfc_and_strip_insensitive():
    decomposed = unicodedata.normalize("NFD", "Café pemilu")
    assert text_hash(f" {decomposed} \n") == text_hash("Café pemilu")


def test_new_annotation_supersedes_but_keeps_the_old(store):
    first = store.add([{"text": TEXT, "issues": ["politik_uang"]}], annotator="a", source="web")
    second = store.add([{"text": TEXT + "  ", "issues": ["hoaks"], "regions": ["32"]}], annotator="b", source="web")
    assert store.count() == 1 and store.count(include_superseded=True) == 2
    [active] = store.current()
    assert active["id"] == second[0] and active["issues"] == ["hoaks"]
    history = store.history(text_hash(TEXT))
    assert [h["id"] for h in history] == [first[0], second[0]]
    assert [h["status"] for h in history] == ["superseded", "active"]


def test_invalid_records_write_nothing_and_list_every_reason(store):
    store.add([{"text": "lama", "issues": []}], annotator="a", source="s")
    records = [{"text": TEXT, "issues": ["politik_uang"], "regions": ["32.75"]},
               {"text": "   ", "issues": []},
               {"text": "ok", "issues": ["bukan_isu"]},
               {"text": "ok", "regions": ["99.99", "32.75.01"]},
               "not a dict"]
    with pytest.raises(AnnotationError) as err:
        store.add(records, annotator="a", source="s")
    indexes = [i for i, _ in err.value.errors]
    assert indexes == [1, 2, 3, 3, 4]
    assert "bukan_isu" in str(err.value) and "99.99" in str(err.value)
    assert store.count(include_superseded=True) == 1


def test_many_records_in_one_transaction_and_duplicates_inside_it(store):
    ids = store.add([{"text": "satu", "issues": ["hoaks"]}, {"text": "dua"}, {"text": "satu", "issues": []}],
                    annotator="a", source="import")
    assert len(ids) == 3 and store.count() == 2
    assert {r["text"]: r["issues"] for r in store.current()} == {"dua": [], "satu": []}


def test_concurrent_writers(store):
    errors = []

    def write(n):
        try:
            for k in range(10):
                store.add([{"text": f"artikel {n}-{k}"}], annotator=f"w{n}", source="t")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and store.count() == 40


def test_api_needs_the_admin_token(client):
    body = {"text": TEXT, "issues": ["politik_uang"], "regions": ["32.75"]}
    assert client.post("/v1/annotations", json=body).status_code == 401
    assert client.post("/v1/annotations", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 403


def test_api_saves_one_and_many(client):
    one = client.post("/v1/annotations", headers=AUTH,
                      json={"text": TEXT, "title": "Judul", "issues": ["politik_uang"], "regions": ["32.75"],
                            "annotator": "rina", "source": "web"})
    assert one.status_code == 201 and len(one.json()["ids"]) == 1
    many = client.post("/v1/annotations", headers=AUTH,
                       json={"records": [{"text": "Artikel satu."}, {"text": "Artikel dua.", "issues": ["hoaks"]}]})
    assert many.status_code == 201 and len(many.json()["ids"]) == 2
    store = client.app.state.store
    rows = {r["text"]: r for r in store.current()}
    assert rows[TEXT]["annotator"] == "rina" and rows["Artikel dua."]["issues"] == ["hoaks"]


@pytest.mark.parametrize("body", [
    {"text": TEXT, "issues": ["bukan_isu"]},
    {"text": TEXT, "regions": ["00.00"]},
    {"text": " "},
    {"records": [{"text": "ok"}], "text": "also"},
    {"text": TEXT, "issues": "politik_uang"},
    {"text": TEXT, "unknown": 1},
])
def test_api_rejects_bad_annotations_with_422(client, body):
    before = client.app.state.store.count(include_superseded=True) if client.app.state.store else 0
    r = client.post("/v1/annotations", headers=AUTH, json=body)
    assert r.status_code == 422 and r.json()["error_type"] == "validation"
    after = client.app.state.store.count(include_superseded=True) if client.app.state.store else 0
    assert after == before
