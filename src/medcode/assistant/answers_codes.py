"""CasePilot answers about one CPT/HCPCS code: description, status, global period, indicators,
add-on primaries and MUE, from the code page (``medcode.lookup.get_code``) and the meanings in
``medcode.vocab`` and ``medcode.rules``. Siblings and modifiers are in ``answers_family``; payment in
``answers_payment``; PTP pairs and claims in ``answers_claims``. ``ANSWERS`` here holds every kind
of these modules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from medcode import rules
from medcode.assistant import answers_claims, answers_family, answers_payment
from medcode.assistant.answers_facts import (
    STATUS_NAMES,
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

GLOBAL_DAYS = {"000": 0, "010": 10, "090": 90}


def _first(kind: str, kb: KnowledgeBase, q: Question) -> tuple[models.ProcedureCode | None, Answer | None]:
    if not q.codes:
        return None, no_code(kind, q)
    page = procedure_page(kb, q.codes[0], q)
    if page is None:
        return None, no_code(kind, q)
    return page, None


def _release_note(page: models.ProcedureCode) -> str:
    return f" ({page.release})" if page.release else ""


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


def _global(kb: KnowledgeBase, q: Question) -> Answer:
    page, failed = _first("global", kb, q)
    if page is None:
        return failed or no_code("global", q)
    code = page.code
    g = page.global_period
    if g is None:
        return make(
            "global",
            [f"{code} has no global period on file: it has no row in the physician fee schedule{_release_note(page)}."],
            [code],
            [cite(s, link(code, "facts")) for s in page.sources[:1]],
            (f"What is {code}?",),
            confidence="low",
        )
    said = [f"{code} has global period {g.code}{_release_note(page)}: {g.meaning or ''}"]
    if g.code in GLOBAL_DAYS:
        days = GLOBAL_DAYS[g.code]
        said.append(f"That is {days} postoperative days." if days else "There are no postoperative days (0 days).")
    if _SHARES_ASKED.search(q.text):
        said.append(_shares_sentence(page))
    return make(
        "global",
        said,
        [code],
        [cite(page.sources[0], link(code, "facts"))] if page.sources else [],
        (f"Can 79 or 58 be billed in {code}'s global period?", f"What does {code} pay?", f"Is {code} an add-on code?"),
    )


# A question about how the global package is split (not one about its days alone).
_SHARES_ASKED = re.compile(r"pre-?op|intra|percent|%|share|split|portion|breakdown|broken down|divided", re.I)


def _shares_sentence(page: models.ProcedureCode) -> str:
    """The pre-, intra- and post-operative shares of the code's global package (PPRRVU columns
    107-115), or that its row has none."""
    s = page.global_shares
    if s is None:
        return (
            f"The fee schedule row of {page.code} gives no pre-, intra- or post-operative shares of a global "
            "package (they are all zero): the split does not apply to it."
        )
    parts = [f"{rules.GLOBAL_SHARE_NAMES[k].lower()} {v}" for k, v in s.percents().items()]
    return f"Its fee schedule row splits the global package into {', '.join(parts[:-1])} and {parts[-1]}."


_INDICATOR_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("bilateral", re.compile(r"bilateral|\b50\b", re.I)),
    ("endo", re.compile(r"endoscop", re.I)),
    ("mult_proc", re.compile(r"multiple[- ]proc", re.I)),
    ("assistant", re.compile(r"assist", re.I)),
    ("co_surgeon", re.compile(r"co-?surg", re.I)),
    ("team", re.compile(r"\bteam\b", re.I)),
    ("pctc", re.compile(r"pc/?tc|professional|technical", re.I)),
    ("setting", re.compile(r"non-?facility|office|\bNA\b", re.I)),
    ("supervision", re.compile(r"supervis", re.I)),
)
_VERDICT_WORD = {rules.ALLOWED: "Yes", rules.NOT_ALLOWED: "No", rules.DOCUMENTATION: "Only with documentation"}
_FIELD_MODIFIERS = {
    "bilateral": ("50",),
    "assistant": ("80",),
    "co_surgeon": ("62",),
    "team": ("66",),
    "pctc": ("26", "TC"),
}


def _indicator_sentence(page: models.ProcedureCode, field: str) -> str | None:
    ind = page.indicators.get(field)
    if ind is None:
        return None
    name = rules.INDICATOR_NAMES[field].removesuffix(" indicator")
    text = f"{name} indicator {ind.code}: {ind.meaning or 'no meaning on file'}"
    if field == "mult_proc":
        cut = rules.MULTIPLE_PROCEDURE_REDUCTION.get(ind.code, {})
        parts = {"all": "the whole amount", "pe": "the practice expense", "tc": "the technical component"}
        parts["pc"] = "the professional component"
        said = [f"{parts[k]} reduced by {float(v) * 100:g}%" for k, v in cut.items()]
        if said:
            text += f" For the second and later services: {', '.join(said)}."
    said = []
    for mod in _FIELD_MODIFIERS.get(field, ()):
        v = rules.verdict(field, ind.code, mod)
        if v is not None:
            said.append(f"modifier {mod} on {page.code}: {_VERDICT_WORD[v].lower()}")
    if said:
        text = f"{_cap('; '.join(said))}. {text}"
    return text


def _indicators(kb: KnowledgeBase, q: Question) -> Answer:
    page, failed = _first("indicators", kb, q)
    if page is None:
        return failed or no_code("indicators", q)
    code = page.code
    asked = [name for name, pattern in _INDICATOR_WORDS if pattern.search(q.text)]
    said: list[str] = []
    codes = [code]
    confidence = "high"
    extra_cites: list[models.Citation] = []
    for name in asked or ["all"]:
        if name == "endo" or (name == "all" and page.endoscopic_base):
            base = page.endoscopic_base
            mp = page.indicators.get("mult_proc")
            if base is not None:
                said.append(
                    f"The endoscopic base code of {code} is {base.code} (multiple procedure indicator "
                    f"{mp.code if mp else '?'}: endoscopy family rules: the base endoscopy's value is subtracted "
                    "from related endoscopies of the family)."
                )
                codes.append(base.code)
            elif name == "endo":
                said.append(f"{code} has no endoscopic base code in the fee schedule{_release_note(page)}.")
        elif name == "setting":
            rvu, pay = page.rvu, page.payment
            if rvu is not None and rvu.nonfacility_na:
                fac = money(pay.facility) if pay else "no amount"
                said.append(
                    f"No. {code} has no non-facility (office) rate: its non-facility practice expense is NA, so it "
                    f"is paid only at the facility rate ({fac} national)."
                )
            elif rvu is not None and pay is not None:
                said.append(
                    f"Yes. {code} has a non-facility (office) rate: {money(pay.nonfacility)} national, "
                    f"{money(pay.facility)} in a facility."
                )
        elif name == "supervision":
            sentences, rows = _supervision(page, q)
            said.extend(sentences)
            extra_cites.extend(rows)
            if not rows and page.indicators.get("phys_supervision") is None:
                confidence = "low"
        elif name == "all":
            said.extend(s for f in rules.INDICATOR_NAMES if (s := _indicator_sentence(page, f)))
        else:
            sentence = _indicator_sentence(page, name)
            said.append(sentence or f"{code} has no {name} indicator on file.")
    if not said:
        said.append(f"{code} has no fee schedule indicators on file{_release_note(page)}.")
        confidence = "low"
    return make(
        "indicators",
        said,
        codes,
        [cite(c, link(code, "facts")) for c in dict.fromkeys([*page.sources[:1], *extra_cites])],
        (f"Which modifiers apply to {code}?", f"What does {code} pay?", f"What is the global period of {code}?"),
        confidence=confidence,
    )


def _supervision(page: models.ProcedureCode, q: Question) -> tuple[list[str], list[models.Citation]]:
    """The physician supervision of diagnostic procedures indicator of the code's row and of its
    rows with a modifier where they differ (70450-TC is 01 where 70450 is 09): the sentences, and
    the citations of the modifier rows named. The row a modifier asked about comes first."""
    field = "phys_supervision"
    code = page.code
    own = page.indicators.get(field)
    asked = set(q.modifiers.get(code, ()))
    rows = [
        m for m in page.modifiers if (s := m.indicators.get(field)) is not None and (s != own or m.modifier in asked)
    ]
    rows.sort(key=lambda m: m.modifier not in asked)
    if own is None and not rows:
        return [
            f"{code} has no physician supervision indicator: it has no row in the fee schedule{_release_note(page)}."
        ], []
    said = [
        f"For {code}-{m.modifier}: indicator {m.indicators[field].code}: "
        f"{m.indicators[field].meaning or 'no meaning on file'}"
        for m in rows
    ]
    if own is not None:
        mine = f"indicator {own.code}: {own.meaning or 'no meaning on file'}"
        said.insert(
            1 if rows and rows[0].modifier in asked else 0,
            f"For {code} without a modifier: {mine}" if rows and rows[0].modifier in asked else f"{_cap(mine)}",
        )
    head = f"Physician supervision of diagnostic procedures, {code}{_release_note(page)}."
    tail = f"(Meanings from {rules.INDICATOR_SOURCES[field]}; CMS uses the field in post payment review.)"
    return [head, *said, tail], [m.citation for m in rows if m.citation is not None]


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
        _cap(rules.MUE_BEYOND_LIMIT["1"].lstrip("; ")) if m.mai == "1" else "",
    ]
    return make(
        "mue",
        said,
        [code],
        [cite(m.citation, link(code, "facts"))],
        (f"Is {code} an add-on code?", f"What does {code} pay?", f"Which codes does {code} have NCCI edits with?"),
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


answer_status = per_code("status", _status, "pprrvu")
answer_global = per_code("global", _global, "pprrvu")
answer_indicators = per_code("indicators", _indicators, "pprrvu", most=2)
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
