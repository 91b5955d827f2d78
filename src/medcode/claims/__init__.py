"""The claim checker: every check in ``CHECKS`` over a claim, then repricing.

checker = Checker(kb)
result = checker.check(claim)      # CheckedClaim: findings, priced lines, totals
"""

from __future__ import annotations

from dataclasses import replace

from medcode.claims.checks import (
    addon,
    diagnosis,
    duplicates,
    modifier_pairs,
    modifiers,
    mue,
    npi,
    place_of_service,
    ptp,
    releases,
    siblings,
    unpointed,
    validity,
)
from medcode.claims.facts import Facts
from medcode.claims.files import FORMATS, read_path, read_text
from medcode.claims.model import CheckedClaim, Claim, Finding, Line, PricedLine, Problem
from medcode.claims.readers import ClaimInputError, Fields, read_csv, read_json
from medcode.claims.reprice import Pricer, reprice
from medcode.kb.store import KnowledgeBase
from medcode.rules import MAX_DIAGNOSES, MAX_LINES, SEVERITY_ORDER

CHECKS = (
    validity,
    releases,
    addon,
    ptp,
    mue,
    modifiers,
    siblings,
    diagnosis,
    npi,
    place_of_service,
    duplicates,
    modifier_pairs,
    unpointed,
)

__all__ = [
    "CHECKS",
    "FORMATS",
    "CheckedClaim",
    "Checker",
    "Claim",
    "ClaimInputError",
    "Finding",
    "Line",
    "PricedLine",
    "Problem",
    "check_claim",
    "read_csv",
    "read_json",
    "read_path",
    "read_text",
]


def finding_order(f: Finding) -> tuple:
    """Most severe first, then by line; the id, lines and message make the order total, so that
    every engine lists the same findings in the same order."""
    return SEVERITY_ORDER[f.severity], f.lines[:1] or (0,), f.id, f.lines, f.message


class Checker:
    """Runs the checks; holds the lookups it has made so that many claims share them."""

    def __init__(self, kb: KnowledgeBase):
        self.facts = Facts(kb)
        self.pricer = Pricer(self.facts)

    def check(self, claim: Claim) -> CheckedClaim:
        if (
            len(claim.lines) > MAX_LINES
            or len(claim.diagnoses) > MAX_DIAGNOSES
            or any(p.field == "size" for p in claim.problems)
        ):  # (a CSV reader keeps 50 lines of more)
            return refuse(claim)
        findings = [f for module in CHECKS for f in module.check(self.facts, claim)]
        findings.sort(key=finding_order)
        r = reprice(self.pricer, claim, findings)
        return CheckedClaim(
            claim.id,
            tuple(findings),
            tuple(r.lines),
            r.total_allowed,
            r.at_risk,
            r.locality,
            (*releases.notices(self.facts, claim), *r.notices),
        )


def refuse(claim: Claim) -> CheckedClaim:
    """A claim over the limits of one claim (``rules.MAX_LINES``, ``MAX_DIAGNOSES``): its input
    findings (the reader names the limit) and nothing checked or priced."""
    f = Fields()
    if not any(p.field == "size" for p in claim.problems):  # (a claim made in Python, not read)
        f.limits(f"claim {claim.id}", len(claim.lines), len(claim.diagnoses))
    findings = sorted(
        validity.input_findings(replace(claim, problems=(*claim.problems, *f.problems))), key=finding_order
    )
    return CheckedClaim(
        claim.id,
        tuple(findings),
        (),
        0.0,
        0.0,
        None,
        (f"claim refused: more than {MAX_LINES} lines or {MAX_DIAGNOSES} diagnoses",),
    )


def check_claim(kb: KnowledgeBase, claim: Claim) -> CheckedClaim:
    """Check one claim (for many, make one ``Checker`` and reuse it)."""
    return Checker(kb).check(claim)
