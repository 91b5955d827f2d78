"""CasePilot answers about one CPT/HCPCS code: description, status, global period, indicators,
add-on primaries and MUE, from the code page (``medcode.lookup.get_code``) and the meanings in
``medcode.vocab`` and ``medcode.rules``. Siblings and modifiers are in ``answers_family``; payment in
``answers_payment``; PTP pairs and claims in ``answers_claims``. ``ANSWERS`` here holds every kind
of these modules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from medcode import rules
from medcode.assistant import answers_claims, answers_family, answers_payment
from medcode.assistant.answers_facts import (
    STATUS_NAMES,
    capital,
    cite,
    code_page,
    link,
    loosely,
    make,
    money,
    no_code,
    per_code,
    procedure_page,
    stale,
)
from medcode.assistant.answers_indicators import answer_global, answer_indicators
from medcode.assistant.answers_indicators import first_page as _first
from medcode.assistant.answers_indicators import release_note as _release_note
from medcode.assistant.model import Answer, Citation, Question
from medcode.codes import MalformedCode, UnknownCode
from medcode.kb import models
from medcode.kb.store import KnowledgeBase

__all__ = [
    "ANSWERS",
    "answer_addon",
    "answer_description",
    "answer_global",
    "answer_indicators",
    "answer_mue",
    "answer_status",
]


def answer_description(kb: KnowledgeBase, q: Question) -> Answer:
    """What each code named is: the HCPCS long description, the CMS short descriptor written out,
    or the ICD-10-CM title."""
    if not q.codes:
        return no_code("description", q)
    said: list[str] = []
    cites: list[Citation | None] = []
    for code in q.codes[:4]:
        try:
            page = code_page(kb, code, q)
        except (UnknownCode, MalformedCode):
            said.append(f"{code} is not a code in the files loaded.")
            continue
        if isinstance(page, models.DiagnosisCode):
            state = "billable" if page.billable else "a header, not billable"
            said.append(f"{page.code} (ICD-10-CM {page.release}): {page.description}. It is {state}.")
            cites.extend(cite(s, f"/codes/{page.code}") for s in page.sources[:1])
            continue
        text = page.long_description or page.plain_description or page.description
        said.append(f"{page.code} ({page.system}): {text}.")
        if page.status is not None:
            said.append(f"Fee schedule status {page.status.code}: {page.status.meaning or ''}")
        cites.extend(cite(s, link(page.code, "facts")) for s in page.sources[:2])
    codes = list(q.codes[:4])
    first = codes[0]
    return make(
        "description",
        said,
        codes,
        cites,
        (f"What does {first} pay?", f"What is the MUE for {first}?", f"Is {first} an add-on code?"),
        confidence="high" if cites else "low",
    )


def _status(kb: KnowledgeBase, q: Question) -> Answer:
    page, failed = _first("status", kb, q)
    if page is None:
        return failed or no_code("status", q)
    code = page.code
    if page.status is None:
        return make(
            "status",
            [f"{code} has no row in the physician fee schedule{_release_note(page)}, so it has no PFS status."],
            [code],
            [cite(s, link(code, "facts")) for s in page.sources[:1]],
            (f"What is {code}?",),
            confidence="medium",
        )
    s = page.status.code
    said = [
        f"{code} has status {s} ({STATUS_NAMES.get(s, 'no name on file')}) on the physician fee schedule"
        f"{_release_note(page)}: {page.status.meaning or ''}"
    ]
    if s in rules.NATIONALLY_PRICED_STATUSES and page.payment is not None and page.rvu is not None:
        na = "no rate (NA)"
        nonfac = na if page.rvu.nonfacility_na else money(page.payment.nonfacility)
        fac = na if page.rvu.facility_na else money(page.payment.facility)
        said.append(f"National payment: {nonfac} non-facility (office), {fac} facility.")
    elif s in rules.CONTRACTOR_PRICED_STATUSES:
        said.append("It has no national amount: the Medicare contractor (MAC) prices it.")
    if s in rules.STATUS_FIX:
        said.append(rules.STATUS_FIX[s])
    return make(
        "status",
        said,
        [code],
        [cite(page.sources[0], link(code, "facts"))] if page.sources else [],
        (f"What does {code} pay?", f"What is the global period of {code}?", f"Which modifiers apply to {code}?"),
    )


SHOWN_PRIMARIES = 24


def answer_addon(kb: KnowledgeBase, q: Question) -> Answer:
    """Whether the code is an add-on (NCCI add-on table), its primaries, and whether a second code
    named is one of them. The add-on code among those named is the subject ("can 99215 take 99417?")."""
    pages = {c: procedure_page(kb, c, q) for c in q.codes[:4]}
    subject = next((c for c, p in pages.items() if p is not None and p.addon is not None), None)
    if subject is not None:
        q = replace(q, codes=(subject, *(c for c in q.codes if c != subject)))
    page, failed = _first("addon", kb, q)
    if page is None:
        return failed or no_code("addon", q)
    code = page.code
    others = [c for c in q.codes[1:] if c != code]
    said: list[str] = []
    codes = [code, *others]
    cites = []
    a = page.addon
    if a is not None:
        prims = a.primary_codes
        listed = [c for c in others if c in prims]
        missing = [c for c in others if c not in prims]
        if listed:
            said.append(
                f"Yes: {', '.join(listed)} {'is' if len(listed) == 1 else 'are'} among the primary codes of {code}."
            )
        if missing:
            said.append(f"No: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not among its primary codes.")
        said.append(
            f"{code} is an add-on code in the NCCI add-on table ({a.citation.release}), edit type {a.type}: "
            f"{a.type_meaning or ''} It cannot be billed alone: it needs its primary procedure on the same date."
        )
        if prims:
            shown = prims[:SHOWN_PRIMARIES]
            more = len(prims) - len(shown)
            said.append(f"Primary codes ({len(prims)}): {', '.join(shown)}{f' and {more} more' if more > 0 else ''}.")
            codes.extend(shown)
        cites.append(cite(a.citation, link(code, "facts")))
    elif page.global_period is not None and page.global_period.code == "ZZZ":
        said.append(
            f"{code} has global period ZZZ, an add-on code billed with its primary procedure, but no row in the "
            "NCCI add-on table loaded: its primaries are not listed."
        )
        cites.append(cite(page.sources[0], link(code, "facts")) if page.sources else None)
    else:
        said.append(
            f"No: {code} is not an add-on code in the NCCI add-on table and its global period is not ZZZ; "
            "it can be billed alone as far as the add-on edits go."
        )
        cites.append(cite(page.sources[0], link(code, "facts")) if page.sources else None)
    if page.addon_codes:
        shown = page.addon_codes[:SHOWN_PRIMARIES]
        said.append(f"Add-on codes that list {code} as a primary: {', '.join(shown)}.")
        codes.extend(shown)
    notice = stale(kb, q, "aoc")
    if notice:
        said.append(notice)
    return make(
        "addon",
        said,
        codes,
        cites,
        (f"Does {code} need modifier 51?", f"What is the MUE for {code}?", f"What does {code} pay?"),
        confidence="medium" if notice else "high",
    )


def _mue(kb: KnowledgeBase, q: Question) -> Answer:
    page, failed = _first("mue", kb, q)
    if page is None:
        return failed or no_code("mue", q)
    code = page.code
    m = page.mue
    if m is None:
        return make(
            "mue",
            [f"{code} has no practitioner MUE in the NCCI MUE table loaded."],
            [code],
            [cite(page.sources[0], link(code, "facts")) if page.sources else None],
            (f"What does {code} pay?",),
            confidence="medium",
        )
    per = "line" if m.mai == "1" else "date of service"
    kind = "a line edit" if m.mai == "1" else "a date of service edit"
    said = [
        f"The MUE for {code} is {m.units} unit{'s' if m.units != 1 else ''} per {per} "
        f"({m.citation.release}): MUE adjudication indicator {m.mai}, {kind}. {m.mai_meaning or ''}",
        f"Rationale: {m.rationale}." if m.rationale else "",
        capital(rules.MUE_BEYOND_LIMIT["1"].lstrip("; ")) if m.mai == "1" else "",
    ]
    return make(
        "mue",
        said,
        [code],
        [cite(m.citation, link(code, "facts"))],
        (f"Is {code} an add-on code?", f"What does {code} pay?", f"Which codes does {code} have NCCI edits with?"),
    )


answer_status = per_code("status", _status, "pprrvu")
answer_mue = per_code("mue", _mue, "mue_practitioner")


ANSWERS: dict[str, Callable[[KnowledgeBase, Question], Answer]] = {
    kind: loosely(fn)
    for kind, fn in {
        "description": answer_description,
        "status": answer_status,
        "global": answer_global,
        "indicators": answer_indicators,
        "addon": answer_addon,
        "mue": answer_mue,
        **answers_family.ANSWERS,
        **answers_payment.ANSWERS,
        **answers_claims.ANSWERS,
    }.items()
}
