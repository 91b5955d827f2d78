"""Modifiers against the PFS indicators of the code they are on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from medcode import vocab
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding, Line

ID = "modifiers"
TITLE = "Modifiers that fit the code"

ASSISTANT = frozenset({"80", "81", "82", "AS"})
# PC/TC indicators on which 26 or TC cannot be used.
NO_26 = frozenset("0345679")
NO_TC = frozenset("02456789")


def is_em(code: str) -> bool:
    return code.isdigit() and 99202 <= int(code) <= 99499


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    for line in claim.lines:
        if not line.code or not line.modifiers:
            continue
        yield from line_findings(facts, line, claim.day_of(line))


def line_findings(facts: Facts, line: Line, day: date | None) -> Iterator[Finding]:
    """The modifier findings on one line (the batch engine calls this once per code, modifiers
    and release)."""
    for mod in line.modifiers:
        if mod not in facts.modifiers:
            yield Finding("modifiers.unknown", "deny", (line.line,),
                          f"{mod} on {line.code} is not a CPT or HCPCS Level II modifier.",
                          "Correct or remove the modifier.")
    if "25" in line.modifiers and not is_em(line.code):
        yield Finding("modifiers.25_not_em", "deny", (line.line,),
                      f"Modifier 25 is for evaluation and management codes; {line.code} is not one.",
                      "Put 25 on the E/M code of the day, not on the procedure.")
    if "51" in line.modifiers and facts.addon(line.code, day) is not None:
        yield Finding("modifiers.51_on_addon", "deny", (line.line,),
                      f"{line.code} is an add-on code: modifier 51 (multiple procedures) does not apply to it.",
                      "Remove modifier 51; add-on codes are exempt from the multiple procedure rules.",
                      facts.addon(line.code, day)["citation"])
    pfs = facts.pfs(line.code, day)
    if pfs is not None:
        yield from _indicators(line, pfs)


def _indicators(line: Line, pfs: dict) -> Iterator[Finding]:
    mods, cite = set(line.modifiers), pfs["citation"]

    def says(field: str) -> str:
        return f"{field} indicator {pfs[field]}: {vocab.meaning(field, pfs[field]) or 'see the PFS'}"

    if "26" in mods and pfs["pctc"] in NO_26:
        yield Finding("modifiers.pctc_mismatch", "deny", (line.line,),
                      f"Modifier 26 on {line.code} does not fit its {says('pctc')}.",
                      "Remove 26: the code has no separate professional component.", cite)
    if "TC" in mods and pfs["pctc"] in NO_TC:
        yield Finding("modifiers.pctc_mismatch", "deny", (line.line,),
                      f"Modifier TC on {line.code} does not fit its {says('pctc')}.",
                      "Remove TC: the code has no separate technical component.", cite)
    if "50" in mods and pfs["bilateral"] in ("0", "2", "9"):
        yield Finding("modifiers.bilateral_not_allowed", "deny", (line.line,),
                      f"Modifier 50 on {line.code} does not fit its {says('bilateral')}.",
                      "Remove 50" + (": the code is already bilateral." if pfs["bilateral"] == "2" else
                                     "; for two sides bill LT and RT lines if the code allows it."), cite)
    if mods & ASSISTANT:
        if pfs["assistant"] in ("1", "9"):
            yield Finding("modifiers.assistant_not_allowed", "deny", (line.line,),
                          f"An assistant at surgery is not paid for {line.code} ({says('assistant')}).",
                          "Remove the assistant line.", cite)
        elif pfs["assistant"] == "0":
            yield Finding("modifiers.assistant_documentation", "warn", (line.line,),
                          f"An assistant at surgery for {line.code} is paid only with documentation of medical "
                          f"necessity ({says('assistant')}).", "Attach the operative note.", cite)
    for mod, field, label in (("62", "co_surgeon", "Co-surgeons"), ("66", "team", "A surgical team")):
        if mod in mods:
            if pfs[field] in ("0", "9"):
                yield Finding(f"modifiers.{field}_not_allowed", "deny", (line.line,),
                              f"{label} ({mod}) are not paid for {line.code} ({says(field)}).",
                              f"Remove modifier {mod}.", cite)
            elif pfs[field] == "1":
                yield Finding(f"modifiers.{field}_documentation", "warn", (line.line,),
                              f"{label} ({mod}) for {line.code} need documentation ({says(field)}).",
                              "Attach the operative notes of both surgeons.", cite)
