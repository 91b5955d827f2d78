"""837P 005010X222A1 checked as X12, in bulk: syntax and envelope (``x12_segments``), the
order and presence of loops and segments (``x12_loops``), the HL hierarchy, and the lengths,
types and code values of the elements of the segments medcode reads (CLM, HI, SV1, DTP, NM1,
N4, REF). Each error carries its segment's number and the codes a 999 reports it with.

Other segments are checked for their place, not their elements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from medcode.claims.x12_elements import element_errors
from medcode.claims.x12_envelope import Envelope
from medcode.claims.x12_loops import check_block
from medcode.claims.x12_segments import (
    CHUNK_BYTES,
    ENVELOPE,
    SEGMENTS,
    Delimiters,
    X12Error,
    chunk_texts,
    delimiters,
    elements,
    split_segments,
    syntax_errors,
)

MAX_ERRORS = 10_000  # errors kept for a file (the count goes on)


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
        found += loop_errors + element_errors(f, d) + _hl_errors(f, d, hl_state)
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
