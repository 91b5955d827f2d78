"""837P 005010X222A1 checked as X12, in bulk: syntax and envelope (``x12_segments``), the
order and presence of loops and segments (``x12_loops``), the HL hierarchy, and the lengths,
types and code values of the elements of the segments medcode reads (CLM, HI, SV1, DTP, NM1,
N4, REF). Each error carries its segment's number and the codes a 999 reports it with.

Other segments are checked for their place, not their elements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from medcode.claims.x12_loops import check_block
from medcode.claims.x12_segments import (
    CHUNK_BYTES,
    ENVELOPE,
    SEGMENTS,
    Delimiters,
    Envelope,
    X12Error,
    chunk_texts,
    delimiters,
    elements,
    split_segments,
    syntax_errors,
)

MAX_ERRORS = 10_000  # errors kept for a file (the count goes on)


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


@dataclass
class TransactionSet:
    st: int  # segment number of ST
    se: int  # of SE (0: none)
    kind: str  # ST01
    control: str  # ST02
    version: str  # ST03
    errors: list[X12Error] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.errors


@dataclass
class Group:
    gs: list[str]
    ge: list[str] | None
    sets: list[TransactionSet]
    code: str  # AK905 when the group itself is in error


@dataclass
class Validation:
    """An 837P file checked as X12: its interchange header, groups and transaction sets."""

    source: str
    delimiters: Delimiters
    isa: list[str]
    groups: list[Group]
    errors: list[X12Error]  # every error (up to MAX_ERRORS), in file order
    count: int  # every error

    @property
    def valid(self) -> bool:
        return self.count == 0


def validate_837(text: str, source: str = "<837>", chunk_chars: int = CHUNK_BYTES) -> Validation:
    """Checks an 837P file; raises ``ClaimInputError`` only when its ISA cannot be read."""
    d = delimiters(text, source)
    envelope = Envelope()
    errors: list[X12Error] = []
    first, count = 1, 0
    level = ""
    st_kinds: dict[int, list[str]] = {}
    hl_state: dict = {}
    for chunk in chunk_texts(text, d, chunk_chars):
        f = split_segments(chunk, d, first)
        first += f.height
        found = syntax_errors(f, d, envelope.open_set)
        env_rows = f.filter(pl.col("id").is_in(list(ENVELOPE))).select("n", "id", elements(d)).rows()
        envelope.feed(env_rows)
        st_kinds.update({n: el for n, sid, el in env_rows if sid == "ST"})
        loop_errors, level = _loop_errors(f, d, level)
        found += loop_errors + _element_errors(f, d) + _hl_errors(f, d, hl_state)
        count += len(found)
        errors.extend(found[: max(0, MAX_ERRORS - len(errors))])
    envelope.finish()
    count += len(envelope.errors)
    errors.extend(envelope.errors)
    errors.sort(key=lambda e: (e.segment, e.element, e.component))
    errors = errors[:MAX_ERRORS]
    sets = []
    for st, se, control in envelope.sets:
        el = [*st_kinds.get(st, []), "", "", "", ""]
        sets.append(TransactionSet(st, se, el[1], control, el[3]))
    _assign(errors, sets)
    groups = [Group(g["gs"], g.get("ge"), [sets[i] for i in g["sets"]], g["code"]) for g in envelope.groups_seen]
    isa = envelope.isa or []
    return Validation(source, d, isa, groups, errors, count)


def _assign(errors: list[X12Error], sets: list[TransactionSet]) -> None:
    """Each error to the transaction set it is in (by segment number, or the ST it names)."""
    import bisect

    starts = [s.st for s in sets]
    for e in errors:
        if e.st:
            i = bisect.bisect_left(starts, e.st)
            if i < len(sets) and sets[i].st == e.st:
                sets[i].errors.append(e)
            continue
        i = bisect.bisect_right(starts, e.segment) - 1
        if i >= 0 and (sets[i].se == 0 or e.segment <= sets[i].se) and e.segment >= sets[i].st:
            sets[i].errors.append(e)


def _keys(d: Delimiters) -> pl.Expr:
    """A segment's key in the loop table: its id, with NM101 for NM1 and HL03 for HL."""
    sid = pl.col("id")
    parts = pl.col("seg").str.split(d.element)
    return (
        pl.when(sid == "NM1")
        .then(pl.lit("NM1*") + parts.list.get(1, null_on_oob=True).fill_null(""))
        .when(sid == "HL")
        .then(pl.lit("HL*") + parts.list.get(3, null_on_oob=True).fill_null(""))
        .otherwise(sid)
    )


def _loop_errors(f: pl.DataFrame, d: Delimiters, level: str) -> tuple[list[X12Error], str]:
    """Loop errors of a chunk's transaction sets, block by block (see ``x12_loops``); ``level``
    is the HL level code in force at the chunk's start, returned for the next chunk's."""
    sid = pl.col("id")
    # (unknown segments are syntax errors already, not also loop errors)
    body = f.filter(~sid.is_in(["ISA", "GS", "GE", "IEA"]) & sid.is_in(list(SEGMENTS)))
    if not body.height:
        return [], level
    nm1_hl = body.filter(sid.is_in(["NM1", "HL"])).select("n", key=_keys(d))
    body = body.join(nm1_hl, on="n", how="left", maintain_order="left").with_columns(key=pl.coalesce("key", "id"))
    starts = sid.is_in(["ST", "HL", "CLM", "SE"])
    body = body.with_columns(
        block=starts.cum_sum(),
        level=pl.when(sid == "HL")
        .then(pl.col("key").str.slice(3))
        .when(sid == "ST")
        .then(pl.lit(""))
        .forward_fill()
        .fill_null(level),
    )
    blocks = (
        body.filter(sid != "SE")
        .group_by("block", maintain_order=True)
        .agg(
            pl.col("n").first(),
            pl.col("id").first().alias("kind"),
            pl.col("key"),
            pl.col("level").first(),
            pl.col("n").alias("ns"),
        )
    )
    # (a chunk's last block ends where the next chunk starts: at a CLM)
    ends = body.filter(starts).select(
        "block", pl.col("key").shift(-1).fill_null("CLM").alias("end"), pl.col("n").shift(-1).alias("end_n")
    )
    blocks = blocks.join(ends, on="block", how="left")
    out: list[X12Error] = []
    for kind, keys, lvl, ns, end, end_n in blocks.select("kind", "key", "level", "ns", "end", "end_n").iter_rows():
        if kind not in ("ST", "HL", "CLM"):
            kind = "HL"  # (segments of a chunk before its first block start: a chunk starts at CLM)
        start_level = lvl if kind == "CLM" else ""
        for e in check_block(kind, start_level, tuple(keys), end or ""):
            # (the segment at the offset; the block's length: the next block's first segment)
            at = ns[e.offset] if e.offset < len(ns) else (end_n or ns[-1] + 1)
            out.append(X12Error(at, e.segment_id, e.message, loop=e.loop, segment_code=e.code))
    last_level = body["level"][-1] if body.height else level
    return out, last_level or ""


def _element_errors(f: pl.DataFrame, d: Delimiters) -> list[X12Error]:
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


def _hl_errors(f: pl.DataFrame, d: Delimiters, state: dict) -> list[X12Error]:
    """HL01 numbers HLs from 1 in each transaction set; HL02 names the parent HL: none for the
    billing provider (20), a 20 for a subscriber (22), a 22 for a patient (23)."""
    rows = f.filter(pl.col("id").is_in(["ST", "HL"])).select("n", "id", el=elements(d)).rows()
    out: list[X12Error] = []
    levels: dict[str, str] = state.setdefault("levels", {})
    expected = state.get("expected", 1)
    want_parent = {"20": "", "22": "20", "23": "22"}
    for n, sid, el in rows:
        if sid == "ST":
            levels.clear()
            expected = 1
            continue
        get = (el + [""] * 5).__getitem__
        if get(1) != str(expected):
            out.append(
                X12Error(
                    n,
                    "HL",
                    f"HL01 {get(1)!r} should be {expected}: HLs are numbered from 1 in order",
                    element=1,
                    element_code="7",
                    segment_code="8",
                    value=get(1),
                )
            )
        expected += 1
        level = get(3)
        if level not in want_parent:
            out.append(
                X12Error(
                    n,
                    "HL",
                    f"HL03 {level!r} is not 20 (billing provider), 22 (subscriber) or 23 (patient)",
                    element=3,
                    element_code="7",
                    segment_code="8",
                    value=level,
                )
            )
        elif level == "20" and get(2):
            out.append(
                X12Error(
                    n,
                    "HL",
                    "HL02 must be empty for the billing provider (HL03 20)",
                    element=2,
                    element_code="I10",
                    segment_code="8",
                    value=get(2),
                )
            )
        elif level != "20" and levels.get(get(2)) != want_parent[level]:
            out.append(
                X12Error(
                    n,
                    "HL",
                    f"HL02 {get(2)!r} should name an HL of level {want_parent[level]} before this one",
                    element=2,
                    element_code="7",
                    segment_code="8",
                    value=get(2),
                )
            )
        levels[get(1)] = level
    state["expected"] = expected
    return out
