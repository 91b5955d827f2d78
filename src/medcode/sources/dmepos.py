"""DMEPOS fee schedule: ceiling, floor and a non-rural and rural fee per state.

The 108 state columns are kept together as JSON (``{"NY": [nonrural, rural], ...}``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from medcode.sources.files import SourceFile, find, quarterly
from medcode.sources.layout import layouts, read_csv

FAMILY = "dmepos"
TABLE = "dmepos_fees"
COLUMNS = (
    "hcpcs",
    "modifier",
    "modifier2",
    "jurisdiction",
    "category",
    "ceiling",
    "floor",
    "state_fees",
    "description",
    "line",
)


def discover(root: Path) -> list[SourceFile]:
    return [quarterly(FAMILY, p, "dmepos") for p in find(root, r"DMEPOS_\w+\.csv")]


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    layout = layouts(FAMILY)[sf.layout]
    states = [c.name[:-3] for c in layout.columns if c.name.endswith("_nr")]
    for rec in read_csv(sf.path, layout):
        v = rec.values
        fees = {s.upper(): [v[f"{s}_nr"], v[f"{s}_r"]] for s in states}
        yield (
            v["hcpcs"],
            v["modifier"],
            v["modifier2"],
            v["jurisdiction"],
            v["category"],
            v["ceiling"],
            v["floor"],
            orjson.dumps(fees).decode(),
            v["description"],
            rec.line,
        )
