"""Dependencies as named types, so handler signatures stay short and each can be swapped in one place."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from model.annotations import AnnotationStore
from serve.config import Settings
from serve.holder import ModelHolder
from serve.metrics import Metrics

_bearer = HTTPBearer(auto_error=False, description="the admin token (RAWAN_ADMIN_TOKEN)")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_pool(request: Request) -> ThreadPoolExecutor:
    return request.app.state.pool


def get_store(request: Request) -> AnnotationStore:
    """The annotation store, opened on first use (creating the SQLite file)."""
    state = request.app.state
    if getattr(state, "store", None) is None:
        state.store = AnnotationStore(state.settings.annotations_db)
    return state.store


def require_admin(settings: Annotated[Settings, Depends(get_settings)],
                  creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """401 without a Bearer token, 403 with a wrong one (or when no admin token is configured)."""
    if creds is None or not creds.credentials:
        raise HTTPException(401, "admin token required (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})
    expected = settings.admin_secret()
    if expected is None:
        raise HTTPException(403, "admin routes are disabled: set RAWAN_ADMIN_TOKEN")
    if not secrets.compare_digest(creds.credentials.encode(), expected.encode()):
        raise HTTPException(403, "wrong admin token")


SettingsDep = Annotated[Settings, Depends(get_settings)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
PoolDep = Annotated[ThreadPoolExecutor, Depends(get_pool)]
StoreDep = Annotated[AnnotationStore, Depends(get_store)]
AdminDep = Depends(require_admin)
