"""NCCI procedure-to-procedure (PTP) edits: pairs of codes not billed together.

Two layouts:

* ``official``: the CMS tab-delimited text (``ccipra-v323r0-f1.txt`` practitioner,
  ``ccioph-v323r0-f1.txt`` outpatient hospital): a few preamble lines, a header spread over four
  lines starting ``Column 1<TAB>Column 2``, then ``column 1, column 2, prior-1996 flag (* or
  blank), effective YYYYMMDD, deletion YYYYMMDD or *, modifier indicator 0/1/9, rationale``.
  The version gives the quarter: v32.3 is 2026 Q4 (year 1994 + 32, quarter 3 + 1).
* ``northstar``: complete 2024 tables decoded from the R package northstar into gzipped TSV
  (``column_1, column_2, deletion_date, modifier, rationale``): every row, but without the
  effective date and the prior-1996 flag.

These files hold millions of rows, so the reader only splits lines and numbers the rationales;
SQLite converts the types and one query (``VALIDATE``) checks every value after the load,
reporting the first bad row by file, line and column.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from medcode.sources.files import SourceFile, find, quarter_span
from medcode.sources.layout import LayoutMismatch

FAMILIES = {
    "ccipra": "ptp_practitioner",
    "ccioph": "ptp_hospital",
    "practitioner": "ptp_practitioner",
    "outpatient_hospital": "ptp_hospital",
}
TABLE = "ptp_edits"
COLUMNS = ("column_1", "column_2", "prior_1996", "effective", "deleted", "modifier", "rationale_id")
OFFICIAL_HEADER = ("Column 1", "Column 2", "*=in existence", "Effective", "Deletion", "Modifier", "PTP Edit Rationale")
NORTHSTAR_HEADER = ("column_1", "column_2", "deletion_date", "modifier", "rationale")
_CODE = re.compile(r"[0-9A-Z]{5}")


def discover(root: Path) -> list[SourceFile]:
    out = []
    for path in find(root, r"(ccipra|ccioph)-v\d{3}r\d-f\d\.txt"):
        m = re.match(r"(ccipra|ccioph)-v(\d\d)(\d)r\d", path.name, re.IGNORECASE)
        assert m is not None
        year, quarter = 1994 + int(m.group(2)), int(m.group(3)) + 1
        start, end = quarter_span(year, quarter)
        out.append(
            SourceFile(
                FAMILIES[m.group(1).lower()],
                path,
                f"{year}Q{quarter} v{m.group(2)}.{m.group(3)}",
                "official",
                start,
                end,
            )
        )
    for path in find(root, r"medicare_ptp_\w+_\d{4}q[1-4]_v\d{3}r\d\.from_northstar\.tsv\.gz"):
        m = re.match(r"medicare_ptp_(practitioner|outpatient_hospital)_(\d{4})q([1-4])_v(\d\d)(\d)", path.name)
        assert m is not None
        year, quarter = int(m.group(2)), int(m.group(3))
        start, end = quarter_span(year, quarter)
        out.append(
            SourceFile(
                FAMILIES[m.group(1)], path, f"{year}Q{quarter} v{m.group(4)}.{m.group(5)}", "northstar", start, end
            )
        )
    return out


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="latin-1", newline="")


@dataclass
class Parsed:
    """Where the data rows of a file start, so that a row number maps back to a line."""

    first_line: int = 0


def parse(
    sf: SourceFile, rationales: dict[str, int] | None = None, parsed: Parsed | None = None
) -> Iterator[tuple[Any, ...]]:
    """Rows in ``COLUMNS`` order, values as text (SQLite's column types convert them).

    Rationale texts are numbered in ``rationales`` as they appear. Only the column count is
    checked here; ``VALIDATE`` checks every value in SQL after the load (see ``check_loaded``).
    """
    rationales = {} if rationales is None else rationales
    parsed = parsed or Parsed()
    get = rationales.get
    with _open(sf.path) as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        width = _skip_header(sf, reader, parsed)
        try:
            if width == 7:
                for c1, c2, prior, eff, dele, mod, rat in reader:
                    rat = rat.strip()
                    rid = get(rat) or _number(rationales, rat)
                    yield (c1, c2, prior, eff, None if dele == "*" else dele, mod, rid)
            else:
                for c1, c2, dele, mod, rat in reader:
                    rid = get(rat) or _number(rationales, rat)
                    yield (c1, c2, "", None, None if dele == "*" else dele, mod, rid)
        except ValueError:
            cells = reader.line_num and _line_cells(sf.path, reader.line_num)
            raise LayoutMismatch(
                sf.path,
                reader.line_num,
                str(min(len(cells or []), width) + 1),
                f"expected {width} tab-separated columns, found {len(cells or [])}",
            ) from None


def _number(rationales: dict[str, int], text: str) -> int:
    rationales[text] = len(rationales) + 1
    return rationales[text]


def _line_cells(path: Path, line: int) -> list[str]:
    with _open(path) as fh:
        for n, raw in enumerate(fh, start=1):
            if n == line:
                return raw.rstrip("\r\n").split("\t") if raw.strip() else []
    return []


def _skip_header(sf: SourceFile, reader: Any, parsed: Parsed) -> int:
    if sf.layout == "northstar":
        header = tuple(next(reader, ()))
        if header != NORTHSTAR_HEADER:
            raise LayoutMismatch(sf.path, 1, "1", f"header {header!r}, expected {NORTHSTAR_HEADER!r}")
        parsed.first_line = 2
        return 5
    if sf.layout != "official":
        raise ValueError(f"unknown PTP layout {sf.layout!r}")
    for cells in reader:
        if cells and cells[0].strip() == "Column 1":
            got = tuple(c.strip() for c in cells)
            for i, (want, have) in enumerate(zip(OFFICIAL_HEADER, got), start=1):
                if want != have:
                    raise LayoutMismatch(sf.path, reader.line_num, str(i), f"header {have!r}, expected {want!r}")
            if len(got) != len(OFFICIAL_HEADER):
                raise LayoutMismatch(
                    sf.path, reader.line_num, str(min(len(got), 7) + 1), f"header has {len(got)} columns, expected 7"
                )
            break
        if reader.line_num > 20:
            break
    else:
        raise LayoutMismatch(sf.path, reader.line_num, "1", "file ends before the header")
    if reader.line_num > 20:
        raise LayoutMismatch(sf.path, reader.line_num, "1", "no 'Column 1<TAB>Column 2' header in the first 20 lines")
    # The header goes on over three more lines whose first cell is blank.
    for _ in range(3):
        cells = next(reader, None)
        if cells is None or (cells and cells[0].strip()):
            raise LayoutMismatch(
                sf.path, reader.line_num, "1", "expected the header's continuation lines (first cell blank)"
            )
    parsed.first_line = reader.line_num + 1
    return 7


# Every loaded value checked at once; the first offending row (by rowid) is reported.
VALIDATE = """
SELECT rowid, column_1, column_2, prior_1996, effective, deleted, modifier FROM ptp_edits
WHERE rowid BETWEEN ? AND ? AND NOT (
  length(column_1) = 5 AND length(column_2) = 5
  AND column_1 GLOB '[0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]'
  AND column_2 GLOB '[0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]'
  AND prior_1996 IN ('', '*')
  AND (effective IS NULL OR (typeof(effective) = 'integer' AND effective BETWEEN 19000101 AND 29991231))
  AND (deleted IS NULL OR (typeof(deleted) = 'integer' AND deleted BETWEEN 19000101 AND 29991231))
  AND typeof(modifier) = 'integer' AND modifier IN (0, 1, 9)
)
ORDER BY rowid LIMIT 1
"""
_NAMES = ("column 1", "column 2", "prior to 1996", "effective date", "deletion date", "modifier")


def check_loaded(sf: SourceFile, bad: tuple[Any, ...] | None, first_rowid: int, parsed: Parsed) -> None:
    """Raise for the first row that ``VALIDATE`` found, naming its line and column."""
    if bad is None:
        return
    rowid, *values = bad
    line = parsed.first_line + (rowid - first_rowid)
    checks = (
        lambda v: isinstance(v, str) and _CODE.fullmatch(v),
        lambda v: isinstance(v, str) and _CODE.fullmatch(v),
        lambda v: v in ("", "*"),
        lambda v: v is None or (isinstance(v, int) and 19000101 <= v <= 29991231),
        lambda v: v is None or (isinstance(v, int) and 19000101 <= v <= 29991231),
        lambda v: v in (0, 1, 9),
    )
    offsets = (1, 2, 3, 4, 5, 6) if sf.layout == "official" else (1, 2, 0, 0, 3, 4)
    for name, value, ok, col in zip(_NAMES, values, checks, offsets, strict=True):
        if not ok(value):
            raise LayoutMismatch(sf.path, line, f"{col} ({name})", f"{value!r} is not valid")
    raise LayoutMismatch(sf.path, line, "?", f"invalid row {values!r}")
