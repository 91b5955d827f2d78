"""Sibling codes: families whose codes exclude each other on one date (vocab/code_families.tsv)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl

from medcode import vocab
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "siblings"
TITLE = "Codes that exclude each other"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    for family, (members, rule) in vocab.code_families().items():
        by_day: dict[object, list] = {}
        for line in claim.lines:
            if line.code in members:
                by_day.setdefault(claim.day_of(line), []).append(line)
        for day, lines in by_day.items():
            codes = sorted({x.code for x in lines})
            if len(codes) > 1:
                yield conflict(family, rule, codes, day, tuple(x.line for x in lines))


def conflict(family: str, rule: str, codes: list[str], day: object, lines: tuple[int, ...]) -> Finding:
    return Finding(
        "siblings.conflict",
        "deny",
        lines,
        f"{' and '.join(codes)} on {day} describe the same service in different ways ({family.replace('_', ' ')}).",
        f"Bill one of them. {rule}",
    )


# --- the batch form: the same check over whole files (medcode.claims.batch) --------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over whole files: the days that bill two codes of one family."""
    families = vocab.code_families()
    members = pl.DataFrame(
        [(code, fam) for fam, (codes, _) in families.items() for code in codes],
        schema={"code": pl.String, "family": pl.String},
        orient="row",
    )
    rows = ln.select("cid", "line", "code", "day").join(members, on="code")
    # lists only for the days that bill two codes of a family (few)
    group = ["cid", "family", "day"]
    rows = rows.join(
        rows.group_by(group).agg(pl.col("code").n_unique().alias("n")).filter(pl.col("n") > 1), on=group, how="semi"
    )
    groups = (
        rows.group_by(group)
        .agg(pl.col("code").unique().sort().alias("codes"), pl.col("line").sort().alias("lines"))
        .with_columns(codes_key=pl.col("codes").list.join(" "))
    )

    def make(r: dict) -> Iterator[Finding]:
        yield conflict(r["family"], families[r["family"]][1], r["codes_key"].split(), r["day"], ())

    return bc.per_key(groups, ["family", "codes_key", "day"], make, pl.col("lines"))
