"""Medically unlikely edits: units per line (MAI 1) or per day (MAI 2 and 3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from medcode import vocab
from medcode.claims.batch import tables
from medcode.claims.batch.frames import _ids
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding
from medcode.rules import MUE_BEYOND_LIMIT

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "mue"
TITLE = "Medically unlikely edits"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    per_day: dict[tuple[str, date | None], list] = defaultdict(list)
    for line in claim.lines:
        if line.code and line.units is not None:
            per_day[(line.code, claim.day_of(line))].append(line)
    for (code, day), lines in per_day.items():
        mue = facts.mue(code, day)
        if mue is None:
            continue
        if mue["mai"] == "1":
            for line in lines:
                if line.units > mue["units"]:
                    yield exceeded(code, day, mue, line.units, (line.line,))
        else:
            total = sum(line.units for line in lines)
            if total > mue["units"]:
                yield exceeded(code, day, mue, total, tuple(x.line for x in lines))


def exceeded(code: str, day: object, mue: dict, units: float, lines: tuple[int, ...]) -> Finding:
    """Units over the MUE: on one line (MAI 1) or on the date of service (MAI 2 and 3)."""
    meaning = (vocab.meaning("mai", mue["mai"]) or "").rstrip(".")  # the rationale follows after "; "
    where = "on the line" if mue["mai"] == "1" else f"on {day}"
    return Finding(
        "mue.exceeded",
        "deny",
        lines,
        f"{code}: {units:,.0f} units {where}, the MUE is {mue['units']} (MAI {mue['mai']}: {meaning}; "
        f"{mue['rationale']}).",
        f"Bill at most {mue['units']} unit{'' if mue['units'] == 1 else 's'}"
        + (" per line" if mue["mai"] == "1" else " per day")
        + MUE_BEYOND_LIMIT.get(mue["mai"], "."),
        mue["citation"],
    )


# --- the batch form: the same check over whole files (medcode.claims.batch) --------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over whole files: lines over their MUE (MAI 1), days over it (MAI 2 and 3)."""
    limits = tables.mue(bc.facts, _ids(ln, "mue_rid"))
    m = ln.select("cid", "line", "code", "day", "units", "mue_rid").join(limits, on=["mue_rid", "code"])

    def make(r: dict, text: dict) -> Iterator[Finding]:
        found = bc.facts.mue(r["code"], r["day"])  # the same for every code of the key
        if found is not None:  # (always: the lines were joined with the MUE table)
            limit = {**found, "citation": replace(found["citation"], row=text["code"], line=None)}
            yield exceeded(text["code"], text["day"], limit, r["units"], ())

    per_line = m.filter((pl.col("mai") == "1") & (pl.col("units") > pl.col("mue_units")))
    daily = m.filter(pl.col("mai") != "1")
    # sum first (a few plain columns), then gather lines and limits only for the days over
    over = (
        daily.group_by("cid", "code", "day")
        .agg(pl.col("units").sum(), pl.col("mue_units").first())
        .filter(pl.col("units") > pl.col("mue_units"))
        .drop("mue_units")
    )
    per_day = (
        daily.join(over.select("cid", "code", "day"), on=["cid", "code", "day"], how="semi")
        .group_by("cid", "code", "day")
        .agg(
            pl.col("line").sort().alias("lines"),
            *(pl.col(col).first() for col in ("mue_units", "mai", "rationale", "mue_rid", "mue_line")),
        )
        .join(over, on=["cid", "code", "day"])
    )
    keys = ["mue_rid", "mue_units", "mai", "rationale", "units"]
    return pl.concat(
        [
            bc.per_key(per_line, keys, make, pl.concat_list("line"), ("code", "day"), "mue_line"),
            bc.per_key(per_day, keys, make, pl.col("lines"), ("code", "day"), "mue_line"),
        ]
    )
