"""Validity: readable input, codes that exist on the date of service, payable status, valid and
billable diagnoses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from medcode import vocab
from medcode.claims.batch import tables
from medcode.claims.batch.frames import _dx, _ids
from medcode.claims.facts import Facts, code_kind
from medcode.claims.model import Claim, Finding, Line
from medcode.rules import STATUS_FIX, STATUS_SEVERITY

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "validity"
TITLE = "Codes valid on the date of service"


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    yield from input_findings(claim)
    for line in claim.lines:
        yield from line_findings(facts, line, claim.day_of(line))
    for i, dx in enumerate(claim.diagnoses, start=1):
        yield from diagnosis_findings(facts, i, dx, claim.date)


def input_findings(claim: Claim) -> Iterator[Finding]:
    """The problems the reader found in the claim's input, one ``validity.bad_input`` each."""
    for p in claim.problems:
        yield Finding(
            "validity.bad_input",
            "deny",
            (p.line,) if p.line else (),
            f"{p.position}: {p.field}: {p.message}",
            "Correct the value in the claim file.",
        )


def line_findings(facts: Facts, line: Line, day: date | None, shown_day: str | None = None) -> Iterator[Finding]:
    """The findings on one line's code (the batch engine calls this once per code and release,
    with ``shown_day`` standing for the day in the words)."""
    if day is None:
        yield Finding(
            "validity.no_date",
            "deny",
            (line.line,),
            f"Line {line.line} has no date of service.",
            "Give the claim or the line a date of service.",
        )
    if not line.code:
        return
    kind = code_kind(line.code)
    if kind != "procedure":
        yield Finding(
            "validity.malformed_code",
            "deny",
            (line.line,),
            f"{line.code!r} is not a CPT or HCPCS code.",
            "Correct the procedure code.",
        )
        return
    pfs = facts.pfs(line.code, day, line.modifiers)  # its 26, TC or 53 row where the file has one
    if pfs is None:
        rows = facts.pfs_rows(line.code, day)
        if rows:  # e.g. 86153: only the lab physician's interpretation (86153-26) is in the PFS
            shown = ", ".join(f"{line.code}-{m}" for m in rows)
            yield Finding(
                "validity.pfs_modifier_only",
                "info",
                (line.line,),
                f"{line.code} is in the fee schedule only as {shown}; as billed it is not paid under the PFS.",
                f"Bill {shown} for the part the PFS pays; the rest is paid under another fee schedule "
                "(for a laboratory test, the clinical laboratory fee schedule).",
                facts.cite("pprrvu", day, f"{line.code}-{rows[0]}"),
            )
            return
        if facts.hcpcs(line.code, day):
            return  # a HCPCS Level II code outside the PFS (DME, drugs, ambulance ...)
        listed = facts.releases_with(line.code)
        if listed:
            yield Finding(
                "validity.not_in_release",
                "deny",
                (line.line,),
                f"{line.code} is not in the fee schedule in force on {shown_day or day} (it is in "
                f"{', '.join(listed)}).",
                "Check the date of service, or use the code valid on that date.",
                facts.cite("pprrvu", day, line.code),
            )
        else:
            yield Finding(
                "validity.unknown_code",
                "deny",
                (line.line,),
                f"{line.code} is in no fee schedule or HCPCS file medcode holds.",
                "Correct the code.",
                facts.cite("pprrvu", day, line.code),
            )
        return
    status = pfs["status"]
    if status != "A" and status in STATUS_SEVERITY:
        meaning = vocab.meaning("status", status) or "see the PFS status indicators"
        code = f"{line.code}-{pfs['modifier']}" if pfs["modifier"] else line.code
        yield Finding(
            f"validity.status_{status.lower()}",
            STATUS_SEVERITY[status],
            (line.line,),
            f"{code} has PFS status {status}: {meaning}",
            STATUS_FIX[status],
            pfs["citation"],
        )


def diagnosis_findings(
    facts: Facts, i: int | str, dx: str, day: date | None, shown_day: str | None = None
) -> Iterator[Finding]:
    """The findings on diagnosis ``i`` of a claim (the batch engine calls this once per code and
    release, with stand-ins for the position and the day in the words)."""
    found = facts.icd(dx, day)
    if found is None:
        yield Finding(
            "validity.unknown_diagnosis",
            "deny",
            (),
            f"Diagnosis {i} ({dx}) is not an ICD-10-CM code on {shown_day or day}.",
            "Correct the diagnosis code.",
            facts.cite("icd10cm", day, dx),
        )
    elif not found["billable"]:
        yield Finding(
            "validity.header_diagnosis",
            "deny",
            (),
            f"Diagnosis {i} ({found['code']}) is a header, not a billable code.",
            "Code to the highest specificity: pick one of its billable children.",
            found["citation"],
        )


# --- the batch form: the same check over whole files (medcode.claims.batch) --------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over whole files: the lines' codes and the claims' diagnoses."""
    return pl.concat([_code_candidates(bc, ln), _diagnosis_candidates(bc, c)])


def _code_candidates(bc: BatchChecker, ln: pl.DataFrame) -> pl.DataFrame:
    """``line_findings`` of the lines whose code is not an active PFS code, once per code, row and release."""
    codes = ln["code"].unique().to_list()
    kinds = pl.DataFrame(
        {"code": codes, "is_proc": [code_kind(c) == "procedure" for c in codes]},
        schema={"code": pl.String, "is_proc": pl.Boolean},
    )
    # a code the fee schedule lists is worded once per release; any other once per fee
    # schedule and HCPCS release, with the day written in per line
    cand = (
        ln.select("cid", "line", "code", "day", "status", "pfs_rid", "hcpcs_rid", "row_mod", "want_mod")
        .join(kinds, on="code")
        .filter((~(pl.col("is_proc") & (pl.col("status") == "A"))).fill_null(True))
        .with_columns(hcpcs_key=pl.when(pl.col("status").is_null()).then(pl.col("hcpcs_rid")))
    )
    # the line's 26, TC or 53 (want_mod) picks the row it is judged by, or none where neither it
    # nor the code's own row is in the file
    return bc.per_key(
        cand,
        ["code", "want_mod", "pfs_rid", "hcpcs_key"],
        lambda r, text: line_findings(
            bc.facts, Line(0, r["code"], (r["want_mod"],) if r["want_mod"] else ()), r["day"], text["day"]
        ),
        pl.concat_list("line"),
        fields=("day",),
    )


def _diagnosis_candidates(bc: BatchChecker, c: pl.DataFrame) -> pl.DataFrame:
    """``diagnosis_findings`` of the diagnoses that are not billable codes, once per code and release."""
    dx = _dx(c)
    billable = tables.icd_billable(bc.facts, _ids(c, "icd_rid"))
    cand = dx.join(billable, on=["icd_rid", "compact"], how="anti")
    return bc.per_key(
        cand,
        ["dx", "icd_rid"],
        lambda r, text: diagnosis_findings(bc.facts, text["i"], r["dx"], r["cdate"], text["cdate"]),
        pl.lit([], dtype=pl.List(pl.Int64)),
        fields=("i", "cdate"),
    )
