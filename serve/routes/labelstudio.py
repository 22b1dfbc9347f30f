"""Label Studio ML backend under /ls: Label Studio gets predictions from, and sends finished annotations to, Rawan.

The protocol is HumanSignal/label-studio-ml-backend's (`label_studio_ml/api.py`). In Label Studio, connect the
model URL `http://HOST:8000/ls`; it then calls:

- `GET  /ls/health`  -> {"status": "UP", "model_class": ...}
- `POST /ls/setup`   {project, schema (the labelling config XML), hostname, access_token, model_version}
                     -> {"model_version"}; 422 naming every choice that does not match the taxonomy
- `POST /ls/predict` {tasks, project, label_config, params} -> {"results": [{result, score, model_version}]}
- `POST /ls/webhook` {action, annotation, task, project}: ANNOTATION_CREATED / ANNOTATION_UPDATED store the
                     annotation in the annotation store (all or nothing; an unchanged redelivery stores nothing)

Choices are mapped with the file importer's rules (`model/label_studio.py`, shared with `training/imports.py`),
so a webhook stores exactly what an export of the same project would import. Auth: `RAWAN_LS_AUTH` (the admin
token as Bearer, basic auth, or either).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from model.annotations import AnnotationError
from model.label_studio import (LabelResolver, LabelStudioConfig, default_resolver, label_studio_config,
                                parse_label_studio_task)
from serve import pipeline
from serve.config import Settings
from serve.deps import HolderDep, LSAuthDep, PoolDep, SettingsDep, StoreDep, get_store
from serve.errors import error_response, responses
from serve.holder import ModelHolder, NotReady
from serve.ls_project import LabelConfigError, ProjectSchema, parse_label_config
from serve.schemas import (ArticleIn, ClassifyRequest, LSHealth, LSPredictRequest, LSPredictResult, LSSetupRequest,
                           LSSetupResult, LSWebhookRequest, LSWebhookResult)

log = logging.getLogger("rawan.serve.labelstudio")

router = APIRouter(prefix="/ls", tags=["label-studio"])

MODEL_CLASS = "RawanIssueClassifier"
STORE_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
MAX_SCHEMAS = 32


class RetrainRunner:
    """Starts `rawan retrain` in the background, at most one at a time (the retrain also holds its own lock)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    @staticmethod
    def command(settings: Settings) -> list[str]:
        if settings.ls_retrain_command:
            return shlex.split(settings.ls_retrain_command)
        cmd = [sys.executable, "-m", "rawan.cli", "retrain", "--db", str(settings.annotations_db),
               "--models-dir", str(settings.models_dir), "--name", settings.model_name]
        if settings.admin_secret():  # the new champion is served as soon as the gate promotes it
            host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
            cmd += ["--reload-url", f"http://{host}:{settings.port}"]
        return cmd

    def start(self, settings: Settings) -> str:
        """'started', 'already running' or 'off'; output goes to `ls-retrain.log` next to the annotation store."""
        if not settings.ls_retrain:
            return "off"
        with self._lock:
            if self.proc is not None and self.proc.poll() is None:
                return "already running"
            env = dict(os.environ)
            if settings.admin_secret():
                env["RAWAN_ADMIN_TOKEN"] = settings.admin_secret()
            settings.annotations_db.parent.mkdir(parents=True, exist_ok=True)
            with open(settings.annotations_db.parent / "ls-retrain.log", "ab") as out:
                self.proc = subprocess.Popen(self.command(settings), stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
            log.info("retrain started from a Label Studio webhook", extra={"pid": self.proc.pid})
            return "started"


@dataclass
class LabelStudioState:
    """Per app: the resolver, parsed configs (by content hash), each project's config from /setup, the runner."""

    resolver: LabelResolver | None = None
    schemas: dict[str, ProjectSchema] = field(default_factory=dict)
    projects: dict[str, ProjectSchema] = field(default_factory=dict)
    retrain: RetrainRunner = field(default_factory=RetrainRunner)


def _state(request: Request) -> LabelStudioState:
    state = request.app.state
    if getattr(state, "labelstudio", None) is None:
        state.labelstudio = LabelStudioState()
    return state.labelstudio


async def _resolver(request: Request) -> LabelResolver:
    """The importer's resolver over the store's taxonomy and gazetteer (what stored annotations are checked with)."""
    ls = _state(request)
    if ls.resolver is None:
        store = get_store(request)
        ls.resolver = await asyncio.to_thread(default_resolver, store)
    return ls.resolver


async def _schema(request: Request, xml: str | None, project: str | None) -> ProjectSchema:
    """The config sent with the request, else the one /setup saw for the project, else `rawan annotations
    ls-config` (names). Raises LabelConfigError."""
    ls = _state(request)
    if not xml:
        if project is not None and project in ls.projects:
            return ls.projects[project]
        xml = label_studio_config(await _resolver(request), values="names")
    key = hashlib.sha256(xml.encode("utf-8", "surrogatepass")).hexdigest()
    if key not in ls.schemas:
        resolver = await _resolver(request)
        if len(ls.schemas) >= MAX_SCHEMAS:
            ls.schemas.pop(next(iter(ls.schemas)))
        ls.schemas[key] = await asyncio.to_thread(parse_label_config, xml, resolver)
    return ls.schemas[key]


def _project_id(project: Any) -> str | None:
    """'12.1700000000' (predict/setup) or {"id": 12, ...} (webhook) -> '12'."""
    if isinstance(project, dict):
        project = project.get("id")
    if project is None or isinstance(project, bool):
        return None
    return str(project).split(".", 1)[0] or None


def _invalid(message: str, problems: list[tuple[list[str], str]]) -> JSONResponse:
    """422 in the one error shape, one detail entry per problem."""
    detail = [{"loc": loc, "msg": msg, "type": "label_studio"} for loc, msg in problems]
    return error_response(422, message, "validation", detail=detail)


def _version(info: dict[str, str]) -> str:
    return f"{info['name']}@{info['version']}"


def _ready_version(holder: ModelHolder) -> str:
    if holder.slot is None or not holder.ready:
        raise NotReady(holder.error or "the model is still loading")
    return _version(holder.slot.info)


# -- routes ------------------------------------------------------------------------------------------------------
@router.get("/health", response_model=LSHealth)
@router.get("/", response_model=LSHealth, include_in_schema=False)
async def ls_health(holder: HolderDep) -> dict:
    """Liveness as Label Studio checks it (no auth, like /healthz); `ready` says whether predictions work yet."""
    version = _version(holder.slot.info) if holder.slot is not None else None
    return {"status": "UP", "model_class": MODEL_CLASS, "model_version": version, "ready": holder.ready}


@router.post("/setup", response_model=LSSetupResult, dependencies=[LSAuthDep],
             responses=responses(401, 403, 422, 503))
async def ls_setup(body: LSSetupRequest, request: Request, holder: HolderDep) -> Any:
    """Check a project's labelling config against the taxonomy; 422 lists every choice or block that does not fit."""
    try:
        schema = await _schema(request, body.label_schema, None)
    except LabelConfigError as err:
        return _invalid(str(err), [(["body", "schema"], str(err))])
    resolver = await _resolver(request)
    problems = schema.problems(resolver.taxonomy.ids)
    if problems:
        summary = "; ".join(p["msg"] for p in problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3
                                                               else "")
        return _invalid(f"label config does not match the Rawan taxonomy: {summary}",
                        [(["body", "schema", p["loc"]], p["msg"]) for p in problems])
    project = _project_id(body.project)
    if project is not None:
        _state(request).projects[project] = schema
    return {"model_version": _ready_version(holder)}


@router.post("/predict", response_model=LSPredictResult, dependencies=[LSAuthDep],
             responses=responses(400, 401, 403, 413, 422, 503))
async def ls_predict(body: LSPredictRequest, request: Request, holder: HolderDep, pool: PoolDep,
                     settings: SettingsDep) -> Any:
    """Pre-annotations: the model's issues and regions as `choices` results, using the config's own choice values
    (labels the config has no choice for are left out)."""
    try:
        schema = await _schema(request, body.label_config, _project_id(body.project))
    except LabelConfigError as err:
        return _invalid(str(err), [(["body", "label_config"], str(err))])
    issues, regions = schema.block("issues"), schema.block("regions")
    if issues is None:
        return _invalid("label config has no Choices block for the issues",
                        [(["body", "label_config"], "no Choices block holds the issues")])
    articles: list[ArticleIn] = []
    problems: list[tuple[list[str], str]] = []
    for i, task in enumerate(body.tasks):
        data = task.get("data")
        loc = ["body", "tasks", str(i), "data", schema.text_field]
        if not isinstance(data, dict):
            problems.append((["body", "tasks", str(i), "data"], "task has no data object"))
            continue
        try:
            articles.append(ArticleIn(text=data.get(schema.text_field), title=data.get(schema.title_field) or None,
                                      id=None if task.get("id") is None else str(task.get("id"))))
        except ValidationError as err:
            problems.append((loc, "; ".join(e["msg"] for e in err.errors())))
    if problems:
        return _invalid(f"{len(problems)} tasks cannot be classified (the text is read from data."
                        f"{schema.text_field})", problems)
    preds: list[dict[str, Any]] = []
    for start in range(0, len(articles), settings.max_articles):
        req = ClassifyRequest(articles=articles[start:start + settings.max_articles], evidence=False,
                              regions=regions is not None)
        preds.extend(await pipeline.classify(holder, pool, req))
    results = [_prediction(p, issues, regions) for p in preds]
    version = results[0]["model_version"] if results else _ready_version(holder)
    return {"results": results, "model_version": version}


def _prediction(pred: dict[str, Any], issues, regions) -> dict[str, Any]:
    """One task's prediction: a choices result per block with anything to say, the top issue score, the version."""
    result = []
    issue_values = [issues.from_rawan[i] for i in pred["labels"] if i in issues.from_rawan]
    if issue_values:
        result.append({"from_name": issues.name, "to_name": issues.to_name, "type": "choices",
                       "value": {"choices": issue_values}})
    if regions is not None:
        region_values = [regions.from_rawan[r["code"]] for r in pred["regions"] if r["code"] in regions.from_rawan]
        if region_values:
            result.append({"from_name": regions.name, "to_name": regions.to_name, "type": "choices",
                           "value": {"choices": region_values if regions.multiple else region_values[:1]}})
    score = max((i["score"] for i in pred["issues"]), default=0.0)
    return {"result": result, "score": round(float(score), 4), "model_version": _version(pred["model"])}


def _annotator(annotation: dict[str, Any]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return f"label-studio:{who}" if who not in (None, "") else "label-studio"


@router.post("/webhook", response_model=LSWebhookResult, status_code=201, dependencies=[LSAuthDep],
             responses={200: {"model": LSWebhookResult, "description": "unchanged, skipped or ignored"},
                        **responses(400, 401, 403, 413, 422)})
async def ls_webhook(body: LSWebhookRequest, request: Request, store: StoreDep, settings: SettingsDep) -> Any:
    """ANNOTATION_CREATED / ANNOTATION_UPDATED: store the annotation (201), or 200 when the same labels are already
    stored for the text. START_TRAINING starts a retrain only with RAWAN_LS_RETRAIN; other events are ignored."""
    action = body.action
    ls = _state(request)
    if action == "START_TRAINING":
        started = await asyncio.to_thread(ls.retrain.start, settings)
        return JSONResponse({"status": "ignored" if started == "off" else "training", "action": action, "id": None,
                             "reason": "training is off (RAWAN_LS_RETRAIN)" if started == "off" else None,
                             "retrain": started}, status_code=200)
    if action not in STORE_EVENTS:
        reason = ("the annotation store keeps every version; delete through Rawan, not Label Studio"
                  if action == "ANNOTATION_DELETED" else f"Rawan handles {', '.join(STORE_EVENTS)} only")
        return JSONResponse({"status": "ignored", "action": action, "id": None, "reason": reason, "retrain": None},
                            status_code=200)

    annotation, task = body.annotation, body.task
    problems = []
    if not isinstance(annotation, dict):
        problems.append((["body", "annotation"], f"{action} needs the annotation object (send the payload)"))
    elif not isinstance(annotation.get("result"), list):
        problems.append((["body", "annotation", "result"], "annotation.result must be a list of results"))
    if not isinstance(task, dict):
        problems.append((["body", "task"], f"{action} needs the task object (send the payload)"))
    elif not isinstance(task.get("data"), dict):
        problems.append((["body", "task", "data"], "task.data must be an object holding the text"))
    if problems:
        return _invalid("webhook payload is incomplete; nothing was stored", problems)

    project = body.project if isinstance(body.project, dict) else {"id": body.project or annotation.get("project")}
    project_id = _project_id(project)
    xml = project.get("label_config") if isinstance(project.get("label_config"), str) else None
    try:
        cfg = (await _schema(request, xml, project_id)).import_config() if (xml or project_id in ls.projects) \
            else LabelStudioConfig()
    except LabelConfigError as err:
        return _invalid(f"{err}; nothing was stored", [(["body", "project", "label_config"], str(err))])
    resolver = await _resolver(request)
    record, reasons, skip = parse_label_studio_task({**task, "annotations": [annotation]}, resolver, cfg)
    if skip:
        return JSONResponse({"status": "skipped", "action": action, "id": None, "reason": skip, "retrain": None},
                            status_code=200)
    if reasons:
        return _invalid("annotation cannot be stored: " + "; ".join(reasons[:3]) + "; nothing was stored",
                        [(["body", "annotation", "result"], r) for r in reasons])
    source = (f"label-studio:project={project_id}:task={task.get('id')}:annotation={annotation.get('id')}")[:200]
    try:
        [(row_id, created)] = await asyncio.to_thread(store.add_if_changed, [record], annotator=_annotator(annotation),
                                                      source=source)
    except AnnotationError as err:
        return _invalid(f"annotation cannot be stored: {err}; nothing was stored",
                        [(["body", "annotation"], reason) for _, reason in err.errors])
    if not created:
        return JSONResponse({"status": "unchanged", "action": action, "id": row_id,
                             "reason": "the same labels are already stored for this text", "retrain": None},
                            status_code=200)
    started = await asyncio.to_thread(ls.retrain.start, settings)
    return {"status": "stored", "action": action, "id": row_id, "reason": None, "retrain": started}
