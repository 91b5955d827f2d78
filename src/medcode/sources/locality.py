"""Counties in each Medicare payment locality (LOCCO).

CMS drops the leading zeros of the MAC (2102 = 02102) and locality (0 = 00), writes the state on
the first row of each state only, and follows every row with a blank one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, pfs_companion
from medcode.sources.layout import layouts, read_csv

FAMILY = "locality"
TABLE = "locality_counties"
COLUMNS = ("mac", "locality", "state", "fee_schedule_area", "counties", "line")


def discover(root: Path) -> list[SourceFile]:
    return [pfs_companion(FAMILY, p, "locco") for p in find(root, r"\d\dLOCCO\.csv")]


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    state = ""
    for rec in read_csv(sf.path, layouts(FAMILY)[sf.layout]):
        v = rec.values
        state = v["state"] or state
        yield (v["mac"].zfill(5), v["locality"].zfill(2), state, v["fee_schedule_area"], v["counties"], rec.line)
