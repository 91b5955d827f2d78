"""NCCI add-on code (AOC) edits: each row pairs an add-on code with one eligible primary code.

Edit type 1: only the listed primary codes; type 2: no primary list, the contractor decides
(primary code ``CCCCC``); type 3: the listed primaries and others the contractor may accept.
The workbook is the official form; a tab-delimited export of the same release is used only when
the workbook is absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from medcode.sources.files import SourceFile, find, quarter_span
from medcode.sources.layout import LayoutMismatch, layouts, read_csv, read_table

FAMILY = "aoc"
TABLE = "aoc_edits"
COLUMNS = (
    "addon_code",
    "edit_type",
    "addon_deleted",
    "primary_code",
    "primary_deleted",
    "effective",
    "deleted",
    "notes",
    "line",
)


def discover(root: Path) -> list[SourceFile]:
    found: dict[str, SourceFile] = {}
    for path in find(root, r"AOC_V\d{4}Q[1-4]-MCR\.(xlsx|tsv|txt)"):
        m = re.match(r"AOC_V(\d{4})Q([1-4])", path.name, re.IGNORECASE)
        assert m is not None
        year, quarter = int(m.group(1)), int(m.group(2))
        start, end = quarter_span(year, quarter)
        layout = "xlsx" if path.suffix.lower() == ".xlsx" else "tsv"
        sf = SourceFile(FAMILY, path, f"{year}Q{quarter}", layout, start, end)
        if sf.release not in found or layout == "xlsx":
            found[sf.release] = sf
    return sorted(found.values(), key=lambda s: s.release)


def julian(path: Path, line: int, column: str, value: str) -> str | None:
    """``YYYYDDD`` to an ISO date; blank stays None."""
    if not value:
        return None
    if not re.fullmatch(r"\d{7}", value):
        raise LayoutMismatch(path, line, column, f"{value!r} is not a Julian date YYYYDDD")
    return (date(int(value[:4]), 1, 1) + timedelta(days=int(value[4:]) - 1)).isoformat()


def _xlsx_rows(path: Path) -> Iterator[tuple[int, Sequence[str]]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
            yield n, ["" if v is None else str(v) for v in row]
    finally:
        wb.close()


def parse(sf: SourceFile) -> Iterator[tuple[Any, ...]]:
    layout = layouts(FAMILY)[sf.layout]
    if layout.format == "xlsx":
        records = read_table(sf.path, _xlsx_rows(sf.path), layout)
    else:
        records = read_csv(sf.path, layout, delimiter="\t")
    for rec in records:
        v = rec.values
        if v["edit_type"] not in ("1", "2", "3"):
            raise LayoutMismatch(sf.path, rec.line, "1 (AOC_Edit_Type)", f"{v['edit_type']!r} is not 1, 2 or 3")
        yield (
            v["addon_code"],
            v["edit_type"],
            julian(sf.path, rec.line, "3 (AOC_DelDT)", v["addon_deleted"]),
            v["primary_code"],
            julian(sf.path, rec.line, "5 (Primary_Code_DelDT)", v["primary_deleted"]),
            julian(sf.path, rec.line, "6 (AOC_Edit_EffDT)", v["effective"]),
            julian(sf.path, rec.line, "7 (AOC_Edit_DelDT)", v["deleted"]),
            v["notes"],
            rec.line,
        )
