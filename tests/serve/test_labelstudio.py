"""The Label Studio ML backend (/ls) through the real app: payload shapes from the LS docs, predictions that fit
the project's choices, webhooks stored once, malformed events refused with nothing written."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import io
import json
import shlex
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from model.annotations import AnnotationStore
from serve_helpers import ADMIN, AUTH, seed_texts, wait_ready_async

FIXTURES = Path(__file__).parent / "fixtures" / "labelstudio"
ERROR_KEYS = {"error", "error_type", "detail", "request_id"}


class AsgiApp:
    """The real app with its lifespan running on a private event-loop thread; requests go through httpx's ASGI
    transport, so a module's tests share one loaded model."""

    def __init__(self, app) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> "AsgiApp":
        self.thread.start()
        self._run(self._open())
        return self

    def __exit__(self, *exc) -> None:
        self._run(self._close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _open(self) -> None:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://rawan",
                                        timeout=60)
        await wait_ready_async(self.client)

    async def _close(self) -> None:
        await self.client.aclose()
        await self._lifespan.__aexit__(None, None, None)

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    def get(self, url: str, **kw) -> httpx.Response:
        return self._run(self.client.get(url, **kw))

    def post(self, url: str, **kw) -> httpx.Response:
        kw.setdefault("headers", AUTH)
        return self._run(self.client.post(url, **kw))


def fixture(name: str):
    path = FIXTURES / name
    return json.loads(path.read_text(encoding="utf-8")) if name.endswith(".json") else path.read_text("utf-8")


def ls_config_cli(values: str) -> str:
    """What `rawan annotations ls-config --values VALUES` prints."""
    from rawan.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["annotations", "ls-config", "--values", values]) == 0
    return out.getvalue()


def choices_of(xml: str) -> dict[str, tuple[str, set[str]]]:
    """Choices name -> (toName, its choice values), read independently of the code under test."""
    root = ET.fromstring(xml)
    return {c.get("name"): (c.get("toName"), {x.get("value") for x in c.iter("Choice")}) for c in root.iter("Choices")}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def ls(settings_factory):
    from serve.app import create_app

    with AsgiApp(create_app(settings_factory())) as client:
        yield client


@pytest.fixture
def store(ls, tmp_path) -> AnnotationStore:
    """A fresh store per test (the app opens `state.store` lazily, so setting it is how it is configured), and no
    project configs remembered from other tests' /setup calls."""
    ls.app.state.store = AnnotationStore(tmp_path / "annotations.db")
    ls.app.state.labelstudio = None
    return ls.app.state.store


@pytest.fixture(scope="module")
def version(ls) -> str:
    info = ls.get("/v1/model").json()
    return f"{info['name']}@{info['version']}"


def created_event(label_config: str | None = None) -> dict:
    event = fixture("webhook_annotation_created.json")
    event["project"]["label_config"] = label_config
    return event


# -- health, auth, setup -------------------------------------------------------------------------------------------
def test_health_is_open_and_names_the_model(ls, version):
    for path in ("/ls/health", "/ls/"):
        r = ls.get(path)
        assert r.status_code == 200
        assert r.json() == {"status": "UP", "model_class": "RawanIssueClassifier", "model_version": version,
                            "ready": True}


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "Bearer nope"}, 403),
    ({"Authorization": "Token " + ADMIN}, 401),
    (basic("rawan", "nope"), 403),
    (basic("someone", ADMIN), 403),
    ({"Authorization": "Basic !!!not-base64"}, 401),
    (AUTH, 200),
    (basic("rawan", ADMIN), 200),          # Label Studio's "basic auth" toggle: user rawan, the admin token
])
def test_bearer_or_basic_auth(ls, headers, status):
    body = {**fixture("setup.json"), "schema": ls_config_cli("names")}
    r = ls.post("/ls/setup", json=body, headers=headers)
    assert r.status_code == status, r.text
    if status == 401:
        assert set(r.json()) == ERROR_KEYS and r.json()["error_type"] == "unauthorized"
        assert "Basic" in r.headers["www-authenticate"] and "Bearer" in r.headers["www-authenticate"]
    elif status == 403:
        assert r.json()["error_type"] == "forbidden"


def test_auth_mode_is_configurable(settings_factory):
    from serve.app import create_app

    body = {**fixture("setup.json"), "schema": ls_config_cli("names")}
    with AsgiApp(create_app(settings_factory(ls_auth="basic", ls_basic_user="ls",
                                             ls_basic_password="s3cret"))) as app:
        assert app.post("/ls/setup", json=body, headers=AUTH).status_code == 401       # Bearer not accepted
        assert app.post("/ls/setup", json=body, headers=basic("ls", ADMIN)).status_code == 403
        assert app.post("/ls/setup", json=body, headers=basic("ls", "s3cret")).status_code == 200


@pytest.mark.parametrize("values", ["names", "ids"])
def test_setup_accepts_the_ls_config_command_output(ls, version, values):
    body = {**fixture("setup.json"), "schema": ls_config_cli(values)}
    r = ls.post("/ls/setup", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"model_version": version}


def test_setup_names_every_choice_that_does_not_match(ls):
    r = ls.post("/ls/setup", json={**fixture("setup.json"), "schema": fixture("bad_config.xml")})
    assert r.status_code == 422
    body = r.json()
    assert set(body) == ERROR_KEYS and body["error_type"] == "validation" and body["request_id"]
    msgs = " | ".join(d["msg"] for d in body["detail"])
    for expected in ("'Lainnya'", "'Atlantis'", "sentimen", "netralitas_asn", "kecurangan_suara",
                     'choice="multiple"'):
        assert expected in msgs, (expected, msgs)
    assert "'Politik uang'" not in msgs and "'Kota Bekasi'" not in msgs     # the good ones are not blamed
    assert all(d["loc"][:2] == ["body", "schema"] for d in body["detail"])


@pytest.mark.parametrize("body, needle", [
    ({"project": "3.1", "schema": "<View><Text name='text' value='$text'>"}, "not valid XML"),
    ({"project": "3.1", "schema": "<View><Text name='text' value='$text'/></View>"}, "no <Choices>"),
    ({"project": "3.1"}, "schema"),
])
def test_setup_rejects_unusable_configs(ls, body, needle):
    r = ls.post("/ls/setup", json=body)
    assert r.status_code == 422 and needle in r.text


# -- predict -------------------------------------------------------------------------------------------------------
def _expected(xml_name: str):
    """(issue id -> choice value, region code -> choice value) the config offers, built with the taxonomy and the
    gazetteer directly."""
    from model.regions import RegionTagger
    from model.taxonomy import Taxonomy

    issues = {i.id: i.display("id") for i in Taxonomy.load().issues}
    gaz = RegionTagger.load().gazetteer
    if xml_name == "ids":
        return {i: i for i in issues}, lambda code: code
    if xml_name == "custom_config.xml":
        return {i: i for i in issues}, lambda code: code
    return issues, lambda code: gaz.get(code)["name"]


@pytest.mark.parametrize("config", ["names", "ids", "small_config.xml", "custom_config.xml"])
def test_predict_round_trip_fits_the_config(ls, version, config):
    xml = ls_config_cli(config) if config in ("names", "ids") else fixture(config)
    blocks = choices_of(xml)
    assert ls.post("/ls/setup", json={**fixture("setup.json"), "schema": xml}).status_code == 200
    body = fixture("predict.json")
    texts = seed_texts()[:2] + [body["tasks"][2]["data"]["text"]]   # seeds: the tiny model has learned them
    for task, text in zip(body["tasks"], texts):
        task["data"]["text"] = text
        if config == "custom_config.xml":   # this project keeps its text in data.body and the title in headline
            task["data"] = {"body": text, "headline": task["data"].get("title")}
    body["label_config"] = xml

    r = ls.post("/ls/predict", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_version"] == version and len(out["results"]) == len(body["tasks"])

    issue_value, region_value = _expected(config)
    issues_block = next(n for n, (_, vals) in blocks.items() if set(issue_value.values()) <= vals)
    region_block = next((n for n in blocks if n != issues_block), None)
    titles = [t["data"].get("title", t["data"].get("headline")) for t in body["tasks"]]
    for pred, text, title in zip(out["results"], texts, titles):
        assert pred["model_version"] == version and 0.0 <= pred["score"] <= 1.0
        for item in pred["result"]:                      # every result validates against the config
            assert item["type"] == "choices" and item["from_name"] in blocks
            to_name, allowed = blocks[item["from_name"]]
            assert item["to_name"] == to_name and item["value"]["choices"]
            assert set(item["value"]["choices"]) <= allowed, (item, allowed)
        got = {i["from_name"]: i["value"]["choices"] for i in pred["result"]}
        # the same article through /v1/classify: the LS result is its labels in the config's own values
        ref = ls.post("/v1/classify", json={"text": text, "title": title, "evidence": False}).json()
        assert got.get(issues_block, []) == [issue_value[i] for i in ref["labels"]]
        offered = blocks[region_block][1] if region_block else set()
        regions = [region_value(r["code"]) for r in ref["regions"] if region_value(r["code"]) in offered]
        if config == "custom_config.xml":
            regions = regions[:1]                        # choice="single-radio": the top region only
        assert got.get(region_block, []) == regions
        assert pred["score"] == pytest.approx(max(i["score"] for i in ref["issues"]), abs=1e-4)
    assert any(pred["result"] for pred in out["results"])   # the seeds get labels: the check above is not vacuous


def test_predict_without_label_config_uses_the_setup_of_the_project(ls):
    xml = fixture("custom_config.xml")
    assert ls.post("/ls/setup", json={"project": "9.1732000000", "schema": xml}).status_code == 200
    text = seed_texts()[1]
    r = ls.post("/ls/predict", json={"tasks": [{"id": 1, "data": {"body": text}}], "project": "9.1732000000"})
    assert r.status_code == 200, r.text
    assert {i["from_name"] for i in r.json()["results"][0]["result"]} <= {"topik", "wilayah"}


@pytest.mark.parametrize("tasks, needle", [
    ([{"id": 1}], "no data object"),
    ([{"id": 1, "data": {"text": "   "}}], "empty"),
    ([{"id": 1, "data": {"judul": "no text field"}}], "data.text"),
    ([{"id": 1, "data": {"text": 42}}], "string"),
    ({"id": 1}, "tasks"),
])
def test_predict_refuses_tasks_it_cannot_read(ls, tasks, needle):
    r = ls.post("/ls/predict", json={"tasks": tasks, "label_config": ls_config_cli("ids")})
    assert r.status_code == 422 and needle in r.text, r.text
    assert set(r.json()) == ERROR_KEYS


def test_predict_needs_an_issues_block(ls):
    xml = "<View><Text name='text' value='$text'/><Choices name='sentimen' toName='text'>" \
          "<Choice value='Positif'/></Choices></View>"
    r = ls.post("/ls/predict", json={"tasks": [{"id": 1, "data": {"text": "Pemilu damai."}}], "label_config": xml})
    assert r.status_code == 422 and "issues" in r.json()["error"]


# -- webhook -------------------------------------------------------------------------------------------------------
def test_annotation_created_is_stored_once_when_sent_twice(ls, store):
    event = created_event(fixture("small_config.xml"))
    first = ls.post("/ls/webhook", json=event)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "stored" and first.json()["retrain"] == "off"
    [row] = store.current()
    assert row["id"] == first.json()["id"]
    assert row["text"] == event["task"]["data"]["text"] and row["title"] == event["task"]["data"]["title"]
    assert row["issues"] == ["politik_uang"] and row["regions"] == [{"code": "32.75", "name": "Kota Bekasi"}]
    assert row["annotator"] == "label-studio:1" and "project=3" in row["source"] and "annotation=41" in row["source"]

    again = ls.post("/ls/webhook", json=event)                       # Label Studio retries / redelivers
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    assert again.json()["id"] == row["id"]
    assert store.count(include_superseded=True) == 1


def test_annotation_updated_supersedes_and_is_also_idempotent(ls, store):
    assert ls.post("/ls/webhook", json=created_event()).status_code == 201   # no label_config: default names
    updated = fixture("webhook_annotation_updated.json")
    r = ls.post("/ls/webhook", json=updated)
    assert r.status_code == 201 and r.json()["status"] == "stored"
    [row] = store.current()
    assert sorted(row["issues"]) == ["integritas_penyelenggara", "politik_uang"]
    assert [h["status"] for h in store.history(row["text_hash"])] == ["superseded", "active"]
    assert ls.post("/ls/webhook", json=updated).json()["status"] == "unchanged"
    assert store.count(include_superseded=True) == 2


def test_webhook_maps_a_custom_project_config(ls, store):
    event = created_event(fixture("custom_config.xml"))
    event["task"]["data"] = {"body": "Bawaslu menemukan video hoaks tentang KPU Kota Makassar.", "headline": "Hoaks"}
    event["annotation"]["result"] = [
        {"type": "choices", "from_name": "topik", "to_name": "artikel", "value": {"choices": ["hoaks"]}},
        {"type": "choices", "from_name": "wilayah", "to_name": "artikel", "value": {"choices": ["73.71"]}}]
    r = ls.post("/ls/webhook", json=event)
    assert r.status_code == 201, r.text
    [row] = store.current()
    assert row["issues"] == ["hoaks"] and [g["code"] for g in row["regions"]] == ["73.71"] and row["title"] == "Hoaks"


def _mutate(path: str, value):
    def apply(event: dict) -> dict:
        *parents, last = path.split(".")
        target = event
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        if value is KeyError:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return event
    return apply


MALFORMED = {
    "no action": _mutate("action", KeyError),
    "action not a string": _mutate("action", 5),
    "no annotation": _mutate("annotation", KeyError),
    "annotation not an object": _mutate("annotation", "41"),
    "result not a list": _mutate("annotation.result", {"choices": ["Politik uang"]}),
    "no task": _mutate("task", KeyError),
    "task without data": _mutate("task.data", KeyError),
    "empty text": _mutate("task.data.text", "  "),
    "unknown issue beside a good one": _mutate("annotation.result.0.value.choices", ["Politik uang", "Lainnya"]),
    "unknown region": _mutate("annotation.result.1.value.choices", ["Atlantis"]),
    "unmapped from_name": _mutate("annotation.result.0.from_name", "sentimen"),
    "choices not a list": _mutate("annotation.result.0.value.choices", 5),
    "value not an object": _mutate("annotation.result.0.value", ["Politik uang"]),
    "broken label config": _mutate("project.label_config", "<View><Choices"),
    "title not a string": _mutate("task.data.title", ["Amplop"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_events_are_refused_and_nothing_is_written(ls, store, case):
    event = MALFORMED[case](copy.deepcopy(created_event()))
    r = ls.post("/ls/webhook", json=event)
    assert r.status_code == 422, (case, r.text)
    body = r.json()
    assert set(body) == ERROR_KEYS and body["error_type"] == "validation" and body["error"] and body["detail"]
    assert store.count(include_superseded=True) == 0


@pytest.mark.parametrize("content, status", [
    (b"[1, 2]", 422), (b"{not json", 422), (b"\xff\xfe", 400),
])
def test_non_object_bodies_are_refused(ls, store, content, status):
    r = ls.post("/ls/webhook", content=content, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == status and set(r.json()) == ERROR_KEYS
    assert store.count(include_superseded=True) == 0


def test_cancelled_deleted_and_other_events_store_nothing(ls, store):
    cancelled = created_event()
    cancelled["annotation"]["was_cancelled"] = True
    r = ls.post("/ls/webhook", json=cancelled)
    assert r.status_code == 200 and r.json()["status"] == "skipped"
    for action in ("ANNOTATION_DELETED", "PROJECT_UPDATED", "TASKS_CREATED"):
        r = ls.post("/ls/webhook", json={**created_event(), "action": action})
        assert r.status_code == 200 and r.json()["status"] == "ignored" and r.json()["reason"]
    r = ls.post("/ls/webhook", json={"action": "START_TRAINING", "project": {"id": 3}})
    assert r.status_code == 200 and r.json() == {"status": "ignored", "action": "START_TRAINING", "id": None,
                                                 "reason": "training is off (RAWAN_LS_RETRAIN)", "retrain": "off"}
    assert store.count(include_superseded=True) == 0


def test_webhook_needs_auth(ls, store):
    assert ls.post("/ls/webhook", json=created_event(), headers={}).status_code == 401
    assert store.count(include_superseded=True) == 0


# -- retraining from webhooks --------------------------------------------------------------------------------------
def test_retrain_flag_runs_one_retrain_at_a_time(settings_factory, tmp_path):
    from serve.app import create_app

    marker = tmp_path / "runs.txt"
    script = ("import pathlib, sys, time; p = pathlib.Path(sys.argv[1]); "
              "p.write_text((p.read_text() if p.exists() else '') + 'run\\n'); time.sleep(1.5)")
    settings = settings_factory(annotations_db=tmp_path / "db" / "annotations.db", ls_retrain=True,
                                ls_retrain_command=shlex.join([sys.executable, "-c", script, str(marker)]))
    with AsgiApp(create_app(settings)) as app:
        first = app.post("/ls/webhook", json=created_event())
        assert first.status_code == 201 and first.json()["retrain"] == "started"
        second = created_event()
        second["task"]["data"]["text"] = "Teks lain: KPU Kota Bekasi menerima laporan politik uang."
        assert app.post("/ls/webhook", json=second).json()["retrain"] == "already running"
        # an unchanged redelivery starts nothing at all
        assert app.post("/ls/webhook", json=created_event()).json()["retrain"] is None
        proc = app.app.state.labelstudio.retrain.proc
        proc.wait(30)
        assert marker.read_text() == "run\n" and proc.returncode == 0
        r = app.post("/ls/webhook", json={"action": "START_TRAINING", "project": {"id": 3}})
        assert r.json()["status"] == "training" and r.json()["retrain"] == "started"
        app.app.state.labelstudio.retrain.proc.wait(30)
        assert marker.read_text() == "run\nrun\n"
        assert (tmp_path / "db" / "ls-retrain.log").exists()


def test_default_retrain_command_targets_the_served_registry_and_store(settings_factory, tmp_path):
    from serve.routes.labelstudio import RetrainRunner

    s = settings_factory(annotations_db=tmp_path / "a.db", models_dir=tmp_path / "models", model_name="tiny",
                         port=8123)
    cmd = RetrainRunner.command(s)
    assert cmd[:4] == [sys.executable, "-m", "rawan.cli", "retrain"]
    assert cmd[cmd.index("--db") + 1] == str(tmp_path / "a.db")
    assert cmd[cmd.index("--models-dir") + 1] == str(tmp_path / "models") and "tiny" in cmd
    assert cmd[cmd.index("--reload-url") + 1] == "http://127.0.0.1:8123"
    assert RetrainRunner().start(settings_factory()) == "off"      # the default: webhooks only store


def test_add_if_changed_ignores_label_order_but_not_changes(tmp_path):
    store = AnnotationStore(tmp_path / "a.db")
    rec = {"text": "Teks", "issues": ["hoaks", "politik_uang"], "regions": ["32.75", "32"]}
    [(first, created)] = store.add_if_changed([rec], annotator="a", source="s")
    assert created
    same = {**rec, "issues": ["politik_uang", "hoaks"], "regions": ["32", "32.75"]}
    assert store.add_if_changed([same], annotator="b", source="s") == [(first, False)]
    [(second, created)] = store.add_if_changed([{**rec, "title": "Judul"}], annotator="a", source="s")
    assert created and second != first and store.count(include_superseded=True) == 2
