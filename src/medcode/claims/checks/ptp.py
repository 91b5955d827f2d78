"""NCCI procedure-to-procedure edits between lines of the same date.

Lines are grouped first by (date, code, the PTP-associated modifiers they carry): an edit is
looked up and worded once per pair of groups, then given to every pair of their lines, so a
claim with many lines of few codes costs as much as its distinct groups."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from medcode import rules
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding, Line

ID = "ptp"
TITLE = "NCCI procedure-to-procedure edits"

NCCI_MODIFIERS = rules.PTP_MODIFIERS


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    groups: dict[tuple, list[Line]] = {}
    for x in claim.lines:
        if x.code:
            key = (claim.day_of(x), x.code, tuple(sorted(set(x.modifiers) & NCCI_MODIFIERS)))
            groups.setdefault(key, []).append(x)
    for (day, code_a, mods_a), lines_a in groups.items():
        for (day_b, code_b, mods_b), lines_b in groups.items():
            if day_b != day or code_b == code_a:
                continue
            edit = facts.ptp(code_a, code_b, day)  # a is column 1, b is column 2 (the code denied)
            if edit is None:
                continue
            found = pair_finding(Line(0, code_a, mods_a), Line(0, code_b, mods_b), edit)
            for a in lines_a:
                for b in lines_b:
                    yield replace(found, lines=(b.line, a.line))


def pair_finding(a: Line, b: Line, edit: dict, em: tuple[bool, bool] | None = None) -> Finding:
    """The finding for an edit in force between column 1 line ``a`` and column 2 line ``b``
    (``em``: whether each code is an E/M service, when the codes are stand-ins in the words)."""
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
    em_a, em_b = em if em is not None else (rules.is_em(a.code), rules.is_em(b.code))
    used, reasons = rules.ptp_bypass(a.modifiers, em_a, b.modifiers, em_b)
    if used:
        return Finding("ptp.bypassed", "info", (b.line, a.line),
                       f"{pair}: modifier{'s' * (len(used) > 1)} {', '.join(used)} "
                       f"bypass{'es' * (len(used) == 1)} the edit (indicator 1).",
                       "Keep documentation that the services were distinct.", edit["citation"])
    why = "".join(f"; {r}" for r in reasons)
    if em_a or em_b:
        visit = b.code if em_b else a.code
        fix = (f"If {visit} was a significant, separately identifiable E/M service, add 25 to {visit} (57 if the visit "
               "was the decision for major surgery); 59 and XE/XP/XS/XU are not used with E/M services. "
               f"Otherwise remove {b.code}.")
    else:
        fix = (f"If {b.code} was a distinct service (another site, session or encounter), add 59 or XE/XP/XS/XU "
               "to it, or anatomic modifiers on both lines that show the different sites; otherwise remove it.")
    return Finding("ptp.modifier_required", "deny", (b.line, a.line),
                   f"{pair} are bundled unless a modifier shows they were distinct (modifier "
                   f"indicator 1; {edit['rationale']}{why}). {b.code} is denied as billed.",
                   fix, edit["citation"])
