"""Dates of service as medcode reads them everywhere (claims, the CLI, the API and pages)."""

from __future__ import annotations

import re
from datetime import date

ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_day(text: str) -> date:
    """A date written YYYY-MM-DD that exists, and only so (``date.fromisoformat`` also takes
    20260501 and 2026-W18-5); ValueError otherwise."""
    if not ISO_DAY.fullmatch(text):
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")
    return date.fromisoformat(text)
