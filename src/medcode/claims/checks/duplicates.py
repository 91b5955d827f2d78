"""Duplicate lines: the same code with the same modifiers (in any order) on more than one line of
one date. Severity warn: Medicare denies an exact duplicate of a service already billed for the
day, but a service given twice is billed on two lines too (with 76, 77 or 91 where they apply, or
as units), and only the record tells which it is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl

from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "duplicates"
TITLE = "Duplicate lines"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    groups: dict[tuple, list[int]] = {}
    for x in claim.lines:
        if x.code:
            groups.setdefault((claim.day_of(x), x.code, tuple(sorted(x.modifiers))), []).append(x.line)
    for (_, code, mods), lines in groups.items():
        if len(lines) > 1:
            yield duplicate(code, mods, tuple(lines))


def duplicate(code: str, modifiers: tuple[str, ...], lines: tuple[int, ...]) -> Finding:
    billed = code + "".join(f"-{m}" for m in modifiers)
    return Finding(
        "duplicates.line",
        "warn",
        lines,
        f"{billed} is billed on more than one line of the same date with the same modifiers.",
        "If it is entered twice, remove the copy; if the service was given more than once, bill the "
        "units on one line or mark the repeat (76 or 77 for a repeated procedure, 91 for a repeated "
        "laboratory test) as the code allows.",
    )


# --- the batch form ---------------------------------------------------------------------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over the batch engine's lines frame (``code``, ``mkey``, ``day``)."""
    group = ["cid", "day", "code", "skey"]
    rows = ln.select("cid", "line", "day", "code", "mkey")
    twice = rows.select("cid", "day", "code").is_duplicated()
    rows = rows.filter(twice).with_columns(
        skey=pl.col("mkey").str.split(" ").list.sort().list.join(" ")
    )  # ("" stays "")
    groups = rows.group_by(group).agg(pl.col("line").sort().alias("lines")).filter(pl.col("lines").list.len() > 1)

    def make(r: dict) -> Iterator[Finding]:
        yield duplicate(r["code"], tuple(r["skey"].split()), ())

    return bc._per_key(groups, ["code", "skey"], make, pl.col("lines"))
