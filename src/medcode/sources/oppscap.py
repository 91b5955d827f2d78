"""OPPS payment caps on PFS amounts, per HCPCS, modifier, carrier and locality (OPPSCAP_*.csv)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, pfs_companion
from medcode.sources.layout import layouts, read_csv, to_rows

FAMILY = "oppscap"
TABLE = "opps_caps"
COLUMNS = ("hcpcs", "modifier", "status", "mac", "locality", "facility", "nonfacility")


def discover(root: Path) -> list[SourceFile]:
    return [pfs_companion(FAMILY, p, "oppscap") for p in find(root, r"OPPSCAP_\w+\.csv")]


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    return to_rows(read_csv(sf.path, layouts(FAMILY)[sf.layout]), COLUMNS)
