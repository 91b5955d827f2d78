"""Reference files in force on the date of service: a claim notice for every file family whose
loaded releases do not cover a date of the claim (the release used instead, and why, as
``kb.resolve`` words it), and ``validity.no_release`` on the lines dated before the oldest fee
schedule medcode holds (nothing can be checked or priced against a schedule that was not yet in
force). The per-claim check and its batch form side by side, so both engines say the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker
    from medcode.kb.store import KnowledgeBase

ID = "releases"
TITLE = "Reference files in force on the date of service"

# the families read for a line on its date (in the order their notices are listed), those read
# only to price it (when the claim names a ZIP code or locality), and the diagnoses' family
LINE_FAMILIES = ("pprrvu", "hcpcs", "aoc", "mue_practitioner", "ptp_practitioner")
PRICING_FAMILIES = ("gpci", "zip5", "locality")
DIAGNOSIS_FAMILY = "icd10cm"
SCHEDULE = "pprrvu"  # the fee schedule: before its oldest release, a line is not checked


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    by_day: dict[date, list[int]] = {}
    for line in claim.lines:
        day = claim.day_of(line)
        if day is not None and before_oldest(facts.kb, day):
            by_day.setdefault(day, []).append(line.line)
    for day, lines in by_day.items():
        yield no_release(facts.kb, day, tuple(lines))


def before_oldest(kb: KnowledgeBase, day: date) -> bool:
    releases = kb.releases.get(SCHEDULE) or []
    return bool(releases) and day < releases[0].effective_from


def no_release(kb: KnowledgeBase, day: date | str, lines: tuple[int, ...]) -> Finding:
    oldest = kb.releases[SCHEDULE][0]
    return Finding(
        "validity.no_release",
        "deny",
        lines,
        f"No fee schedule medcode holds was in force on {day} (the oldest, {oldest.name}, starts "
        f"{oldest.effective_from.isoformat()}): the line cannot be checked or priced for that date.",
        "Check the date of service; a service of that date needs the fee schedule and edits of its own year.",
    )


def notices(facts: Facts, claim: Claim) -> list[str]:
    """The release notices of a claim: for each of its dates (oldest first), each family read on
    it whose releases do not cover it; then the diagnoses' family on the claim's date."""
    priced = bool(claim.zip_code or claim.locality)
    found: list[tuple[date, int, str]] = []
    for day in {d for line in claim.lines if (d := claim.day_of(line)) is not None}:
        found += [(day, k, note) for k, note in day_notes(facts.kb, day, priced)]
    if claim.diagnoses and claim.date is not None:
        note = _note(facts.kb, DIAGNOSIS_FAMILY, claim.date)
        if note:
            found.append((claim.date, len(LINE_FAMILIES) + len(PRICING_FAMILIES), note))
    return list(dict.fromkeys(note for _, _, note in sorted(found)))


def day_notes(kb: KnowledgeBase, day: date, priced: bool) -> list[tuple[int, str]]:
    """(rank, notice) of the line families not in force on ``day``."""
    families = LINE_FAMILIES + (PRICING_FAMILIES if priced else ())
    return [(k, note) for k, family in enumerate(families) if (note := _note(kb, family, day))]


def _note(kb: KnowledgeBase, family: str, day: date) -> str | None:
    r = kb.resolve(family, day)
    return r.note if r is not None and not r.in_force else None


# --- the batch forms ----------------------------------------------------------------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` in the batch engine (its entry point for every check module)."""
    from medcode.claims.batch.frames import FINDING_SCHEMA

    return batch_findings(bc.kb, ln, FINDING_SCHEMA)


def batch_findings(kb: KnowledgeBase, ln: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """``check`` over the lines frame of the batch engine (``cid``, ``line``, ``day``): the lines
    dated before the oldest fee schedule, one finding per claim and date."""
    releases = kb.releases.get(SCHEDULE)
    if not releases:
        return pl.DataFrame(schema=schema)
    early = (
        ln.filter(pl.col("day") < releases[0].effective_from)
        .group_by("cid", "day")
        .agg(pl.col("line").sort().alias("lines"))
    )
    rows = []
    for cid, day, lines in early.iter_rows():
        f = no_release(kb, day, tuple(lines))
        rows.append((cid, list(f.lines), f.id, f.severity, f.message, f.fix, None, None, None))
    return pl.DataFrame(rows, schema=schema, orient="row")


def batch_notices(kb: KnowledgeBase, c: pl.DataFrame, ln: pl.DataFrame) -> pl.DataFrame:
    """``notices`` of every claim of the batch engine's frames (claims ``c``: ``cid``, ``cdate``,
    ``zip``, ``locality``, ``dx``; lines ``ln``: ``cid``, ``day``) as (``cid``, ``release_notes``),
    for the claims that have any."""
    schema = {"day": pl.Date, "k": pl.Int64, "note": pl.String, "pricing": pl.Boolean}
    days = ln["day"].drop_nulls().unique().to_list()
    rows = [(day, k, note, k >= len(LINE_FAMILIES)) for day in days for k, note in day_notes(kb, day, True)]
    per_day = pl.DataFrame(rows, schema=schema, orient="row")
    icd_rank = len(LINE_FAMILIES) + len(PRICING_FAMILIES)
    icd = pl.DataFrame(
        [
            (day, icd_rank, note, False)
            for day in c["cdate"].drop_nulls().unique().to_list()
            if (note := _note(kb, DIAGNOSIS_FAMILY, day))
        ],
        schema=schema,
        orient="row",
    )
    priced = c.select("cid", priced=(pl.col("zip").fill_null("") != "") | (pl.col("locality").fill_null("") != ""))
    line_notes = (
        ln.select("cid", "day")
        .drop_nulls()
        .unique()
        .join(per_day, on="day")
        .join(priced, on="cid")
        .filter(~pl.col("pricing") | pl.col("priced"))
    )
    dx_notes = c.filter(pl.col("dx").list.len() > 0).select("cid", day=pl.col("cdate")).join(icd, on="day")
    cols = ["cid", "day", "k", "note"]
    return (
        pl.concat([line_notes.select(cols), dx_notes.select(cols)])
        .sort("cid", "day", "k")
        .unique(["cid", "note"], keep="first", maintain_order=True)
        .group_by("cid", maintain_order=True)
        .agg(pl.col("note").alias("release_notes"))
    )
