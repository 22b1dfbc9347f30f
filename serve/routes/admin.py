"""POST /v1/admin/reload: swap in the model the registry points at now, without failing in-flight requests."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from serve.deps import AdminDep, HolderDep
from serve.errors import responses
from serve.schemas import ReloadResult

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/reload", response_model=ReloadResult, dependencies=[AdminDep], responses=responses(401, 403, 409, 503))
async def reload_model(holder: HolderDep, force: bool = False) -> dict:
    """Re-resolve the model (e.g. the newly promoted champion) and hot-swap it; `force` reloads the same one."""
    try:
        return await holder.reload(force=force)
    except (FileNotFoundError, ValueError, KeyError, OSError) as err:
        raise HTTPException(409, f"reload failed, still serving the old model: {err}") from err
