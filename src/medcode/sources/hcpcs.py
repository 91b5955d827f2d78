"""HCPCS Level II codes and modifiers with their long descriptions (RECID 3 codes, 7 modifiers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, quarterly
from medcode.sources.layout import layouts, read_csv, to_rows

FAMILY = "hcpcs"
TABLE = "hcpcs_codes"
COLUMNS = ("code", "seqnum", "record_id", "long_description", "line")


def discover(root: Path) -> list[SourceFile]:
    return [quarterly(FAMILY, p, "anweb_trimmed") for p in find(root, r"HCPC\d{4}_\w*ANWEB\w*\.csv")]


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    return to_rows(read_csv(sf.path, layouts(FAMILY)[sf.layout]), COLUMNS)
