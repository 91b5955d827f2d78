"""The elements of the 837P segments medcode reads (CLM, HI, SV1, DTP, NM1, N4, REF) checked in
bulk against 005010X222A1: required elements and components, the number of elements, lengths,
types (R decimal, N0 whole number, dates) and code values, and NPIs where NM108 is XX; each
error with the IK4 codes of a 999."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from medcode.claims.x12_segments import Delimiters, X12Error, elements


@dataclass(frozen=True)
class El:
    """One element (or component of a composite) as 837P defines it."""

    kind: str  # AN, ID, R (decimal), N0 (whole number), DT (date)
    low: int
    high: int
    required: bool = False
    codes: frozenset[str] = frozenset()


def _e(kind: str, low: int, high: int, required: bool = False, codes: str = "") -> El:
    return El(kind, low, high, required, frozenset(codes.split()) if codes else frozenset())


REQUIRED = El("C", 0, 10**6, True)  # (at position 0 of a composite: the composite is required)
OPTIONAL = El("C", 0, 10**6)


FREQUENCY = "1 6 7 8"
ID_CODES = "XX 46 MI II PI XV 24 34 FI SY EI"
# element position -> El, or -> {component position: El} for a composite; and the most elements
RULES: dict[str, tuple[int, dict[int, El | dict[int, El]]]] = {
    "CLM": (
        20,
        {
            1: _e("AN", 1, 38, True),
            2: _e("R", 1, 18, True),
            5: {0: REQUIRED, 1: _e("AN", 1, 2, True), 2: _e("ID", 1, 1, True, "B"), 3: _e("ID", 1, 1, True, FREQUENCY)},
            6: _e("ID", 1, 1, True, "Y N"),
            7: _e("ID", 1, 1, True, "A B C"),
            8: _e("ID", 1, 1, True, "N W Y"),
            9: _e("ID", 1, 1, True, "I Y"),
        },
    ),
    "HI": (
        12,
        {
            1: {0: REQUIRED, 1: _e("ID", 1, 3, True, "ABK BK"), 2: _e("AN", 1, 30, True)},
            **{i: {1: _e("ID", 1, 3, True, "ABF BF"), 2: _e("AN", 1, 30, True)} for i in range(2, 13)},
        },
    ),
    "SV1": (
        21,
        {
            1: {
                0: REQUIRED,
                1: _e("ID", 2, 2, True, "HC ER IV WK"),
                2: _e("AN", 1, 48, True),
                3: _e("AN", 2, 2),
                4: _e("AN", 2, 2),
                5: _e("AN", 2, 2),
                6: _e("AN", 2, 2),
                7: _e("AN", 1, 80),
            },
            2: _e("R", 1, 18, True),
            3: _e("ID", 2, 2, True, "UN MJ"),
            4: _e("R", 1, 15, True),
            5: _e("AN", 1, 2),
            7: {0: REQUIRED, 1: _e("N0", 1, 2, True), 2: _e("N0", 1, 2), 3: _e("N0", 1, 2), 4: _e("N0", 1, 2)},
        },
    ),
    "DTP": (3, {1: _e("ID", 3, 3, True), 2: _e("ID", 2, 3, True, "D8 RD8"), 3: _e("DT", 1, 35, True)}),
    "NM1": (
        12,
        {
            1: _e("ID", 2, 3, True),
            2: _e("ID", 1, 1, True, "1 2"),
            3: _e("AN", 1, 60),
            4: _e("AN", 1, 35),
            5: _e("AN", 1, 25),
            7: _e("AN", 1, 10),
            8: _e("ID", 1, 2, False, ID_CODES),
            9: _e("AN", 2, 80),
        },
    ),
    "N4": (7, {1: _e("AN", 2, 30, True), 2: _e("ID", 2, 2), 3: _e("ID", 3, 15), 4: _e("ID", 2, 3)}),
    "REF": (4, {1: _e("ID", 2, 3, True), 2: _e("AN", 1, 50, True)}),
}
NPI_ENTITIES = ("85", "82", "DN", "77", "DQ", "QB", "DK", "PE", "87", "P3")  # NM108 XX: NM109 is a 10-digit NPI


def element_errors(f: pl.DataFrame, d: Delimiters) -> list[X12Error]:
    """Element errors of the segments medcode reads (``RULES``)."""
    out: list[X12Error] = []
    for sid, (most, rules) in RULES.items():
        rows = f.filter(pl.col("id") == sid).select("n", el=elements(d))
        if not rows.height:
            continue
        over = rows.filter(pl.col("el").list.len() - 1 > most)
        for n, el in over.iter_rows():
            out.append(
                X12Error(
                    n,
                    sid,
                    f"{sid} has {len(el) - 1} elements; it has at most {most}",
                    element=most + 1,
                    element_code="3",
                    segment_code="8",
                )
            )
        out += _rule_errors(rows, sid, rules, d)
        if sid == "NM1":
            npi = rows.filter(
                pl.col("el").list.get(1, null_on_oob=True).is_in(list(NPI_ENTITIES))
                & (pl.col("el").list.get(8, null_on_oob=True) == "XX")
                & ~pl.col("el").list.get(9, null_on_oob=True).fill_null("").str.contains(r"^[0-9]{10}$")
            )
            for n, el in npi.iter_rows():
                written = el[9] if len(el) > 9 else ""
                out.append(
                    X12Error(
                        n,
                        sid,
                        f"NM109 {written!r} is not an NPI (10 digits), as NM108 XX says",
                        element=9,
                        element_code="I12",
                        segment_code="8",
                        value=written,
                    )
                )
        if sid == "DTP":
            bad = rows.filter(
                _bad_date(
                    pl.col("el").list.get(2, null_on_oob=True).fill_null(""),
                    pl.col("el").list.get(3, null_on_oob=True).fill_null(""),
                )
            )
            for n, el in bad.iter_rows():
                out.append(
                    X12Error(
                        n,
                        sid,
                        f"DTP03 {el[3]!r} is not a date as DTP02 {el[2]!r} says (CCYYMMDD)",
                        element=3,
                        element_code="8",
                        segment_code="8",
                        value=el[3][:35],
                    )
                )
    return out


def _bad_date(fmt: pl.Expr, value: pl.Expr) -> pl.Expr:
    def day(text: pl.Expr) -> pl.Expr:
        return text.str.contains(r"^[0-9]{8}$") & text.str.strptime(pl.Date, "%Y%m%d", strict=False).is_not_null()

    d8 = (fmt == "D8") & (value != "") & ~day(value)
    rd8 = (
        (fmt == "RD8")
        & (value != "")
        & ~(value.str.contains(r"^[0-9]{8}-[0-9]{8}$") & day(value.str.slice(0, 8)) & day(value.str.slice(9, 8)))
    )
    return (d8 | rd8).fill_null(False)


KIND_PATTERN = {"R": r"^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)$", "N0": r"^-?[0-9]+$"}
KIND_NAME = {"R": "a decimal number", "N0": "a whole number"}


def _code(value: pl.Expr, rule: El) -> pl.Expr:
    """The IK403 code of the first rule a value breaks (null when it breaks none)."""
    digits = value.str.replace_all(r"[-.]", "")
    length = digits.str.len_chars() if rule.kind in ("R", "N0") else value.str.len_chars()
    checks: list[tuple[pl.Expr, str]] = []
    if rule.required:
        checks.append((value == "", "1"))
    if rule.kind in KIND_PATTERN:
        checks.append(((value != "") & ~value.str.contains(KIND_PATTERN[rule.kind]), "6"))
    checks.append(((value != "") & (length < rule.low), "4"))
    checks.append(((value != "") & (length > rule.high), "5"))
    if rule.codes:
        checks.append(((value != "") & ~value.is_in(list(rule.codes)), "7"))
    code = pl.lit(None, pl.String)
    for cond, c in reversed(checks):
        code = pl.when(cond).then(pl.lit(c)).otherwise(code)
    return code


def _rule_errors(rows: pl.DataFrame, sid: str, rules: dict[int, El | dict[int, El]], d: Delimiters) -> list[X12Error]:
    """Errors of the rules of one segment id, every rule in one pass over its rows."""
    specs: list[tuple[int, int, El]] = []
    codes: list[pl.Expr] = []
    for pos, rule in rules.items():
        value = pl.col("el").list.get(pos, null_on_oob=True).fill_null("")
        if isinstance(rule, El):
            specs.append((pos, 0, rule))
            codes.append(_code(value, rule))
            continue
        if rule.get(0, OPTIONAL).required:
            specs.append((pos, 0, REQUIRED))
            codes.append(_code(value, REQUIRED))
        parts = value.str.split(d.component)
        for cpos, crule in rule.items():
            if cpos:  # (the components of a composite that is there)
                cvalue = parts.list.get(cpos - 1, null_on_oob=True).fill_null("")
                specs.append((pos, cpos, crule))
                codes.append(pl.when(value != "").then(_code(cvalue, crule)))
    names = [f"c{i}" for i in range(len(codes))]
    found = rows.select("n", "el", *(c.alias(name) for c, name in zip(codes, names)))
    found = found.filter(pl.any_horizontal(pl.col(name).is_not_null() for name in names))
    out = []
    for n, el, *row in found.iter_rows():
        for (pos, cpos, rule), c in zip(specs, row):
            if c is None:
                continue
            v = el[pos] if pos < len(el) else ""
            if cpos:
                comps = v.split(d.component)
                v = comps[cpos - 1] if cpos <= len(comps) else ""
            out.append(
                X12Error(
                    n,
                    sid,
                    _message(f"{sid}{pos:02d}" + (f"-{cpos}" if cpos else ""), v, c, rule),
                    element=pos,
                    component=cpos,
                    element_code=c,
                    segment_code="8",
                    value=v[:80],
                )
            )
    return out


def _message(name: str, v: str, c: str, rule: El) -> str:
    if c == "1":
        return f"{name} is required and missing"
    if c == "6":
        return f"{name} {v[:40]!r} is not {KIND_NAME[rule.kind]}"
    if c == "4":
        return f"{name} {v[:40]!r} is shorter than {rule.low} characters"
    if c == "5":
        return f"{name} {v[:40]!r} is longer than {rule.high} characters"
    return f"{name} {v[:40]!r} is not one of {', '.join(sorted(rule.codes))}"
