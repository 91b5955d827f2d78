"""ZIP code to carrier (MAC) and pricing locality crosswalk (ZIP5_<MON><YYYY>.txt)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, quarterly
from medcode.sources.layout import layouts, read_fixed, to_rows

FAMILY = "zip5"
TABLE = "zip_localities"
COLUMNS = (
    "zip",
    "state",
    "mac",
    "locality",
    "rural",
    "lab_cb_locality",
    "rural2",
    "plus4",
    "partb_indicator",
    "year_quarter",
)


def discover(root: Path) -> list[SourceFile]:
    return [quarterly(FAMILY, p, "zip5") for p in find(root, r"ZIP5_[A-Z]{3}\d{4}\.txt")]


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    return to_rows(read_fixed(sf.path, layouts("locality")[sf.layout]), COLUMNS)
