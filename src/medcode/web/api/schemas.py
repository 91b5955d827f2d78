"""Shapes of API answers that are not core models: lists with a count, and the error body that
every 4xx answer carries. ``ERRORS`` declares those answers in the OpenAPI schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medcode.kb.models import Price, SearchHit
from medcode.kb.releases import SourceRef


@dataclass(frozen=True)
class ErrorDetail:
    type: str  # not_found, malformed_code, bad_input, unknown_locality, too_large, unsupported_media_type ...
    message: str
    field: str | None = None  # the parameter or body position at fault, where there is one
    code: str | None = None
    suggestions: list[str] | None = None


@dataclass(frozen=True)
class ErrorBody:
    error: ErrorDetail


@dataclass(frozen=True)
class Autocomplete:
    count: int
    data: list[SearchHit]


@dataclass(frozen=True)
class LocalityPrices:
    count: int
    data: list[Price]


@dataclass(frozen=True)
class Releases:
    count: int
    data: list[SourceRef]


def errors(**described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI answers for status codes (``errors(e404="...")``), each with the error body."""
    return {int(k[1:]): {"model": ErrorBody, "description": v} for k, v in described.items()}


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "not modified (If-None-Match matched the ETag)"}}
