"""Annotation import/export: Rawan JSONL, Label Studio and doccano files into the real SQLite store, and back out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.annotations import AnnotationStore
from rawan.cli import main
from training.imports import LabelStudioConfig, detect_format, import_file

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture
def store(tmp_path) -> AnnotationStore:
    return AnnotationStore(tmp_path / "annotations.db")


def by_text(store: AnnotationStore) -> dict[str, dict]:
    return {r["text"][:20]: r for r in store.current()}


@pytest.mark.parametrize("name,fmt,n", [("ls_good.json", "label-studio", 3), ("doccano_good.jsonl", "doccano", 3),
                                        ("rawan_good.jsonl", "rawan", 2)])
def test_good_files_import_completely(store, name, fmt, n):
    assert detect_format(FIX / name) == fmt
    result = import_file(FIX / name, store, annotator="rina")
    assert result.ok and result.format == fmt and len(result.added) == n
    assert store.count() == n
    assert all(r["annotator"] == "rina" and r["source"] == f"import:{fmt}" for r in store.current())


def test_label_studio_mapping(store):
    """Names (id and en) map to ids, region names to codes; the latest uncancelled annotation wins; unlabelled
    tasks are skipped, not errors; non-choices results are ignored."""
    result = import_file(FIX / "ls_good.json", store)
    assert [str(s) for s in result.skipped] == [f"{FIX / 'ls_good.json'}:44: task 104: no completed annotation "
                                                f"(skipped)"]
    rows = by_text(store)
    first = rows["Bawaslu Kota Bekasi "]
    assert first["issues"] == ["politik_uang"] and first["regions"] == [{"code": "32.75", "name": "Kota Bekasi"}]
    assert first["title"] == "Amplop serangan fajar di Bekasi"
    second = rows["Seorang camat di Kab"]   # annotation 3 (latest, not cancelled) over 2 (older) and 4 (cancelled)
    assert second["issues"] == ["netralitas_asn", "penyalahgunaan_wewenang"]
    assert [r["code"] for r in second["regions"]] == ["32.16", "32"]
    assert rows["Harga cabai di pasar"]["issues"] == []


def test_label_studio_project_config_maps_other_names(store):
    cfg = LabelStudioConfig.load(FIX / "ls_config.json")
    result = import_file(FIX / "ls_custom.json", store, ls_config=cfg)
    assert result.ok
    (row,) = store.current()
    assert row["issues"] == ["kekerasan_intimidasi"] and row["regions"][0]["code"] == "32.76"
    assert row["title"] == "Bentrok pendukung"


def test_doccano_labels_split_into_issues_and_regions(store):
    import_file(FIX / "doccano_good.jsonl", store)
    row = by_text(store)["Petugas KPPS di Maka"]
    assert row["issues"] == ["kekerasan_intimidasi", "kecurangan_suara"]
    assert row["regions"] == [{"code": "73.71", "name": "Kota Makassar"}]


BAD = {
    "ls_bad.json": [(8, "unknown issue label 'banjir'"), (12, "unknown region '99.99'"), (16, "empty text"),
                    (20, "unknown from_name 'sentiment'")],
    "doccano_bad.jsonl": [(2, "unknown label 'banjir'"), (3, "empty text"), (4, "unknown label 'region:77.77'"),
                          (5, "span label"), (6, "invalid JSON")],
    "rawan_bad.jsonl": [(2, "unknown issue label 'politik-uang'"), (4, "unknown region '32.99'"), (5, "empty text"),
                        (6, "invalid JSON")],
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_report_file_line_reason_and_write_nothing(store, name):
    result = import_file(FIX / name, store)
    got = [(p.line, p.reason) for p in result.problems]
    assert [line for line, _ in got] == [line for line, _ in BAD[name]]
    for (_, reason), (_, want) in zip(got, BAD[name]):
        assert want in reason
    assert all(p.file == str(FIX / name) for p in result.problems)
    assert store.count() == 0 and result.added == []
    # --partial: the one valid record goes in, the rest stays out
    partial = import_file(FIX / name, store, partial=True)
    assert len(partial.added) == 1 and store.count() == 1


def test_cli_import_exit_codes_and_messages(tmp_path, capsys):
    db = str(tmp_path / "a.db")
    assert main(["annotations", "import", str(FIX / "rawan_bad.jsonl"), "--db", db]) == 1
    err = capsys.readouterr().err
    assert f"{FIX / 'rawan_bad.jsonl'}:2: unknown issue label 'politik-uang'" in err and "nothing written" in err
    assert AnnotationStore(db).count() == 0
    assert main(["annotations", "import", str(FIX / "rawan_bad.jsonl"), "--db", db, "--partial"]) == 0
    assert main(["annotations", "import", str(FIX / "ls_good.json"), str(FIX / "doccano_good.jsonl"), "--db", db,
                 "--dry-run"]) == 0
    assert AnnotationStore(db).count() == 1
    assert main(["annotations", "count", "--db", db]) == 0
    assert capsys.readouterr().out.strip().endswith("1")


def test_store_rules_apply_to_imports(store, tmp_path):
    """A correction of a text already in the store supersedes it (history kept), like the API does."""
    import_file(FIX / "rawan_good.jsonl", store)
    fixed = tmp_path / "fix.jsonl"
    fixed.write_text(json.dumps({"text": "Bawaslu menemukan ASN ikut kampanye di Kota Bekasi.",
                                 "issues": ["netralitas_asn", "pelanggaran_kampanye"], "regions": ["32.75"]}))
    import_file(fixed, store)
    assert store.count() == 2 and store.count(include_superseded=True) == 3
    assert by_text(store)["Bawaslu menemukan AS"]["issues"] == ["netralitas_asn", "pelanggaran_kampanye"]


def test_export_rawan_round_trips(tmp_path, store):
    db = tmp_path / "annotations.db"
    import_file(FIX / "ls_good.json", store)
    import_file(FIX / "doccano_good.jsonl", store)
    out = tmp_path / "export.jsonl"
    assert main(["annotations", "export", "--db", str(db), "-o", str(out)]) == 0
    again = AnnotationStore(tmp_path / "again.db")
    assert import_file(out, again).ok
    strip = lambda rows: sorted((r["text"], r["issues"], [g["code"] for g in r["regions"]]) for r in rows)  # noqa
    assert strip(again.current()) == strip(store.current())


def test_export_label_studio_tasks_with_predictions(tmp_path, store, tiny_model_dir):
    """Tasks carry the model's predictions (and the stored labels as an annotation); re-importing the file yields
    the stored labels back, so an annotator's round trip through Label Studio is lossless."""
    from model.artifact import ArtifactConfig

    import_file(FIX / "ls_good.json", store)
    out = tmp_path / "tasks.json"
    assert main(["annotations", "export", "--format", "label-studio", "--db", str(tmp_path / "annotations.db"),
                 "--model", str(tiny_model_dir), "-o", str(out)]) == 0
    tasks = json.loads(out.read_text())
    assert len(tasks) == 3
    version = ArtifactConfig.load(tiny_model_dir).version
    for task in tasks:
        (pred,) = task["predictions"]
        assert pred["model_version"] == f"tiny@{version}" and 0 <= pred["score"] <= 1
        assert pred["result"][0]["from_name"] == "issues"
    assert detect_format(out) == "label-studio"
    again = AnnotationStore(tmp_path / "again.db")
    assert import_file(out, again).ok
    assert sorted(r["issues"] for r in again.current()) == sorted(r["issues"] for r in store.current())

    # new texts: predictions only (no annotations yet), so importing them back skips every task
    texts = tmp_path / "new.jsonl"
    texts.write_text(json.dumps({"id": "n1", "text": "Bawaslu Kota Bekasi menemukan politik uang."}) + "\n")
    assert main(["annotations", "export", "--format", "label-studio", "--input", str(texts), "--values", "ids",
                 "--model", str(tiny_model_dir), "-o", str(out)]) == 0
    (task,) = json.loads(out.read_text())
    assert "annotations" not in task and task["data"]["rawan_id"] == "n1"
    region = [r for r in task["predictions"][0]["result"] if r["from_name"] == "region"]
    assert region and region[0]["value"]["choices"][0] == "32.75"
    assert len(import_file(out, AnnotationStore(tmp_path / "third.db")).skipped) == 1


def test_label_studio_config_matches_export_values():
    from training.imports import default_resolver, label_studio_config

    xml = label_studio_config(default_resolver(), values="names")
    assert '<Choice value="Politik uang"' in xml and '<Choice value="Kota Bekasi"' in xml
    assert 'name="issues"' in xml and 'name="region"' in xml
