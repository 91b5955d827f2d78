"""Validity: readable input, codes that exist on the date of service, payable status, valid and
billable diagnoses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from medcode import vocab
from medcode.claims.facts import Facts, code_kind
from medcode.claims.model import Claim, Finding, Line
from medcode.rules import STATUS_FIX, STATUS_SEVERITY

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
        yield Finding("validity.bad_input", "deny", (p.line,) if p.line else (),
                      f"{p.position}: {p.field}: {p.message}", "Correct the value in the claim file.")


def line_findings(facts: Facts, line: Line, day: date | None, shown_day: str | None = None) -> Iterator[Finding]:
    """The findings on one line's code (the batch engine calls this once per code and release,
    with ``shown_day`` standing for the day in the words)."""
    if day is None:
        yield Finding("validity.no_date", "deny", (line.line,), f"Line {line.line} has no date of service.",
                      "Give the claim or the line a date of service.")
    if not line.code:
        return
    kind = code_kind(line.code)
    if kind != "procedure":
        yield Finding("validity.malformed_code", "deny", (line.line,),
                      f"{line.code!r} is not a CPT or HCPCS code.", "Correct the procedure code.")
        return
    pfs = facts.pfs(line.code, day, line.modifiers)  # its 26, TC or 53 row where the file has one
    if pfs is None:
        rows = facts.pfs_rows(line.code, day)
        if rows:  # e.g. 86153: only the lab physician's interpretation (86153-26) is in the PFS
            shown = ", ".join(f"{line.code}-{m}" for m in rows)
            yield Finding("validity.pfs_modifier_only", "info", (line.line,),
                          f"{line.code} is in the fee schedule only as {shown}; as billed it is not paid under "
                          "the PFS.",
                          f"Bill {shown} for the part the PFS pays; the rest is paid under another fee schedule "
                          "(for a laboratory test, the clinical laboratory fee schedule).",
                          facts.cite("pprrvu", day, f"{line.code}-{rows[0]}"))
            return
        if facts.hcpcs(line.code, day):
            return  # a HCPCS Level II code outside the PFS (DME, drugs, ambulance ...)
        listed = facts.releases_with(line.code)
        if listed:
            yield Finding("validity.not_in_release", "deny", (line.line,),
                          f"{line.code} is not in the fee schedule in force on {shown_day or day} (it is in "
                          f"{', '.join(listed)}).",
                          "Check the date of service, or use the code valid on that date.",
                          facts.cite("pprrvu", day, line.code))
        else:
            yield Finding("validity.unknown_code", "deny", (line.line,),
                          f"{line.code} is in no fee schedule or HCPCS file medcode holds.",
                          "Correct the code.", facts.cite("pprrvu", day, line.code))
        return
    status = pfs["status"]
    if status != "A" and status in STATUS_SEVERITY:
        meaning = vocab.meaning("status", status) or "see the PFS status indicators"
        code = f"{line.code}-{pfs['modifier']}" if pfs["modifier"] else line.code
        yield Finding(f"validity.status_{status.lower()}", STATUS_SEVERITY[status], (line.line,),
                      f"{code} has PFS status {status}: {meaning}", STATUS_FIX[status], pfs["citation"])


def diagnosis_findings(facts: Facts, i: int | str, dx: str, day: date | None,
                       shown_day: str | None = None) -> Iterator[Finding]:
    """The findings on diagnosis ``i`` of a claim (the batch engine calls this once per code and
    release, with stand-ins for the position and the day in the words)."""
    found = facts.icd(dx, day)
    if found is None:
        yield Finding("validity.unknown_diagnosis", "deny", (),
                      f"Diagnosis {i} ({dx}) is not an ICD-10-CM code on {shown_day or day}.",
                      "Correct the diagnosis code.", facts.cite("icd10cm", day, dx))
    elif not found["billable"]:
        yield Finding("validity.header_diagnosis", "deny", (),
                      f"Diagnosis {i} ({found['code']}) is a header, not a billable code.",
                      "Code to the highest specificity: pick one of its billable children.", found["citation"])
