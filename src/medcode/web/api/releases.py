"""GET /api/releases: the files and releases loaded."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from medcode.web.api.schemas import Releases
from medcode.web.deps import KB, json

router = APIRouter(prefix="/api", tags=["releases"])


@router.get("/releases", response_model=Releases)
def releases(kb: KB) -> Response:
    """Every loaded file: family, release, effective dates, sha256 and row count."""
    refs = list(kb.sources.values())
    return json({"data": refs, "count": len(refs)})
