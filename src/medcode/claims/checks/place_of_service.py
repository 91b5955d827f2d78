"""Place of service: a code of the CMS place-of-service code set (``vocab/place_of_service.tsv``),
valid on the date of service of every line (codes added to the set have a first valid date)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl

from medcode import vocab
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "place_of_service"
TITLE = "Place of service valid on the date"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    pos = claim.place_of_service
    if not pos:
        return
    key = pos.zfill(2)  # as repricing reads it: "1" is 01
    if key not in vocab.places_of_service():
        yield unknown(pos)
        return
    first = vocab.place_of_service_from()[key]
    early = tuple(x.line for x in claim.lines if first and (day := claim.day_of(x)) is not None and day < first)
    if early:
        yield not_in_force(pos, key, early)


def unknown(pos: str) -> Finding:
    return Finding(
        "place_of_service.unknown",
        "deny",
        (),
        f"Place of service {pos} is not a code of the CMS place-of-service code set.",
        "Give the two-digit CMS place-of-service code of where the service was given (11 office, "
        "22 on-campus outpatient hospital, 21 inpatient hospital ...).",
    )


def not_in_force(pos: str, key: str, lines: tuple[int, ...]) -> Finding:
    name = vocab.places_of_service()[key][1]
    first = vocab.place_of_service_from()[key]
    assert first is not None
    return Finding(
        "place_of_service.not_in_force",
        "deny",
        lines,
        f"Place of service {pos} ({name}) is valid for dates of service from {first.isoformat()} "
        "on; these lines are dated before it.",
        "Use the place-of-service code in force on the date of service, or correct the date.",
    )


def dated_codes() -> pl.DataFrame:
    """(``pos_key``, ``pos_from``) of the codes with a first valid date."""
    return pl.DataFrame(
        [(k, d) for k, d in vocab.place_of_service_from().items() if d is not None],
        schema={"pos_key": pl.String, "pos_from": pl.Date},
        orient="row",
    )


# --- the batch form ---------------------------------------------------------------------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over the batch engine's frames: claims ``c`` (``pos``), lines ``ln`` (``day``)."""
    known = list(vocab.places_of_service())
    given = c.filter(pl.col("pos").is_not_null() & (pl.col("pos") != "")).select(
        "cid", "pos", pos_key=pl.col("pos").str.zfill(2)
    )
    bad = given.filter(~pl.col("pos_key").is_in(known))
    early = (
        ln.select("cid", "line", "day")
        .join(given.join(dated_codes(), on="pos_key"), on="cid")
        .filter(pl.col("day") < pl.col("pos_from"))
        .group_by("cid", "pos", "pos_key")
        .agg(pl.col("line").sort().alias("lines"))
    )

    def make_unknown(r: dict) -> Iterator[Finding]:
        yield unknown(r["pos"])

    def make_early(r: dict) -> Iterator[Finding]:
        yield not_in_force(r["pos"], r["pos_key"], ())

    return pl.concat(
        [
            bc._per_key(bad, ["pos"], make_unknown, pl.lit([], dtype=pl.List(pl.Int64))),
            bc._per_key(early, ["pos", "pos_key"], make_early, pl.col("lines")),
        ]
    )
