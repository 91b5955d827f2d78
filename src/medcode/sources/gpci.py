"""Geographic practice cost indices (GPCI) per Medicare locality.

2026 carries two work GPCIs, without and with the 1.0 floor (the floor ran through 2026-01-31);
2025 carries only the floored one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, pfs_companion, year_in_name
from medcode.sources.layout import layouts, read_csv, to_rows

FAMILY = "gpci"
TABLE = "gpcis"
COLUMNS = ("mac", "state", "locality", "name", "pw_gpci", "pw_gpci_floor", "pe_gpci", "mp_gpci", "line")


def discover(root: Path) -> list[SourceFile]:
    return [pfs_companion(FAMILY, p, f"gpci_{year_in_name(p)}") for p in find(root, r"GPCI\d{4}\.csv")]


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    layout = layouts(FAMILY).get(sf.layout)
    if layout is None:
        raise ValueError(f"{sf.path}: no GPCI layout for {sf.layout}; known: {sorted(layouts(FAMILY))}")
    return to_rows(read_csv(sf.path, layout), COLUMNS, defaults={"pw_gpci": None})
