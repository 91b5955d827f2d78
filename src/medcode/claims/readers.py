"""Claim readers: JSON (schema in claims/claim.schema.json) and CSV (one row per line).

A file that cannot be read at all (empty, not JSON, a missing CSV column) raises
``ClaimInputError`` naming the file and the place. A value that cannot be used (negative units,
an impossible date) becomes a ``Problem`` on its claim: the line is kept and reported.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from medcode.claims.model import Claim, Line, Problem

MAX_MODIFIERS = 4
CSV_REQUIRED = ("claim_id", "code")
CSV_COLUMNS = ("claim_id", "date", "place_of_service", "provider", "zip", "locality", "diagnoses", "line",
               "code", "modifiers", "units", "pointers", "charge", "line_date")


class ClaimInputError(ValueError):
    """A claim file that cannot be read; ``where`` is file:line:column or a JSON path."""

    def __init__(self, where: str, message: str):
        self.where = where
        super().__init__(f"{where}: {message}")


class Fields:
    """Reads the fields of one claim, collecting problems instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, where: str, field: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(where, field, message, line))

    def day(self, value: Any, where: str, field: str, line: int | None = None) -> date | None:
        if value in (None, ""):
            return None
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            self.problem(where, field, f"{value!r} is not a date (YYYY-MM-DD)", line)
            return None

    def units(self, value: Any, where: str, line: int) -> float | None:
        if value in (None, ""):
            return 1
        try:
            units = float(value)
        except (TypeError, ValueError):
            self.problem(where, "units", f"{value!r} is not a number", line)
            return None
        if units <= 0 or units != units:
            self.problem(where, "units", f"units must be more than 0, not {value}", line)
            return None
        return int(units) if units.is_integer() else units

    def charge(self, value: Any, where: str, line: int) -> float | None:
        if value in (None, ""):
            return None
        try:
            charge = float(value)
        except (TypeError, ValueError):
            self.problem(where, "charge", f"{value!r} is not an amount", line)
            return None
        if charge < 0:
            self.problem(where, "charge", f"a charge cannot be negative ({value})", line)
        return charge

    def modifiers(self, values: list[Any], where: str, line: int) -> tuple[str, ...]:
        mods = tuple(str(m).strip().upper() for m in values if str(m).strip())
        bad = [m for m in mods if len(m) != 2 or not m.isalnum()]
        if bad:
            self.problem(where, "modifiers", f"not modifiers: {', '.join(bad)}", line)
        if len(mods) > MAX_MODIFIERS:
            self.problem(where, "modifiers", f"at most {MAX_MODIFIERS} modifiers on a line, not {len(mods)}", line)
        return tuple(m for m in mods if m not in bad)[:MAX_MODIFIERS]

    def pointers(self, values: list[Any], where: str, line: int) -> tuple[int, ...]:
        out = []
        for v in values:
            try:
                out.append(int(v))
            except (TypeError, ValueError):
                self.problem(where, "pointers", f"{v!r} is not a diagnosis pointer (1-12)", line)
        return tuple(out)

    def plain_line(self, n: int, code: str, modifiers: list[str], units: str, pointers: list[str], charge: str,
                   day: date | None) -> Line | None:
        """Line ``n`` from text values that the methods above would leave as they are (nothing to
        report), without building the positions they name; None when a value needs them."""
        if not (code and code.strip().upper() == code and len(modifiers) <= MAX_MODIFIERS
                and all(len(m) == 2 and m.isalnum() and m.upper() == m for m in modifiers)
                and units.isdigit() and len(units) < 10 and int(units) > 0
                and all(p.isdigit() and len(p) < 10 for p in pointers)):
            return None
        amount = None
        if charge:
            try:
                amount = float(charge)
            except ValueError:
                return None
            if amount < 0:
                return None
        return Line(line=n, code=code, modifiers=tuple(modifiers), units=int(units),
                    pointers=tuple(int(p) for p in pointers), charge=amount, date=day)

    def code(self, value: Any, where: str, line: int) -> str:
        code = str(value or "").strip().upper()
        if not code:
            self.problem(where, "code", "the line has no code", line)
        return code


# --- JSON ------------------------------------------------------------------------------------

def load_json(text: str, source: str) -> Any:
    """The parsed document, or an error naming the line and column where it stops being JSON."""
    if not text.strip():
        raise ClaimInputError(source, "the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
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
    return [_json_claim(c, f"{source}:$" + (f".{base}[{i}]" if base else f"[{i}]" if base == "" else ""), i)
            for i, c in enumerate(items)]


def _json_claim(obj: Any, where: str, index: int) -> Claim:
    if not isinstance(obj, dict):
        raise ClaimInputError(where, "a claim must be an object")
    f = Fields()
    lines_in = obj.get("lines")
    if not isinstance(lines_in, list) or not lines_in:
        raise ClaimInputError(f"{where}.lines", "a claim needs a list of lines")
    lines = []
    for n, item in enumerate(lines_in, start=1):
        at = f"{where}.lines[{n - 1}]"
        if not isinstance(item, dict):
            raise ClaimInputError(at, "a line must be an object")
        mods = item.get("modifiers") or []
        ptrs = item.get("pointers") or []
        lines.append(Line(
            line=n, code=f.code(item.get("code"), f"{at}.code", n),
            modifiers=f.modifiers(mods if isinstance(mods, list) else [mods], f"{at}.modifiers", n),
            units=f.units(item.get("units"), f"{at}.units", n),
            pointers=f.pointers(ptrs if isinstance(ptrs, list) else [ptrs], f"{at}.pointers", n),
            charge=f.charge(item.get("charge"), f"{at}.charge", n),
            date=f.day(item.get("date"), f"{at}.date", "date", n)))
    diagnoses = obj.get("diagnoses") or []
    return Claim(
        id=str(obj.get("id") or index + 1), lines=tuple(lines),
        date=f.day(obj.get("date"), f"{where}.date", "date"),
        place_of_service=_text(obj.get("place_of_service")), provider=_text(obj.get("provider")),
        zip_code=_text(obj.get("zip")), locality=_text(obj.get("locality")),
        diagnoses=tuple(str(d).strip().upper() for d in diagnoses if str(d).strip()),
        problems=tuple(f.problems))


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


# --- CSV -------------------------------------------------------------------------------------

def read_csv(text: str, source: str = "<csv>") -> list[Claim]:
    """Claims from CSV with a header row; one row per claim line, rows of a claim together."""
    return list(iter_csv(io.StringIO(text), source))


def iter_csv(stream: Any, source: str = "<csv>") -> Iterator[Claim]:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise ClaimInputError(source, "the file is empty")
    col = csv_columns(header, source)
    rows: list[tuple[int, list[str]]] = []
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
            yield _csv_claim(rows, col, source)
            rows = []
        current = cid
        rows.append((n, row))
    if rows:
        yield _csv_claim(rows, col, source)


def csv_columns(header: list[str], source: str) -> dict[str, int]:
    """Column positions from a CSV header row, or an error naming what is missing or unknown."""
    header = [h.strip().lower() for h in header]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise ClaimInputError(f"{source}:1", f"missing column(s): {', '.join(missing)}")
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise ClaimInputError(f"{source}:1", f"unknown column(s): {', '.join(unknown)}; "
                                             f"columns are {', '.join(CSV_COLUMNS)}")
    col = {h: i for i, h in enumerate(header)}
    return col


def _csv_claim(rows: list[tuple[int, list[str]]], col: dict[str, int], source: str) -> Claim:
    f = Fields()

    def get(row: list[str], name: str) -> str:
        return row[col[name]].strip() if name in col else ""

    def at(n: int, name: str) -> str:
        return f"{source}:{n}:{col[name] + 1}" if name in col else f"{source}:{n}"

    first_n, first = rows[0]
    claim_fields: dict[str, str] = {}
    for n, row in rows:
        for name in ("date", "place_of_service", "provider", "zip", "locality", "diagnoses"):
            value = get(row, name)
            if value and claim_fields.setdefault(name, value) != value:
                f.problem(at(n, name), name, f"differs from the claim's first row ({claim_fields[name]!r})")
    lines = []
    for i, (n, row) in enumerate(rows, start=1):
        lines.append(Line(
            line=i, code=f.code(get(row, "code"), at(n, "code"), i),
            modifiers=f.modifiers(get(row, "modifiers").replace(";", " ").split(), at(n, "modifiers"), i),
            units=f.units(get(row, "units"), at(n, "units"), i),
            pointers=f.pointers(get(row, "pointers").replace(";", " ").split(), at(n, "pointers"), i),
            charge=f.charge(get(row, "charge"), at(n, "charge"), i),
            date=f.day(get(row, "line_date"), at(n, "line_date"), "line_date", i)))
    return Claim(
        id=get(first, "claim_id"), lines=tuple(lines),
        date=f.day(claim_fields.get("date"), at(first_n, "date"), "date"),
        place_of_service=claim_fields.get("place_of_service"), provider=claim_fields.get("provider"),
        zip_code=claim_fields.get("zip"), locality=claim_fields.get("locality"),
        diagnoses=tuple(d.strip().upper() for d in claim_fields.get("diagnoses", "").replace(";", " ").split()),
        problems=tuple(f.problems))
