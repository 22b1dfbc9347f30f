import json

import pytest

from model.taxonomy import Taxonomy


def test_default_taxonomy_has_the_eleven_guide_ids_in_order():
    tax = Taxonomy.load()
    assert tax.ids == ["politik_uang", "netralitas_asn", "politisasi_sara", "ujaran_kebencian", "hoaks",
                       "kekerasan_intimidasi", "penyalahgunaan_wewenang", "pelanggaran_kampanye", "data_pemilih",
                       "integritas_penyelenggara", "kecurangan_suara"]
    assert all(i.name["id"] and i.name["en"] for i in tax.issues)
    assert tax.id2label[0] == "politik_uang" and tax.label2id["kecurangan_suara"] == 10


def test_multi_hot_rejects_unknown_ids():
    tax = Taxonomy.load()
    assert tax.multi_hot(["hoaks"])[4] == 1.0 and sum(tax.multi_hot(["hoaks"])) == 1
    with pytest.raises(KeyError, match="unknown issue id"):
        tax.multi_hot(["hoax"])


def test_a_user_can_add_a_label(tmp_path):
    data = Taxonomy.load().to_dict()
    data["issues"].append({"id": "sengketa_hasil", "name": {"id": "Sengketa hasil", "en": "Result disputes"},
                           "description": "MK disputes"})
    path = tmp_path / "tax.json"
    path.write_text(json.dumps(data))
    tax = Taxonomy.load(path)
    assert len(tax) == 12 and tax.ids[-1] == "sengketa_hasil"
    tax.save(tmp_path / "copy.json")
    assert Taxonomy.load(tmp_path / "copy.json") == tax


def test_duplicate_ids_are_rejected(tmp_path):
    data = Taxonomy.load().to_dict()
    data["issues"].append(data["issues"][0])
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="duplicate"):
        Taxonomy.load(tmp_path / "t.json")
