"""Coding guidance for a CPT/HCPCS code page: applicable modifiers, documentation requirements,
common denial reasons and answers to frequent questions, derived from the code's data (the
indicators, add-on and MUE rows, PTP edits) and from the curated families in ``vocab``.

Every item says where it comes from: ``source`` names the data it was derived from (an
indicator, a file family) or ``curated`` for medcode's own family notes; denial reasons carry
the claim checker's finding id, so a page and a check report speak of the same rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medcode import vocab
from medcode.claims.checks.validity import STATUS_FIX, STATUS_SEVERITY
from medcode.kb.models import ProcedureCode

__all__ = ["Advice", "Answer", "Denial", "Family", "Guide", "Requirement", "guide", "modifier_rules"]

BYPASS = ("59", "XE", "XP", "XS", "XU")
_TIMED = re.compile(r"\b(?:ea|each)\s+(?:addl\s+)?\d+\s*min|\b\d+\s*min\b|\bminutes?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Advice:
    """One modifier and whether it applies to the code."""

    modifier: str
    applies: str  # "yes", "no" or "with documentation"
    why: str
    source: str


@dataclass(frozen=True)
class Requirement:
    text: str
    source: str


@dataclass(frozen=True)
class Denial:
    finding: str | None  # the claim checker's finding id, when a check finds it
    text: str
    fix: str
    source: str


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    source: str


@dataclass(frozen=True)
class Family:
    name: str
    codes: tuple[str, ...]
    rule: str


@dataclass(frozen=True)
class Guide:
    modifiers: tuple[Advice, ...]
    documentation: tuple[Requirement, ...]
    denials: tuple[Denial, ...]
    faqs: tuple[Answer, ...]
    family: Family | None


def _ind(page: ProcedureCode, field: str) -> str | None:
    found = page.indicators.get(field)
    return found.code if found else None


SURGICAL = ("000", "010", "090", "ZZZ", "YYY")


def is_surgical(page: ProcedureCode) -> bool:
    """A procedure with a global surgery period (the assistant, co-surgeon and team rules apply)."""
    return page.global_period is not None and page.global_period.code in SURGICAL


def is_addon(page: ProcedureCode) -> bool:
    return page.addon is not None or (page.global_period is not None and page.global_period.code == "ZZZ")


def _modifiers(page: ProcedureCode) -> list[Advice]:
    names = vocab.cpt_modifiers()
    out: list[Advice] = []

    def add(mod: str, applies: str, why: str, source: str) -> None:
        label = names.get(mod)
        out.append(Advice(mod, applies, f"{why}{f' ({label})' if label and applies != 'no' else ''}", source))

    pctc = _ind(page, "pctc")
    if pctc == "1":
        add("26", "yes", "Bill the professional component (the interpretation) alone with 26", "PC/TC indicator 1")
        out.append(Advice("TC", "yes", "Bill the technical component (equipment, staff) alone with TC",
                          "PC/TC indicator 1"))
    elif pctc in ("6", "8"):
        add("26", "yes", "The interpretation by a physician is billed with 26; TC cannot be used",
            f"PC/TC indicator {pctc}")
    elif pctc is not None and pctc != "9":
        add("26", "no", f"PC/TC indicator {pctc}: {vocab.meaning('pctc', pctc)}", f"PC/TC indicator {pctc}")
    bil = _ind(page, "bilateral")
    if bil == "1":
        add("50", "yes", "A procedure done on both sides is billed once with 50 and paid at 150%",
            "bilateral indicator 1")
    elif bil in ("0", "2", "3"):
        add("50", "no", vocab.meaning("bilateral", bil) or "", f"bilateral indicator {bil}")
    asst = _ind(page, "assistant") if is_surgical(page) else None
    for mod in ("80", "82", "AS"):
        if asst == "2":
            add(mod, "yes", "An assistant at surgery is paid at 16% of the fee schedule amount",
                "assistant indicator 2")
        elif asst == "0":
            add(mod, "with documentation", "Paid only when the note shows why an assistant was medically "
                "necessary", "assistant indicator 0")
        elif asst == "1":
            add(mod, "no", "Medicare does not pay an assistant at surgery for this code", "assistant indicator 1")
    for field, mod, what in (("co_surgeon", "62", "Co-surgeons"), ("team", "66", "Team surgery")):
        value = _ind(page, field) if is_surgical(page) else None
        if value == "2":
            add(mod, "yes", f"{what} permitted: {vocab.meaning(field, value)}", f"{field.replace('_', '-')} "
                f"indicator 2")
        elif value == "1":
            add(mod, "with documentation", f"{what} paid only with documentation of medical necessity",
                f"{field.replace('_', '-')} indicator 1")
        elif value == "0":
            add(mod, "no", f"{what} not permitted for this code", f"{field.replace('_', '-')} indicator 0")
    if is_addon(page):
        add("51", "no", "An add-on code is never reduced as a multiple procedure: do not append 51",
            "global period ZZZ / NCCI add-on file")
    elif _ind(page, "mult_proc") in ("2", "3"):
        add("51", "yes", "With other procedures on the same day the lower-valued ones are paid at 50%; "
            "many payers want 51 on them", f"multiple procedure indicator {_ind(page, 'mult_proc')}")
    if page.ptp is not None:
        bypass = [p for p in (*page.ptp.as_column_1, *page.ptp.as_column_2) if p.modifier == 1]
        if bypass:
            for mod in BYPASS:
                add(mod, "with documentation", "Some NCCI pairs of this code (modifier indicator 1) are allowed "
                    "when the services were distinct (another site, session or encounter)", "NCCI PTP edits")
    if page.code.isdigit() and 99202 <= int(page.code) <= 99499:
        add("25", "yes", "A significant, separately identifiable E/M service on the day of a procedure or other "
            "service", "E/M code range 99202-99499")
    glob = page.global_period.code if page.global_period else None
    if glob in ("010", "090"):
        add("79", "yes", "An unrelated procedure during this code's postoperative period", f"global period {glob}")
        add("24", "yes", "An unrelated E/M visit during this code's postoperative period", f"global period {glob}")
        add("58", "yes", "A staged or related procedure during the postoperative period", f"global period {glob}")
        if glob == "090":
            add("57", "yes", "The E/M visit on the day before or the day of surgery that led to the decision "
                "to operate", "global period 090")
    return out


def _documentation(page: ProcedureCode, family: str | None) -> list[Requirement]:
    out: list[Requirement] = []
    if page.addon is not None and page.addon.primary_codes:
        shown = ", ".join(page.addon.primary_codes[:8])
        more = len(page.addon.primary_codes) - 8
        out.append(Requirement(f"The primary procedure performed at the same session (an eligible primary: "
                               f"{shown}{f' and {more} more' if more > 0 else ''}).", "NCCI add-on file"))
    elif is_addon(page):
        out.append(Requirement("The primary procedure performed at the same session.", "global period ZZZ"))
    if _ind(page, "bilateral") in ("1", "3"):
        out.append(Requirement("Laterality: which side (right, left or both) was treated.",
                               f"bilateral indicator {_ind(page, 'bilateral')}"))
    text = f"{page.description} {page.plain_description or ''}"
    if _TIMED.search(text):
        out.append(Requirement("The time spent (total minutes, or start and stop times) when time is the basis "
                               "for the code, as its descriptor names a time.", "the descriptor"))
    if _ind(page, "assistant") == "0" and is_surgical(page):
        out.append(Requirement("Why an assistant at surgery was needed, when one is billed.", "assistant indicator 0"))
    if _ind(page, "co_surgeon") == "1" and is_surgical(page):
        out.append(Requirement("Each co-surgeon's distinct part of the procedure and why two surgeons were "
                               "needed, when billed with 62.", "co-surgeon indicator 1"))
    if _ind(page, "pctc") == "1":
        out.append(Requirement("A signed interpretation and report for the professional component (26).",
                               "PC/TC indicator 1"))
    if page.mue is not None and page.mue.mai == "3":
        out.append(Requirement(f"The medical necessity of more than {page.mue.units} unit(s) on one date of "
                               f"service, if more are billed (the MUE can be appealed with records).",
                               "MUE adjudication indicator 3"))
    if family is not None:
        out.extend(Requirement(t, "curated") for t in vocab.code_documentation().get(family, {}).get("document", ()))
    return out


def _denials(page: ProcedureCode, family: str | None) -> list[Denial]:
    out: list[Denial] = []
    status = page.status.code if page.status else None
    if page.status is not None and status in STATUS_SEVERITY:
        out.append(Denial(f"validity.status_{page.status.code.lower()}",
                          f"Status {page.status.code}: {page.status.meaning or ''}",
                          STATUS_FIX.get(page.status.code, ""), "PFS status indicator"))
    if page.addon is not None:
        out.append(Denial("addon.no_primary", "Billed without an eligible primary procedure on the same date.",
                          "Report the primary procedure on the same claim and date.", "NCCI add-on file"))
        out.append(Denial("modifiers.51_on_addon", "Billed with modifier 51.", "Remove 51: add-on codes are "
                          "exempt from the multiple procedure reduction.", "NCCI add-on file"))
    if page.mue is not None:
        per = "line" if page.mue.mai == "1" else "date of service"
        out.append(Denial("mue.exceeded", f"More than {page.mue.units} unit(s) per {per}.",
                          "Bill the units performed up to the MUE; appeal with records where the adjudication "
                          "indicator allows." if page.mue.mai == "3" else "Bill no more than the MUE allows.",
                          "NCCI MUE file"))
    if page.ptp is not None and page.ptp.column_2_count:
        out.append(Denial("ptp.bundled", f"Billed with one of {page.ptp.column_2_count:,} column 1 codes that "
                          f"bundle it (NCCI PTP), without a modifier that the pair allows.",
                          "Drop this code, or when the services were distinct and the pair's modifier indicator "
                          "is 1, append 59 or XE/XP/XS/XU with documentation.", "NCCI PTP edits"))
    if _ind(page, "bilateral") in ("0", "2", "3") and is_surgical(page):
        out.append(Denial("modifiers.bilateral_not_allowed", "Billed with modifier 50.",
                          "Bill without 50 (see the bilateral indicator).", "bilateral indicator"))
    if _ind(page, "assistant") == "1" and is_surgical(page):
        out.append(Denial("modifiers.assistant_not_allowed", "Billed with 80, 81, 82 or AS.",
                          "An assistant at surgery is not paid for this code.", "assistant indicator 1"))
    if _ind(page, "pctc") in ("2", "3", "4", "5"):
        out.append(Denial("modifiers.pctc_mismatch", "Billed with 26 or TC.",
                          "Remove the modifier: the PC/TC split does not apply to this code.", "PC/TC indicator"))
    if family is not None:
        members, rule = vocab.code_families()[family]
        others = [c for c in members if c != page.code]
        out.append(Denial("siblings.conflict", f"Billed on the same date as {', '.join(others)}.", rule,
                          "curated code family"))
        out.extend(Denial(None, t, "", "curated") for t in
                   vocab.code_documentation().get(family, {}).get("denial", ()))
    return out


def _faqs(page: ProcedureCode, family: str | None) -> list[Answer]:
    code = page.code
    out: list[Answer] = []
    if page.addon is not None:
        primaries = page.addon.primary_codes
        alone = (f"No. {code} is an add-on code (NCCI edit type {page.addon.type}): "
                 f"{page.addon.type_meaning or ''}")
        out.append(Answer(f"Can {code} be billed alone?", alone, "NCCI add-on file"))
        if primaries:
            out.append(Answer(f"Which primary codes go with {code}?",
                              f"{len(primaries)} primary code(s): {', '.join(primaries)}.", "NCCI add-on file"))
    elif is_addon(page):
        out.append(Answer(f"Can {code} be billed alone?", "No. Its global period is ZZZ: it is an add-on code "
                          "billed with its primary procedure.", "PFS global period"))
    else:
        out.append(Answer(f"Can {code} be billed alone?", f"Yes. {code} is not an add-on code in the NCCI add-on "
                          "file and its global period is not ZZZ.", "NCCI add-on file, PFS global period"))
    if page.global_period is not None:
        out.append(Answer(f"What is the global period of {code}?",
                          f"{page.global_period.code}: {page.global_period.meaning or ''}", "PFS global period"))
    if is_addon(page):
        out.append(Answer(f"Does {code} take modifier 51?", "No. Add-on codes are exempt from the multiple "
                          "procedure reduction and are not billed with 51.", "global period ZZZ / add-on file"))
    elif _ind(page, "mult_proc") is not None:
        mp = _ind(page, "mult_proc") or ""
        out.append(Answer(f"Does {code} take modifier 51?", f"Multiple procedure indicator {mp}: "
                          f"{vocab.meaning('mult_proc', mp) or ''}", "PFS multiple procedure indicator"))
    if page.mue is not None:
        out.append(Answer(f"How many units of {code} can be billed?",
                          f"{page.mue.units} per {'line' if page.mue.mai == '1' else 'date of service'} "
                          f"(MUE adjudication indicator {page.mue.mai}: {page.mue.mai_meaning or ''}).",
                          "NCCI MUE file"))
    if family is not None:
        members, rule = vocab.code_families()[family]
        out.append(Answer(f"How do I choose between {', '.join(members)}?", rule, "curated code family"))
    if page.rvu is not None and page.rvu.pe_nonfacility is not None:
        out.append(Answer(f"Are supplies billed separately with {code}?",
                          f"Usually not under the physician fee schedule: the practice expense RVUs "
                          f"({page.rvu.pe_nonfacility} in the office, {page.rvu.pe_facility} in a facility) "
                          "already pay for the supplies the service typically uses.", "PFS RVU file"))
    return out


def modifier_rules(modifier: str) -> tuple[Denial, ...]:
    """What the claim checker and the repricing do with a modifier: each rule with the finding it
    can give (``None`` for a pricing rule) and the data it reads."""
    from medcode.claims.checks.modifiers import ASSISTANT
    from medcode.claims.checks.ptp import NCCI_MODIFIERS

    m = modifier.strip().upper()
    out: list[Denial] = []
    if m in NCCI_MODIFIERS:
        out.append(Denial("ptp.bypassed", "An NCCI-associated modifier: on either code of a PTP pair whose modifier "
                          "indicator is 1, it allows both codes when the services were distinct.",
                          "Use it only when the note shows a separate site, session, encounter or practitioner.",
                          "NCCI PTP edits"))
    if m == "51":
        out.append(Denial("modifiers.51_on_addon", "Never on an add-on code.", "Remove 51 from add-on lines.",
                          "NCCI add-on file"))
        out.append(Denial(None, "Multiple procedures (indicator 2) are repriced with or without 51: the highest at "
                          "100%, the others at 50%.", "", "PFS multiple procedure indicator"))
    if m == "50":
        out.append(Denial("modifiers.bilateral_not_allowed", "Only where the bilateral indicator is 1 (paid at "
                          "150%); indicators 0, 2, 3 and 9 do not take it.", "Bill without 50, or RT/LT where the "
                          "payer asks.", "PFS bilateral indicator"))
    if m in ("26", "TC"):
        out.append(Denial("modifiers.pctc_mismatch", f"Only where the PC/TC indicator allows {m} (indicator 1; 26 "
                          "also with 6 and 8).", "Bill the code without it, or the component's own code.",
                          "PFS PC/TC indicator"))
    if m in ASSISTANT:
        out.append(Denial("modifiers.assistant_not_allowed", "Not paid where the assistant indicator is 1; needs "
                          "documentation where it is 0 (modifiers.assistant_documentation). Paid at 16% of the fee "
                          "schedule amount.", "Check the code's assistant indicator.", "PFS assistant indicator"))
    if m == "62":
        out.append(Denial(None, "Each co-surgeon is paid 62.5% of the fee schedule amount; the co-surgeon indicator "
                          "says whether it is allowed.", "", "PFS co-surgeon indicator"))
    if m == "66":
        out.append(Denial(None, "Team surgery: the team indicator says whether it is allowed; paid by report.", "",
                          "PFS team indicator"))
    if m == "25":
        out.append(Denial("modifiers.25_not_em", "Only on an E/M code (99202-99499).", "Move 25 to the E/M line.",
                          "E/M code range"))
    return tuple(out)


def guide(page: ProcedureCode) -> Guide:
    """The guidance sections of a CPT/HCPCS code page."""
    family = vocab.family_of(page.code)
    fam = None
    if family is not None:
        members, rule = vocab.code_families()[family]
        fam = Family(family, members, rule)
    return Guide(tuple(_modifiers(page)), tuple(_documentation(page, family)), tuple(_denials(page, family)),
                 tuple(_faqs(page, family)), fam)
