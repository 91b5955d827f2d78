"""Anesthesia conversion factors per locality (ANESyyyy.csv); the national CF is in the header."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, pfs_companion
from medcode.sources.layout import LayoutMismatch, layouts, read_csv

FAMILY = "anes"
TABLE = "anes_cfs"
COLUMNS = ("mac", "locality", "name", "cf", "national_cf")


def discover(root: Path) -> list[SourceFile]:
    return [pfs_companion(FAMILY, p, "anes") for p in find(root, r"ANES\d{4}\.csv")]


def _national_cf(sf: SourceFile) -> float:
    with open(sf.path, encoding="cp1252") as fh:
        header = fh.readline()
    m = re.search(r"National Anes CF of ([\d.]+)", header)
    if m is None:
        raise LayoutMismatch(sf.path, 1, "4", "no national anesthesia CF in the header")
    return float(m.group(1))


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    national = _national_cf(sf)
    for rec in read_csv(sf.path, layouts(FAMILY)[sf.layout]):
        v = rec.values
        yield (v["mac"], v["locality"].zfill(2), v["name"], v["cf"], national)
