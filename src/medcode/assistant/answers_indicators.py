"""CasePilot answers about a CPT/HCPCS code's global surgery package (its days, and how the fee
schedule row splits it into pre-, intra- and post-operative shares) and its fee schedule
indicators (their codes and meanings, the physician supervision of diagnostic procedures, the
modifiers they allow), all from the code page (``medcode.lookup.get_code``) and ``medcode.rules``."""

from __future__ import annotations

import re

from medcode import rules
from medcode.assistant.answers_facts import (
    capital,
    cite,
    link,
    make,
    money,
    no_code,
    per_code,
    procedure_page,
)
from medcode.assistant.model import Answer, Question
from medcode.kb import models
from medcode.kb.store import KnowledgeBase

GLOBAL_DAYS = {"000": 0, "010": 10, "090": 90}


def first_page(kind: str, kb: KnowledgeBase, q: Question) -> tuple[models.ProcedureCode | None, Answer | None]:
    if not q.codes:
        return None, no_code(kind, q)
    page = procedure_page(kb, q.codes[0], q)
    if page is None:
        return None, no_code(kind, q)
    return page, None


def release_note(page: models.ProcedureCode) -> str:
    return f" ({page.release})" if page.release else ""


def _global(kb: KnowledgeBase, q: Question) -> Answer:
    page, failed = first_page("global", kb, q)
    if page is None:
        return failed or no_code("global", q)
    code = page.code
    g = page.global_period
    if g is None:
        return make(
            "global",
            [f"{code} has no global period on file: it has no row in the physician fee schedule{release_note(page)}."],
            [code],
            [cite(s, link(code, "facts")) for s in page.sources[:1]],
            (f"What is {code}?",),
            confidence="low",
        )
    said = [f"{code} has global period {g.code}{release_note(page)}: {g.meaning or ''}"]
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
        text = f"{capital('; '.join(said))}. {text}"
    return text


def _indicators(kb: KnowledgeBase, q: Question) -> Answer:
    page, failed = first_page("indicators", kb, q)
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
                said.append(f"{code} has no endoscopic base code in the fee schedule{release_note(page)}.")
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
        said.append(f"{code} has no fee schedule indicators on file{release_note(page)}.")
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
            f"{code} has no physician supervision indicator: it has no row in the fee schedule{release_note(page)}."
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
            f"For {code} without a modifier: {mine}" if rows and rows[0].modifier in asked else f"{capital(mine)}",
        )
    head = f"Physician supervision of diagnostic procedures, {code}{release_note(page)}."
    tail = f"(Meanings from {rules.INDICATOR_SOURCES[field]}; CMS uses the field in post payment review.)"
    return [head, *said, tail], [m.citation for m in rows if m.citation is not None]


answer_global = per_code("global", _global, "pprrvu")
answer_indicators = per_code("indicators", _indicators, "pprrvu", most=2)
