"""CasePilot answers about codes billed together: NCCI PTP pairs (``medcode.lookup.ptp_between``,
both ways, with the modifier indicator and what bypasses it), what the claim checker says about a
list of codes (``medcode.claims.check_claim`` on a claim made of the codes, modifiers and units of
the question), and stale dates (the PTP tables loaded are older than the date asked)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date

from medcode import rules, vocab
from medcode.assistant.answers_facts import FAMILY_LABELS, asked_day, checker, cite, exists, link, make, no_code, stale
from medcode.assistant.answers_payment import answer_payment
from medcode.assistant.model import Answer, Citation, Question
from medcode.assistant.reading import known
from medcode.claims import Claim, Line
from medcode.codes import MalformedCode
from medcode.kb.store import KnowledgeBase
from medcode.lookup import ptp_between
from medcode.pricing import citation

__all__ = ["ANSWERS", "answer_claim", "answer_ptp", "answer_stale_date"]

_HOSPITAL = re.compile(r"outpatient hospital|hospital outpatient|\bOPPS\b|hospital claim", re.IGNORECASE)
# the checks about the codes themselves; a claim made from a question has no diagnoses, NPIs or place
CODE_CHECKS = ("validity.", "addon.", "ptp.", "mue.", "modifiers.", "siblings.", "duplicates.", "modifier_pairs.")
NO_CODE = ("validity.unknown_code", "validity.malformed_code", "validity.not_in_release")
SECTION = {"ptp": "ncci", "addon": "facts", "mue": "facts", "modifiers": "modifiers", "siblings": "facts"}


def _family(q: Question) -> str:
    return "ptp_hospital" if _HOSPITAL.search(q.text) else "ptp_practitioner"


def _ptp_day(kb: KnowledgeBase, q: Question) -> date | None:
    return q.day or (date(q.year, 1, 1) if q.year else None)


def _bypass(c1: str, c2: str) -> str:
    if rules.is_em(c1) or rules.is_em(c2):
        em = c1 if rules.is_em(c1) else c2
        return (
            f"modifier 25 (or 57 for the decision for surgery) on the E/M code {em}, when the visit was "
            "significant and separately identifiable; 59 and XE/XS/XP/XU are not used on E/M services"
        )
    return "modifier 59 or XE/XS/XP/XU (or anatomic modifiers showing different sites), when the services were distinct"


def answer_ptp(kb: KnowledgeBase, q: Question) -> Answer:
    """The NCCI PTP edits in force between the codes named, both ways."""
    named = list(dict.fromkeys(q.codes))[:6]
    on = asked_day(kb, q)
    codes = [c for c in named if exists(kb, c, on)]
    unknown = [c for c in named if c not in codes]
    if len(codes) < 2:
        gone = [c for c in unknown if c in known(kb).procedure_set]  # in other files of the knowledge base
        pfs = kb.resolve("pprrvu", on)
        if not gone or len(named) < 2 or pfs is None:
            return no_code("ptp", q, "Name two CPT or HCPCS codes to look up an NCCI pair.")
        when = f"on {on.isoformat()}" if on else f"in {pfs.release.name}"
        return Answer(
            " ".join(
                f"{c} is not a valid code {when}: it is in neither the fee schedule ({pfs.release.files[0].file}, "
                f"{pfs.release.name}) nor the HCPCS file in force (the knowledge base has it from other files: "
                "older releases or the NCCI tables, which keep deleted codes)."
                for c in gone
            )
            + " No NCCI PTP edit in force can apply to a code that is not valid: there is no active edit to bypass.",
            (Citation("pprrvu", pfs.release.name, pfs.release.files[0].file, "", None),),
            tuple(codes),
            "medium",
            tuple(f"Is {c} a valid code?" for c in gone[:1]),
            q.kind,
        )
    family = _family(q)
    day = _ptp_day(kb, q)
    resolved = kb.resolve(family, day)
    if resolved is None:
        return no_code("ptp", q, "No NCCI PTP table is loaded.")
    rel = resolved.release
    table = f"the {FAMILY_LABELS[family]} {rel.name}"
    try:
        pairs = ptp_between(kb, codes, day=day, family=family)
    except MalformedCode:
        return no_code("ptp", q)
    meanings = vocab.indicators()["ptp_modifier"]
    said: list[str] = [f"{c} is not a CPT or HCPCS code in the files loaded." for c in unknown]
    cites: list[Citation | None] = []
    for p in pairs:
        mi = p.modifier
        meaning = f" ({meanings[str(mi)]})" if mi not in (0, 1) and str(mi) in meanings else ""
        said.append(
            f"{p.column_1} is column 1 and {p.column_2} is column 2 in {table}: modifier indicator {mi}"
            f"{meaning}. Rationale: {p.rationale}."
        )
        if mi == 0:
            said.append(
                f"They are not paid together on the same day and no modifier bypasses the edit: {p.column_2} is denied."
            )
        elif mi == 1:
            said.append(
                f"Both are paid only when a modifier shows distinct services: {_bypass(p.column_1, p.column_2)}; "
                f"without it, {p.column_2} is denied."
            )
        cites.append(cite(citation(rel.files[0], row=f"{p.column_1}/{p.column_2}"), link(p.column_1, "ncci")))
    if not pairs:
        said.append(
            f"There is no active NCCI PTP edit between {', '.join(codes)} in {table} "
            "(an edit deleted before the date no longer applies): the PTP edits do not stop billing them together."
        )
        cites.append(cite(citation(rel.files[0], row="/".join(codes)), link(codes[0], "ncci")))
    notice = stale(kb, q, family)
    if notice:
        said.append(notice)
    return make(
        q.kind or "ptp",
        said,
        codes,
        cites,
        (
            "Which modifiers bypass an NCCI PTP edit?",
            f"Is {codes[1]} an add-on code?",
            f"What is the MUE for {codes[0]}?",
        ),
        confidence="low" if unknown else "medium" if notice or resolved.note else "high",
        notices=(resolved.note,) if resolved.note else (),
    )


def _units(text: str, code: str) -> float:
    for pattern in (
        rf"\b{code}(?:-[0-9A-Z]{{2}})*\s*(?:x|×|\*)\s*(\d+)",
        rf"(\d+)\s*units?\s+of\s+{code}\b",
        rf"\b{code}(?:-[0-9A-Z]{{2}})*\s*,?\s*(\d+)\s*units?\b",
    ):
        m = re.search(pattern, text, re.IGNORECASE)
        if m:
            return float(m.group(1))
    return 1


def answer_claim(kb: KnowledgeBase, q: Question) -> Answer:
    """What the claim checker says about the codes of the question billed on one claim."""
    codes = list(dict.fromkeys(q.codes))[: rules.MAX_LINES]
    if not codes:
        return no_code("claim", q)
    day = asked_day(kb, q)
    undated = day is None
    if day is None:  # no date asked: the start of the newest fee schedule
        newest = kb.releases.get("pprrvu", [])
        day = newest[-1].effective_from if newest else None
    lines = tuple(
        Line(i + 1, code, tuple(q.modifiers.get(code, ())), _units(q.text, code)) for i, code in enumerate(codes)
    )
    checked = checker(kb).check(Claim("casepilot", lines, date=day))
    shown = ", ".join(
        f"{x.code}{''.join('-' + m for m in x.modifiers)}{f' x {x.units:g}' if x.units != 1 else ''}" for x in lines
    )
    findings = [f for f in checked.findings if f.id.startswith(CODE_CHECKS)]
    when = (
        f" (no date given: checked as of {day.isoformat()})"
        if undated and day
        else f" on {day.isoformat()}"
        if day
        else ""
    )
    said = [f"The claim checker on {shown}{when}:"]
    cites: list[Citation | None] = []
    for f in findings:
        said.append(f"{f.message} {f.fix}")
        if f.citation is not None:
            lead = lines[f.lines[-1] - 1].code if f.lines and f.lines[-1] <= len(lines) else codes[0]
            cites.append(cite(f.citation, link(lead, SECTION.get(f.id.split(".")[0], "facts"))))
    if not findings:
        said.append(
            "no NCCI PTP edit, add-on, MUE or modifier problem is flagged: the codes can be billed together "
            "as far as those edits go."
        )
        family = kb.resolve("ptp_practitioner", day)
        if family is not None:
            cites.append(cite(citation(family.release.files[0], row="/".join(codes)), link(codes[0], "ncci")))
    notice = stale(kb, q, "ptp_practitioner")
    if notice:
        said.append(notice)
    if not any(f.id.startswith("ptp.") for f in findings) and len(codes) > 1 and not notice:
        ptp = kb.resolve("ptp_practitioner", day)
        if ptp is not None:
            said.append(f"(PTP edits from the NCCI practitioner table {ptp.release.name}.)")
    return make(
        "claim",
        said,
        codes,
        cites,
        (
            f"Can {codes[0]} and {codes[1]} be billed together?"
            if len(codes) > 1
            else f"Is {codes[0]} an add-on code?",
            f"What is the MUE for {codes[-1]}?",
            "Which modifiers bypass an NCCI PTP edit?",
        ),
        confidence="low" if any(f.id in NO_CODE for f in findings) else "medium" if notice else "high",
    )


_PAYMENT = re.compile(r"\bpay|\brate\b|\$|allow|fee schedule amount|reimburs", re.IGNORECASE)


def answer_stale_date(kb: KnowledgeBase, q: Question) -> Answer:
    """A dated question: payment or PTP, answered from the newest table with the notice when it
    is older than the date asked."""
    if len(q.codes) >= 2 and not _PAYMENT.search(q.text):
        return answer_ptp(kb, q)
    return replace(answer_payment(kb, q), kind=q.kind or "payment")


ANSWERS: dict[str, Callable[[KnowledgeBase, Question], Answer]] = {
    "ptp": answer_ptp,
    "claim": answer_claim,
    "stale_date": answer_stale_date,
}
