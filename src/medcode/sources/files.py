"""Finding official files in a directory and telling which release each one is."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

# Folders that hold excerpts or intermediate encodings of files found elsewhere in full.
EXCLUDED_DIRS = frozenset({"excerpts", "northstar_qs", "policy"})

MONTH_QUARTER = {"jan": 1, "apr": 2, "jul": 3, "oct": 4}
MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
    "january": 1,
    "april": 4,
    "july": 7,
    "october": 10,
}


@dataclass(frozen=True)
class SourceFile:
    """One official file, the family it belongs to and the release it is part of."""

    family: str
    path: Path
    release: str
    layout: str
    effective_from: date
    effective_to: date

    def sha256(self) -> str:
        h = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()


def quarter_span(year: int, quarter: int) -> tuple[date, date]:
    start = date(year, 3 * quarter - 2, 1)
    end_month = 3 * quarter
    end = date(year, end_month, 31 if end_month in (3, 12) else 30)
    return start, end


def year_span(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def full_year(two_or_four: str) -> int:
    y = int(two_or_four)
    return y + 2000 if y < 100 else y


def find(root: Path, pattern: str) -> list[Path]:
    """Files under ``root`` whose name matches ``pattern`` (a regex, case-insensitive)."""
    rx = re.compile(pattern, re.IGNORECASE)
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or not rx.fullmatch(path.name):
            continue
        if EXCLUDED_DIRS.intersection(p.name for p in path.relative_to(root).parents):
            continue
        out.append(path)
    return out


def pfs_bundle(path: Path) -> tuple[str, date, date] | None:
    """The PFS quarterly bundle (``rvu25a`` ...) a file sits in, as (release, from, to)."""
    for parent in path.parents:
        m = re.fullmatch(r"rvu(\d\d)([a-d])(?:[_-].*)?", parent.name, re.IGNORECASE)
        if m:
            year, letter = full_year(m.group(1)), m.group(2).upper()
            start, end = quarter_span(year, "ABCD".index(letter) + 1)
            return f"RVU{m.group(1)}{letter}", start, end
    return None


def quarter_of(path: Path) -> tuple[int, int] | None:
    """(year, quarter) from a ``2025q1`` folder, or from a month and year in the file name."""
    for parent in path.parents:
        m = re.fullmatch(r"(\d{4})q([1-4])", parent.name, re.IGNORECASE)
        if m:
            return int(m.group(1)), int(m.group(2))
    m = re.search(r"(jan|apr|jul|oct)[a-z]*[-_ ]?(\d{4})", path.name, re.IGNORECASE)
    if m:
        return int(m.group(2)), MONTH_QUARTER[m.group(1).lower()]
    m = re.search(r"(\d{4})[-_ ]?q([1-4])", path.name, re.IGNORECASE)
    if m:
        return int(m.group(1)), int(m.group(2))
    return None


def quarterly(family: str, path: Path, layout: str) -> SourceFile:
    yq = quarter_of(path)
    if yq is None:
        raise ValueError(f"{path}: cannot tell which quarter this {family} file is for")
    start, end = quarter_span(*yq)
    return SourceFile(family, path, f"{yq[0]}Q{yq[1]}", layout, start, end)


def pfs_companion(family: str, path: Path, layout: str) -> SourceFile:
    """A file shipped in the PFS bundle (GPCI, LOCCO, ANES, OPPSCAP): the bundle's release, or
    the calendar year in the file name when the file stands alone."""
    bundle = pfs_bundle(path)
    if bundle is not None:
        return SourceFile(family, path, bundle[0], layout, bundle[1], bundle[2])
    m = re.search(r"(20\d\d)", path.name) or re.match(r"(\d\d)", path.name)
    if m is None:
        raise ValueError(f"{path}: cannot tell which year this {family} file is for")
    year = full_year(m.group(1))
    start, end = year_span(year)
    return SourceFile(family, path, f"CY{year}", layout, start, end)


def year_in_name(path: Path) -> int:
    m = re.search(r"(20\d\d)", path.name) or re.match(r"(\d\d)", path.name)
    if m is None:
        raise ValueError(f"{path}: no year in the file name")
    return full_year(m.group(1))
