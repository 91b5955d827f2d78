"""ASP pricing file: Medicare Part B drug payment allowance limits per HCPCS dosage unit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, quarterly
from medcode.sources.layout import layouts, read_csv, to_rows

FAMILY = "asp"
TABLE = "asp_limits"
COLUMNS = (
    "hcpcs",
    "short_description",
    "dosage",
    "payment_limit",
    "coinsurance_pct",
    "vaccine_awp_pct",
    "vaccine_limit",
    "blood_awp_pct",
    "blood_limit",
    "clotting_factor",
    "notes",
    "line",
)


def discover(root: Path) -> list[SourceFile]:
    return [quarterly(FAMILY, p, "asp") for p in find(root, r".*ASP_Pricing_File.*\.csv")]


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    return to_rows(read_csv(sf.path, layouts(FAMILY)[sf.layout]), COLUMNS)
