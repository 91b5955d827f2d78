"""Clinical Laboratory Fee Schedule: national limit per HCPCS and modifier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, quarterly
from medcode.sources.layout import layouts, read_csv, to_rows

FAMILY = "clfs"
TABLE = "clfs_rates"
COLUMNS = (
    "hcpcs",
    "modifier",
    "effective",
    "indicator",
    "rate",
    "short_description",
    "long_description",
    "extended_description",
    "line",
)


def discover(root: Path) -> list[SourceFile]:
    return [quarterly(FAMILY, p, "clfs") for p in find(root, r"CLFS_\d{4}_Q[1-4]\w*\.csv")]


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    return to_rows(read_csv(sf.path, layouts(FAMILY)[sf.layout]), COLUMNS)
