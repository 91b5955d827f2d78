"""Column layouts as data, and the strict readers that apply them.

A layout (``layouts/<family>.toml``) maps our column names to the raw CMS header text (CSV) or
to character offsets (fixed width), with the line the header sits on, the encoding, and how the
data ends. Readers compare the header cell by cell and check every data row's width, and raise
``LayoutMismatch`` naming the file, line and column at the first disagreement. Nothing is dropped
silently: a row that is neither data, blank, nor footnote stops the ingest.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


class LayoutMismatch(ValueError):
    """A file does not have the layout medcode expects for it."""

    def __init__(self, file: Path | str, line: int, column: str, message: str):
        self.file = str(file)
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"{file}: line {line}, column {column}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:  # survive the trip back from a worker process
        return (LayoutMismatch, (self.file, self.line, self.column, self.message))


@dataclass(frozen=True)
class Column:
    name: str  # our name; "-" marks a column that must stay blank
    header: str = ""  # the raw header text (CSV)
    start: int = 0  # 1-based first character (fixed width)
    end: int = 0  # 1-based last character, inclusive
    type: str = "str"  # str | num | num_na (N/A = none) | int | money | pct | code


@dataclass(frozen=True)
class Layout:
    name: str
    format: str  # csv | fixed | tsv
    encoding: str
    columns: tuple[Column, ...]
    header_line: int = 0  # 1-based line of the (last) header row; 0 = none
    key: str = ""  # column whose value must match key_pattern on every data row
    key_pattern: str = ""
    skip_prefix: str = ""  # fixed width: lines starting with this are banners
    line_length: int = 0  # fixed width: every data line has exactly this length
    strip: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [c.name for c in self.columns if c.name != "-"]


_KNOWN_LAYOUT_KEYS = {
    "format",
    "encoding",
    "columns",
    "header_line",
    "key",
    "key_pattern",
    "skip_prefix",
    "line_length",
    "strip",
    "options",
}
_KNOWN_TYPES = {"str", "num", "num_na", "int", "money", "pct", "code"}


@cache
def layouts(family: str) -> dict[str, Layout]:
    """Every layout of one source family, read strictly from ``layouts/<family>.toml``."""
    text = resources.files("medcode.sources").joinpath(f"layouts/{family}.toml").read_text("utf-8")
    raw = tomllib.loads(text)
    out: dict[str, Layout] = {}
    for name, spec in raw.items():
        unknown = set(spec) - _KNOWN_LAYOUT_KEYS
        if unknown:
            raise ValueError(f"layouts/{family}.toml [{name}]: unknown keys {sorted(unknown)}")
        cols = []
        for entry in spec["columns"]:
            if spec["format"] == "fixed":
                col = Column(entry[0], start=entry[1], end=entry[2], type=entry[3] if len(entry) > 3 else "str")
            else:
                col = Column(entry[0], header=entry[1], type=entry[2] if len(entry) > 2 else "str")
            if col.type not in _KNOWN_TYPES:
                raise ValueError(f"layouts/{family}.toml [{name}]: unknown type {col.type!r}")
            cols.append(col)
        out[name] = Layout(
            name=name,
            format=spec["format"],
            encoding=spec["encoding"],
            columns=tuple(cols),
            header_line=spec.get("header_line", 0),
            key=spec.get("key", ""),
            key_pattern=spec.get("key_pattern", ""),
            skip_prefix=spec.get("skip_prefix", ""),
            line_length=spec.get("line_length", 0),
            strip=spec.get("strip", True),
            options=spec.get("options", {}),
        )
    return out


def _num(v: str) -> float | None:
    return float(v) if v else None


def _num_na(v: str) -> float | None:
    return None if v.upper() == "N/A" else _num(v)


def _money(v: str) -> float | None:
    v = v.replace("$", "").replace(",", "").strip()
    return float(v) if v else None


def _pct(v: str) -> float | None:
    v = v.replace("%", "").strip()
    return float(v) if v else None


def _int(v: str) -> int | None:
    return int(v) if v else None


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "str": lambda v: v,
    "code": lambda v: v,
    "num": _num,
    "num_na": _num_na,
    "money": _money,
    "pct": _pct,
    "int": _int,
}


@dataclass
class Record:
    """One data row: its 1-based line number and values keyed by our column names."""

    line: int
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def _convert(path: Path, line: int, layout: Layout, raw: Sequence[str]) -> Record:
    values: dict[str, Any] = {}
    for i, (col, cell) in enumerate(zip(layout.columns, raw, strict=True), start=1):
        if layout.strip:
            cell = cell.strip()
        if col.name == "-":
            if cell:
                raise LayoutMismatch(
                    path, line, f"{i} ({col.header or 'unnamed'})", f"expected a blank column, found {cell!r}"
                )
            continue
        try:
            values[col.name] = _CONVERTERS[col.type](cell)
        except ValueError:
            raise LayoutMismatch(path, line, f"{i} ({col.name})", f"{cell!r} is not a valid {col.type}") from None
    if layout.key:
        key = values[layout.key]
        if not re.fullmatch(layout.key_pattern, key or ""):
            raise LayoutMismatch(path, line, f"{layout.key}", f"{key!r} does not look like a {layout.key}")
    return Record(line, values)


def _is_footnote(cells: Sequence[str]) -> bool:
    """A footnote row has text in its first cell only, and that text is not a code."""
    return bool(cells) and all(not c.strip() for c in cells[1:])


def read_csv(path: Path, layout: Layout, delimiter: str = ",") -> Iterator[Record]:
    """Data rows of a CSV file with banner lines, a header at ``layout.header_line`` and footnotes.

    Blank rows are skipped. A row holding text in its first cell only, where the key pattern does
    not match, is a footnote and ends the data; a data row after a footnote is an error.
    """
    with open(path, encoding=layout.encoding, newline="") as fh:
        text = fh.read()
    yield from read_csv_text(path, text, layout, delimiter)


def read_csv_text(path: Path, text: str, layout: Layout, delimiter: str = ",") -> Iterator[Record]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    return read_table(path, ((reader.line_num, cells) for cells in reader), layout)


def read_table(path: Path, rows: Iterable[tuple[int, Sequence[str]]], layout: Layout) -> Iterator[Record]:
    """Apply ``layout`` to rows of cells, each with the line (or sheet row) it ends on."""
    width = len(layout.columns)
    key_index = next((i for i, c in enumerate(layout.columns) if c.name == layout.key), 0)
    key_re = re.compile(layout.key_pattern) if layout.key_pattern else None
    in_footer = False
    header_seen = layout.header_line == 0
    for line, cells in rows:
        if not header_seen:
            if line < layout.header_line:
                continue
            _check_header(path, line, layout, cells)
            header_seen = True
            continue
        if not any(c.strip() for c in cells):
            continue
        key_cell = cells[key_index].strip() if key_index < len(cells) else ""
        is_key = bool(key_re.fullmatch(key_cell)) if key_re else True
        if _is_footnote(cells) and not is_key:
            in_footer = True
            continue
        if in_footer:
            if is_key:
                raise LayoutMismatch(path, line, "1", "data row after the footnotes")
            continue
        if len(cells) != width:
            col = min(len(cells), width) + 1
            raise LayoutMismatch(path, line, str(col), f"expected {width} columns, found {len(cells)}")
        yield _convert(path, line, layout, cells)
    if not header_seen:
        raise LayoutMismatch(path, layout.header_line, "1", f"file ends before the header line {layout.header_line}")


def _check_header(path: Path, line: int, layout: Layout, cells: Sequence[str]) -> None:
    expected = [c.header for c in layout.columns]
    got = [" ".join(c.split()) for c in cells]
    for i, (want, have) in enumerate(zip(expected, got), start=1):
        want = " ".join(want.split())
        if want != have and not ("*" in want and fnmatch.fnmatchcase(have, want)):
            raise LayoutMismatch(path, line, f"{i}", f"header {have!r} where the layout {layout.name} expects {want!r}")
    if len(got) != len(expected):
        col = min(len(got), len(expected)) + 1
        what = "extra" if len(got) > len(expected) else "missing"
        raise LayoutMismatch(
            path,
            line,
            f"{col}",
            f"{what} column: header has {len(got)} columns, layout {layout.name} has {len(expected)}",
        )


def read_fixed(path: Path, layout: Layout) -> Iterator[Record]:
    """Data lines of a fixed-width file; lines starting with ``skip_prefix`` are banners."""
    spans = [(c.start - 1, c.end) for c in layout.columns]
    with open(path, encoding=layout.encoding, newline="") as fh:
        for line_no, raw in enumerate(fh, start=1):
            text = raw.rstrip("\r\n")
            if layout.skip_prefix and text.startswith(layout.skip_prefix):
                continue
            if not text.strip():
                continue
            if layout.line_length and len(text) != layout.line_length:
                col = min(len(text), layout.line_length) + 1
                raise LayoutMismatch(
                    path,
                    line_no,
                    str(col),
                    f"line is {len(text)} characters long; layout {layout.name} expects {layout.line_length}",
                )
            yield _convert(path, line_no, layout, [text[a:b] for a, b in spans])


def to_rows(
    records: Iterator[Record], columns: Sequence[str], defaults: dict[str, Any] | None = None
) -> Iterator[tuple[Any, ...]]:
    """Tuples in table column order; ``line`` is the record's line number.

    A column missing from a record must have an explicit default (a column that one release's
    layout lacks, such as the QPP indicator before 2026); anything else is a programming error.
    """
    defaults = defaults or {}
    for rec in records:
        vals = rec.values
        try:
            yield tuple(rec.line if c == "line" else (vals[c] if c in vals else defaults[c]) for c in columns)
        except KeyError as exc:
            raise KeyError(f"layout gives no column {exc} and no default is declared") from None
