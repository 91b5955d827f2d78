"""Claim readers: JSON (schema in claims/claim.schema.json) and CSV (one row per line).

A file that cannot be read at all (empty, not JSON, a missing CSV column) raises
``ClaimInputError`` naming the file and the place. A value that cannot be used (negative units,
an impossible date) becomes a ``Problem`` on its claim: the line is kept and reported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson

from medcode.claims.model import Claim, Line, Problem
from medcode.dates import iso_day
from medcode.rules import MAX_DIAGNOSES, MAX_LINES, MAX_MODIFIERS

MAX_TEXT = 80  # longest code, id or short text field medcode reads (837P ids are at most 50)
CSV_REQUIRED = ("claim_id", "code")
CSV_COLUMNS = (
    "claim_id",
    "date",
    "place_of_service",
    "provider",
    "zip",
    "locality",
    "diagnoses",
    "line",
    "code",
    "modifiers",
    "units",
    "pointers",
    "charge",
    "line_date",
    "billing_npi",
    "rendering_npi",
    "referring_npi",
)
NPI_FIELDS = ("billing_npi", "rendering_npi", "referring_npi")  # claim fields, as named on Claim


class ClaimInputError(ValueError):
    """A claim file that cannot be read; ``where`` is file:line:column or a JSON path."""

    def __init__(self, where: str, message: str):
        self.where = where
        super().__init__(f"{where}: {message}")


WHOLE = re.compile(r"[0-9]+")  # ASCII digits only: no signs, underscores, spaces or other scripts' digits
AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
MAX_UNITS = 9_999_999  # far beyond any MUE; larger counts are typing errors
MAX_CHARGE = 99_999_999.99  # the 837P's monetary amount holds at most 10 digits


class Fields:
    """Reads the fields of one claim, collecting problems instead of stopping. Values are read
    strictly: what a person would not type on a claim form (``1_0``, ``1e3``, ``inf``, digits of
    other scripts, ``20260501``) is a problem, never a guess."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, where: str, field: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(where, field, message, line))

    def day(self, value: Any, where: str, field: str, line: int | None = None) -> date | None:
        if value in (None, ""):
            return None
        if isinstance(value, str):
            try:
                return iso_day(value.strip())
            except ValueError:
                pass
        self.problem(where, field, f"{_shown(value)} is not a date (YYYY-MM-DD)", line)
        return None

    def units(self, value: Any, where: str, line: int) -> int | None:
        if value in (None, ""):
            return 1
        units = _whole(value)
        if units is None:
            if (
                isinstance(value, float)
                and value == value
                and abs(value) != float("inf")
                or (isinstance(value, str) and AMOUNT.fullmatch(value.strip()))
            ):
                self.problem(
                    where,
                    "units",
                    f"units must be a whole number, not {_shown(value)} (claims bill whole units of service)",
                    line,
                )
            else:
                self.problem(where, "units", f"{_shown(value)} is not a whole number of units", line)
            return None
        if units <= 0 or units > MAX_UNITS:
            self.problem(where, "units", f"units must be from 1 to {MAX_UNITS:,}, not {_shown(value)}", line)
            return None
        return units

    def charge(self, value: Any, where: str, line: int) -> float | None:
        if value in (None, ""):
            return None
        charge: float | None = None
        if isinstance(value, bool):
            charge = None
        elif isinstance(value, int):
            charge = float(value) if abs(value) <= 10**12 else None
        elif isinstance(value, float):
            charge = value if value == value and abs(value) != float("inf") else None
        elif isinstance(value, str) and AMOUNT.fullmatch(value.strip()) and len(value.strip()) <= 20:
            charge = float(value.strip())
        if charge is None:
            self.problem(where, "charge", f"{_shown(value)} is not an amount", line)
            return None
        if charge < 0:
            self.problem(where, "charge", f"a charge cannot be negative ({charge:g})", line)
        elif charge > MAX_CHARGE:
            self.problem(where, "charge", f"a charge over ${MAX_CHARGE:,.2f} ({charge:,.2f})", line)
            return None
        return charge

    def modifiers(self, values: Any, where: str, line: int) -> tuple[str, ...]:
        if not isinstance(values, list):
            values = [values]
        texts = []
        for m in values:
            if isinstance(m, str):
                texts.append(m)
            elif isinstance(m, int) and not isinstance(m, bool) and 0 <= m <= 99:
                texts.append(f"{m:02d}")
            else:
                self.problem(where, "modifiers", f"{_shown(m)} is not a modifier", line)
        mods = tuple(m.strip().upper() for m in texts if m.strip())
        bad = [m for m in mods if len(m) != 2 or not (m.isascii() and m.isalnum())]
        if bad:
            self.problem(where, "modifiers", f"not modifiers: {', '.join(_shown(b) for b in bad)}", line)
        if len(mods) > MAX_MODIFIERS:
            self.problem(where, "modifiers", f"at most {MAX_MODIFIERS} modifiers on a line, not {len(mods)}", line)
        return tuple(m for m in mods if m not in bad)[:MAX_MODIFIERS]

    def pointers(self, values: Any, where: str, line: int) -> tuple[int, ...]:
        if not isinstance(values, list):
            values = [values]
        out = []
        for v in values:
            n = _whole(v)
            if n is None or not 0 <= n <= 999:
                self.problem(where, "pointers", f"{_shown(v)} is not a diagnosis pointer (1-{MAX_DIAGNOSES})", line)
            else:
                out.append(n)
        return tuple(out)

    def diagnoses(self, values: Any, where: str) -> tuple[str, ...]:
        if values is None:
            return ()
        if not isinstance(values, list):
            self.problem(where, "diagnoses", f"diagnoses must be a list of ICD-10-CM codes, not {_shown(values)}")
            return ()
        out = []
        for i, d in enumerate(values):
            if isinstance(d, str):
                if d.strip():
                    out.append(d.strip().upper())
            else:
                self.problem(f"{where}[{i}]", "diagnoses", f"{_shown(d)} is not an ICD-10-CM code")
        return tuple(out)

    def text(self, value: Any, where: str, field: str) -> str | None:
        """A short text field (place of service, ZIP, provider, NPI ...): text or a whole number."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.problem(where, field, f"{_shown(value)} is not text")
            return None
        if len(value) > MAX_TEXT:
            self.problem(where, field, f"longer than {MAX_TEXT} characters ({len(value):,})")
            return None
        return value.strip() or None

    def limits(self, where: str, lines: int, diagnoses: int) -> None:
        """A claim over the sizes medcode checks (the 837P's: 50 lines, 12 diagnoses) is refused."""
        if lines > MAX_LINES:
            self.problem(
                where,
                "size",
                f"the claim has {lines:,} lines; medcode checks at most {MAX_LINES} "
                "a claim (the 837P limit): split it into claims of 50 lines or fewer",
            )
        if diagnoses > MAX_DIAGNOSES:
            self.problem(
                where,
                "size",
                f"the claim has {diagnoses:,} diagnoses; a claim carries at most {MAX_DIAGNOSES} (the 837P limit)",
            )

    def plain_line(
        self, n: int, code: str, modifiers: list[str], units: str, pointers: list[str], charge: str, day: date | None
    ) -> Line | None:
        """Line ``n`` from text values that the methods above would leave as they are (nothing to
        report), without building the positions they name; None when a value needs them."""
        if not (
            code
            and code.strip().upper() == code
            and len(code) <= MAX_TEXT
            and len(modifiers) <= MAX_MODIFIERS
            and all(len(m) == 2 and m.isascii() and m.isalnum() and m.upper() == m for m in modifiers)
            and WHOLE.fullmatch(units)
            and len(units) <= 7
            and int(units) > 0
            and all(WHOLE.fullmatch(p) and len(p) <= 3 for p in pointers)
        ):
            return None
        amount = None
        if charge:
            if not (AMOUNT.fullmatch(charge) and len(charge) <= 20):
                return None
            amount = float(charge)
            if amount > MAX_CHARGE:
                return None
        return Line(
            line=n,
            code=code,
            modifiers=tuple(modifiers),
            units=int(units),
            pointers=tuple(int(p) for p in pointers),
            charge=amount,
            date=day,
        )

    def code(self, value: Any, where: str, line: int) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None and not isinstance(value, str):
            self.problem(where, "code", f"{_shown(value)} is not a code", line)
            return ""
        code = (value or "").strip().upper()
        if not code:
            self.problem(where, "code", "the line has no code", line)
        elif len(code) > MAX_TEXT:
            self.problem(where, "code", f"longer than {MAX_TEXT} characters ({len(code):,})", line)
            return ""
        return code


def _whole(value: Any) -> int | None:
    """A whole number written as one (an int, a float with nothing after the point, ASCII digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) != float("inf") and value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        return int(text) if WHOLE.fullmatch(text) and len(text) <= 15 else None
    return None


def _shown(value: Any) -> str:
    """A value as a message quotes it: short, whatever its size."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- JSON ------------------------------------------------------------------------------------


def load_json(text: str, source: str) -> Any:
    """The parsed document, or an error naming the line and column where it stops being JSON."""
    if not text.strip():
        raise ClaimInputError(source, "the file is empty")
    try:
        # strict JSON: no NaN or Infinity, no number beyond a double, at most 1,024 levels deep
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ClaimInputError(f"{source}:{exc.lineno}:{exc.colno}", f"not JSON: {exc.msg}") from None


def read_json(text: str, source: str = "<json>") -> list[Claim]:
    """Claims from JSON: ``{"claims": [...]}``, a list of claims, or one claim."""
    doc = load_json(text, source)
    if isinstance(doc, dict) and "claims" in doc:
        items, base = doc["claims"], "claims"
    elif isinstance(doc, list):
        items, base = doc, ""
    else:
        items, base = [doc], None
    if not isinstance(items, list):
        raise ClaimInputError(f"{source}:$.claims", "claims must be a list")
    return [
        _json_claim(c, f"{source}:$" + (f".{base}[{i}]" if base else f"[{i}]" if base == "" else ""), i)
        for i, c in enumerate(items)
    ]


def _json_claim(obj: Any, where: str, index: int) -> Claim:
    if not isinstance(obj, dict):
        raise ClaimInputError(where, "a claim must be an object")
    f = Fields()
    lines_in = obj.get("lines")
    if not isinstance(lines_in, list) or not lines_in:
        raise ClaimInputError(f"{where}.lines", "a claim needs a list of lines")
    diagnoses = f.diagnoses(obj.get("diagnoses"), f"{where}.diagnoses")
    f.limits(where, len(lines_in), len(diagnoses))
    lines = []
    for n, item in enumerate(lines_in, start=1):
        at = f"{where}.lines[{n - 1}]"
        if not isinstance(item, dict):
            raise ClaimInputError(at, "a line must be an object")
        lines.append(
            Line(
                line=n,
                code=f.code(item.get("code"), f"{at}.code", n),
                modifiers=f.modifiers(item.get("modifiers") or [], f"{at}.modifiers", n),
                units=f.units(item.get("units"), f"{at}.units", n),
                pointers=f.pointers(item.get("pointers") or [], f"{at}.pointers", n),
                charge=f.charge(item.get("charge"), f"{at}.charge", n),
                date=f.day(item.get("date"), f"{at}.date", "date", n),
            )
        )
    claim_id = f.text(obj.get("id"), f"{where}.id", "id")
    return Claim(
        id=claim_id or str(index + 1),
        lines=tuple(lines),
        date=f.day(obj.get("date"), f"{where}.date", "date"),
        place_of_service=f.text(obj.get("place_of_service"), f"{where}.place_of_service", "place_of_service"),
        provider=f.text(obj.get("provider"), f"{where}.provider", "provider"),
        zip_code=f.text(obj.get("zip"), f"{where}.zip", "zip"),
        locality=f.text(obj.get("locality"), f"{where}.locality", "locality"),
        diagnoses=diagnoses,
        problems=tuple(f.problems),
        billing_npi=f.text(obj.get("billing_npi"), f"{where}.billing_npi", "billing_npi"),
        rendering_npi=f.text(obj.get("rendering_npi"), f"{where}.rendering_npi", "rendering_npi"),
        referring_npi=f.text(obj.get("referring_npi"), f"{where}.referring_npi", "referring_npi"),
    )


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


# --- CSV -------------------------------------------------------------------------------------


def read_csv(text: str, source: str = "<csv>") -> list[Claim]:
    """Claims from CSV with a header row; one row per claim line, rows of a claim together."""
    return list(iter_csv(io.StringIO(text), source))


def iter_csv(stream: Any, source: str = "<csv>") -> Iterator[Claim]:
    reader = csv.reader(stream)
    try:
        yield from _csv_claims(reader, source)
    except csv.Error as exc:  # a field over the csv module's limit (128 KB), a NUL byte ...
        raise ClaimInputError(f"{source}:{reader.line_num}", f"not CSV: {exc}") from None


def _csv_claims(reader: Any, source: str) -> Iterator[Claim]:
    header = next(reader, None)
    if header is None:
        raise ClaimInputError(source, "the file is empty")
    if header and header[0].startswith("\ufeff"):  # a byte order mark, as spreadsheet tools write
        header = [header[0][1:], *header[1:]]
    col = csv_columns(header, source)
    rows: list[tuple[int, list[str]]] = []
    extra = 0  # rows of a claim past MAX_LINES: counted for the error, not kept
    current = None
    for row in reader:
        n = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ClaimInputError(f"{source}:{n}", f"{len(row)} fields, the header has {len(header)}")
        cid = row[col["claim_id"]].strip()
        if not cid:
            raise ClaimInputError(f"{source}:{n}:{col['claim_id'] + 1}", "claim_id is empty")
        if current is not None and cid != current:
            yield _csv_claim(rows, col, source, extra)
            rows, extra = [], 0
        current = cid
        if len(rows) < MAX_LINES:
            rows.append((n, row))
        else:
            extra += 1
    if rows:
        yield _csv_claim(rows, col, source, extra)


def csv_columns(header: list[str], source: str) -> dict[str, int]:
    """Column positions from a CSV header row, or an error naming what is missing or unknown."""
    header = [h.strip().lower() for h in header]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise ClaimInputError(f"{source}:1", f"missing column(s): {', '.join(missing)}")
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise ClaimInputError(
            f"{source}:1", f"unknown column(s): {', '.join(unknown)}; columns are {', '.join(CSV_COLUMNS)}"
        )
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise ClaimInputError(f"{source}:1", f"column(s) named twice: {', '.join(twice)}")
    col = {h: i for i, h in enumerate(header)}
    return col


def _csv_claim(rows: list[tuple[int, list[str]]], col: dict[str, int], source: str, extra: int = 0) -> Claim:
    """The claim of ``rows``; ``extra`` rows past MAX_LINES were counted but not kept."""
    f = Fields()

    def get(row: list[str], name: str) -> str:
        return row[col[name]].strip() if name in col else ""

    def at(n: int, name: str) -> str:
        return f"{source}:{n}:{col[name] + 1}" if name in col else f"{source}:{n}"

    first_n, first = rows[0]
    claim_fields: dict[str, str] = {}
    for n, row in rows:
        for name in ("date", "place_of_service", "provider", "zip", "locality", "diagnoses", *NPI_FIELDS):
            value = get(row, name)
            if value and claim_fields.setdefault(name, value) != value:
                f.problem(at(n, name), name, f"differs from the claim's first row ({claim_fields[name]!r})")
    lines = []
    for i, (n, row) in enumerate(rows, start=1):
        lines.append(
            Line(
                line=i,
                code=f.code(get(row, "code"), at(n, "code"), i),
                modifiers=f.modifiers(get(row, "modifiers").replace(";", " ").split(), at(n, "modifiers"), i),
                units=f.units(get(row, "units"), at(n, "units"), i),
                pointers=f.pointers(get(row, "pointers").replace(";", " ").split(), at(n, "pointers"), i),
                charge=f.charge(get(row, "charge"), at(n, "charge"), i),
                date=f.day(get(row, "line_date"), at(n, "line_date"), "line_date", i),
            )
        )
    diagnoses = tuple(d.strip().upper() for d in claim_fields.get("diagnoses", "").replace(";", " ").split())
    f.limits(f"{source}:{first_n}", len(rows) + extra, len(diagnoses))

    def text(name: str) -> str | None:
        return f.text(claim_fields.get(name), at(first_n, name), name)

    return Claim(
        id=get(first, "claim_id"),
        lines=tuple(lines),
        date=f.day(claim_fields.get("date"), at(first_n, "date"), "date"),
        place_of_service=text("place_of_service"),
        provider=text("provider"),
        zip_code=text("zip"),
        locality=text("locality"),
        diagnoses=diagnoses,
        problems=tuple(f.problems),
        billing_npi=text("billing_npi"),
        rendering_npi=text("rendering_npi"),
        referring_npi=text("referring_npi"),
    )
