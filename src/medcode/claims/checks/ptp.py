"""NCCI procedure-to-procedure edits between lines of the same date."""

from __future__ import annotations

from collections.abc import Iterator

from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding, Line

ID = "ptp"
TITLE = "NCCI procedure-to-procedure edits"

# Modifiers that may bypass an edit with modifier indicator 1 when the documentation supports it.
NCCI_MODIFIERS = frozenset(
    "59 XE XP XS XU E1 E2 E3 E4 FA F1 F2 F3 F4 F5 F6 F7 F8 F9 LT RT TA T1 T2 T3 T4 T5 T6 T7 T8 T9 "
    "LC LD LM RC RI 24 25 27 57 58 78 79 91".split())


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    lines = [x for x in claim.lines if x.code]
    for a in lines:
        for b in lines:
            if a is b or a.code == b.code or claim.day_of(a) != claim.day_of(b):
                continue
            day = claim.day_of(a)
            edit = facts.ptp(a.code, b.code, day)  # a is column 1, b is column 2 (the code denied)
            if edit is None:
                continue
            yield pair_finding(a, b, edit)


def pair_finding(a: Line, b: Line, edit: dict) -> Finding:
    """The finding for an edit in force between column 1 line ``a`` and column 2 line ``b``."""
    pair = f"{a.code} (column 1) and {b.code} (column 2)"
    if edit["modifier"] == 9:
        return Finding("ptp.not_applicable", "info", (b.line, a.line),
                       f"{pair}: the edit no longer applies (modifier indicator 9).", "Nothing to do.",
                       edit["citation"])
    if edit["modifier"] == 0:
        return Finding("ptp.bundled", "deny", (b.line, a.line),
                       f"{pair} are not paid together on the same day and no modifier bypasses it "
                       f"(modifier indicator 0; {edit['rationale']}). {b.code} is denied.",
                       f"Remove {b.code}, or bill it on its own claim only if it was a separate encounter "
                       "on another date.", edit["citation"])
    used = (set(a.modifiers) | set(b.modifiers)) & NCCI_MODIFIERS
    if used:
        return Finding("ptp.bypassed", "info", (b.line, a.line),
                       f"{pair}: modifier {', '.join(sorted(used))} bypasses the edit (indicator 1).",
                       "Keep documentation that the services were distinct.", edit["citation"])
    return Finding("ptp.modifier_required", "deny", (b.line, a.line),
                   f"{pair} are bundled unless a modifier shows they were distinct (modifier "
                   f"indicator 1; {edit['rationale']}). {b.code} is denied as billed.",
                   f"If {b.code} was a distinct service (another site, session or encounter), add "
                   "59 or XE/XP/XS/XU to it; otherwise remove it.", edit["citation"])
