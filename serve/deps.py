"""Dependencies as named types, so handler signatures stay short and each can be swapped in one place."""

from __future__ import annotations

import base64
import binascii
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


def _basic_credentials(header: str) -> tuple[str, str] | None:
    try:
        user, sep, password = base64.b64decode(header, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def require_ls_auth(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> None:
    """Label Studio's calls: the admin token as Bearer, or HTTP basic auth (`RAWAN_LS_AUTH` says which)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    scheme, value = scheme.lower(), value.strip()
    allowed = {"bearer": ("bearer",), "basic": ("basic",), "either": ("bearer", "basic")}[settings.ls_auth]
    challenge = ", ".join({"bearer": "Bearer", "basic": 'Basic realm="rawan"'}[a] for a in allowed)
    if scheme not in allowed or not value:
        want = " or ".join({"bearer": "Bearer <admin token>", "basic": "Basic <user:password>"}[a] for a in allowed)
        raise HTTPException(401, f"Label Studio routes need Authorization: {want}",
                            headers={"WWW-Authenticate": challenge})
    if scheme == "bearer":
        expected = settings.admin_secret()
        if expected is None:
            raise HTTPException(403, "Bearer auth is disabled: set RAWAN_ADMIN_TOKEN")
        if not secrets.compare_digest(value.encode(), expected.encode()):
            raise HTTPException(403, "wrong admin token")
        return
    creds, password = _basic_credentials(value), settings.ls_basic_secret()
    if password is None:
        raise HTTPException(403, "basic auth is disabled: set RAWAN_LS_BASIC_PASSWORD or RAWAN_ADMIN_TOKEN")
    if creds is None:
        raise HTTPException(401, "basic auth header is not base64 of user:password",
                            headers={"WWW-Authenticate": challenge})
    ok_user = secrets.compare_digest(creds[0].encode(), settings.ls_basic_user.encode())
    ok_password = secrets.compare_digest(creds[1].encode(), password.encode())
    if not (ok_user and ok_password):
        raise HTTPException(403, "wrong basic-auth user or password")


SettingsDep = Annotated[Settings, Depends(get_settings)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
PoolDep = Annotated[ThreadPoolExecutor, Depends(get_pool)]
StoreDep = Annotated[AnnotationStore, Depends(get_store)]
AdminDep = Depends(require_admin)
LSAuthDep = Depends(require_ls_auth)
