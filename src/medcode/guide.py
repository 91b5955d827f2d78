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

from medcode import rules, vocab
from medcode.claims.multiple import STANDARD_KEPT
from medcode.kb.models import ProcedureCode
from medcode.rules import STATUS_FIX, STATUS_SEVERITY

__all__ = ["Advice", "Answer", "Denial", "Family", "Guide", "Requirement", "guide", "modifier_rules"]

BYPASS = rules.DISTINCT_MODIFIERS
LABEL = {
    "pctc": "PC/TC",
    "bilateral": "bilateral",
    "assistant": "assistant",
    "co_surgeon": "co-surgeon",
    "team": "team",
}
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
    modifiers: tuple[str, ...] = ()  # the modifiers that meet the rule, for an indicator rule


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


def judged(page: ProcedureCode, field: str, modifier: str) -> tuple[str | None, str]:
    """(indicator value, source) of the row a line of the code with ``modifier`` is judged by: its
    own row for 26, TC or 53 where the fee schedule has one (as ``Facts.pfs`` picks), else the
    code's row."""
    if modifier in rules.PFS_ROW_MODIFIERS:
        for row in page.modifiers:
            if row.modifier == modifier:
                found = row.indicators.get(field)
                value = found.code if found else None
                return value, f"{LABEL[field]} indicator {value} of {page.code}-{modifier}"
    value = _ind(page, field)
    if value is None:  # no row of its own (86153): the first modifier row, as the checker judges it
        first = next((r for m in rules.PFS_ROW_MODIFIERS for r in page.modifiers if r.modifier == m), None)
        found = first.indicators.get(field) if first else None
        if first is not None and found is not None:
            return found.code, f"{LABEL[field]} indicator {found.code} of {page.code}-{first.modifier}"
    return value, f"{LABEL[field]} indicator {value}"


def indicator_verdicts(page: ProcedureCode, field: str) -> list[tuple[str, str, str, str]]:
    """(modifier, verdict, value, source) for each modifier the ``field`` indicator governs, from
    ``rules.INDICATOR_RULES`` (modifiers whose row has no such indicator are left out)."""
    out = []
    for mod in rules.INDICATOR_MODIFIERS[field]:
        value, source = judged(page, field, mod)
        v = rules.verdict(field, value, mod)
        if v is not None and value is not None:
            out.append((mod, v, value, source))
    return out


SURGICAL = ("000", "010", "090", "ZZZ", "YYY")


def is_surgical(page: ProcedureCode) -> bool:
    """A procedure with a global surgery period (the assistant, co-surgeon and team rules apply)."""
    return page.global_period is not None and page.global_period.code in SURGICAL


def is_timed(page: ProcedureCode) -> bool:
    """The code's descriptor names a time: its short descriptor, or medcode's own description of it
    (``vocab/lay_*.tsv``: "each 15 minutes" where the short descriptor is only "Therapeutic exercises").
    Not the expanded short descriptor: its "min" may be "minimal" ("min invasive")."""
    return bool(_TIMED.search(f"{page.description} {vocab.lay_descriptions().get(page.code, '')}"))


def is_addon(page: ProcedureCode) -> bool:
    return page.addon is not None or (page.global_period is not None and page.global_period.code == "ZZZ")


def _modifiers(page: ProcedureCode) -> list[Advice]:
    names = vocab.cpt_modifiers()
    out: list[Advice] = []

    def add(mod: str, applies: str, why: str, source: str) -> None:
        label = names.get(mod)
        out.append(Advice(mod, applies, f"{why}{f' ({label})' if label and applies != 'no' else ''}", source))

    applies = {rules.ALLOWED: "yes", rules.DOCUMENTATION: "with documentation", rules.NOT_ALLOWED: "no"}
    surgical = is_surgical(page)
    for field in rules.INDICATOR_MODIFIERS:
        if field in ("assistant", "co_surgeon", "team") and not surgical:
            continue  # the surgical modifiers are shown for procedures with a global period
        shown = ("80", "82", "AS") if field == "assistant" else rules.INDICATOR_MODIFIERS[field]
        for mod, v, value, source in indicator_verdicts(page, field):
            if mod in shown and value != "9":
                add(mod, applies[v], rules.INDICATOR_RULES[field][value].definition, source)
    if is_addon(page):
        add(
            "51",
            "no",
            "An add-on code is never reduced as a multiple procedure: do not append 51",
            "global period ZZZ / NCCI add-on file",
        )
    elif _ind(page, "mult_proc") in rules.STANDARD_MULTIPLE_PROCEDURE:
        add(
            "51",
            "yes",
            f"With other procedures on the same day the lower-valued ones are paid at "
            f"{_pct(STANDARD_KEPT)}; many payers want 51 on them",
            f"multiple procedure indicator {_ind(page, 'mult_proc')}",
        )
    em = rules.is_em(page.code)
    if page.ptp is not None:
        bypass = [p for p in (*page.ptp.as_column_1, *page.ptp.as_column_2) if p.modifier == 1]
        if bypass:
            for mod in BYPASS:
                if em:
                    add(
                        mod,
                        "no",
                        "Not used on E/M services: 25 (or 57) shows a separately identifiable visit",
                        "NCCI policy manual, chapter I",
                    )
                else:
                    add(
                        mod,
                        "with documentation",
                        "Some NCCI pairs of this code (modifier indicator 1) are allowed "
                        "when the services were distinct (another site, session or encounter); not against an "
                        "E/M code",
                        "NCCI PTP edits",
                    )
    if em:
        add(
            "25",
            "yes",
            "A significant, separately identifiable E/M service on the day of a procedure or other service",
            f"E/M code range {rules.EM_FIRST}-{rules.EM_LAST}",
        )
    glob = page.global_period.code if page.global_period else None
    if glob in ("010", "090"):
        add("79", "yes", "An unrelated procedure during this code's postoperative period", f"global period {glob}")
        add("24", "yes", "An unrelated E/M visit during this code's postoperative period", f"global period {glob}")
        add("58", "yes", "A staged or related procedure during the postoperative period", f"global period {glob}")
        if glob == "090":
            add(
                "57",
                "yes",
                "The E/M visit on the day before or the day of surgery that led to the decision to operate",
                "global period 090",
            )
    return out


def _documentation(page: ProcedureCode, family: str | None) -> list[Requirement]:
    out: list[Requirement] = []
    if page.addon is not None and page.addon.primary_codes:
        shown = ", ".join(page.addon.primary_codes[:8])
        more = len(page.addon.primary_codes) - 8
        out.append(
            Requirement(
                f"The primary procedure performed at the same session (an eligible primary: "
                f"{shown}{f' and {more} more' if more > 0 else ''}).",
                "NCCI add-on file",
            )
        )
    elif is_addon(page):
        out.append(Requirement("The primary procedure performed at the same session.", "global period ZZZ"))
    if _ind(page, "bilateral") in ("1", "3"):
        out.append(
            Requirement(
                "Laterality: which side (right, left or both) was treated.",
                f"bilateral indicator {_ind(page, 'bilateral')}",
            )
        )
    if is_timed(page):
        out.append(
            Requirement(
                "The time spent (total minutes, or start and stop times) when time is the basis "
                "for the code, as its descriptor names a time.",
                "the descriptor",
            )
        )
    for field, text in (
        ("assistant", "Why an assistant at surgery was needed, when one is billed."),
        (
            "co_surgeon",
            "Each co-surgeon's distinct part of the procedure and why two surgeons were needed, when billed with 62.",
        ),
        ("team", "Why a team of surgeons was needed and each one's part, when billed with 66."),
    ):
        value = _ind(page, field)  # where the rule table asks for documentation of the modifier
        if (
            is_surgical(page)
            and rules.verdict(field, value, rules.INDICATOR_MODIFIERS[field][0]) == rules.DOCUMENTATION
        ):
            out.append(Requirement(text, f"{LABEL[field]} indicator {value}"))
    if _ind(page, "pctc") == "1":
        out.append(
            Requirement("A signed interpretation and report for the professional component (26).", "PC/TC indicator 1")
        )
    if page.mue is not None and page.mue.mai == "3":
        out.append(
            Requirement(
                f"The medical necessity of more than {page.mue.units} unit(s) on one date of "
                f"service, if more are billed (the MUE can be appealed with records).",
                "MUE adjudication indicator 3",
            )
        )
    if family is not None:
        out.extend(Requirement(t, "curated") for t in vocab.code_documentation().get(family, {}).get("document", ()))
    return out


def _denials(page: ProcedureCode, family: str | None) -> list[Denial]:
    out: list[Denial] = []
    status = page.status.code if page.status else None
    if page.status is not None and status in STATUS_SEVERITY:
        out.append(
            Denial(
                f"validity.status_{page.status.code.lower()}",
                f"Status {page.status.code}: {page.status.meaning or ''}",
                STATUS_FIX.get(page.status.code, ""),
                "PFS status indicator",
            )
        )
    if page.addon is not None:
        out.append(
            Denial(
                "addon.no_primary",
                "Billed without an eligible primary procedure on the same date.",
                "Report the primary procedure on the same claim and date.",
                "NCCI add-on file",
            )
        )
        out.append(
            Denial(
                "modifiers.51_on_addon",
                "Billed with modifier 51.",
                "Remove 51: add-on codes are exempt from the multiple procedure reduction.",
                "NCCI add-on file",
            )
        )
    if page.mue is not None:
        per = "line" if page.mue.mai == "1" else "date of service"
        out.append(
            Denial(
                "mue.exceeded",
                f"More than {page.mue.units} unit(s) per {per}.",
                "Bill the units performed up to the MUE; appeal with records where the adjudication indicator allows."
                if page.mue.mai == "3"
                else "Bill no more than the MUE allows.",
                "NCCI MUE file",
            )
        )
    if page.ptp is not None and page.ptp.column_2_count:
        bypass = (
            "append 25 to it (57 for the decision for surgery); 59 and XE/XP/XS/XU are not used on E/M services"
            if rules.is_em(page.code)
            else "append 59 or XE/XP/XS/XU (or anatomic modifiers showing different sites)"
        )
        out.append(
            Denial(
                "ptp.bundled",
                f"Billed with one of {page.ptp.column_2_count:,} column 1 codes that "
                f"bundle it (NCCI PTP), without a modifier that the pair allows.",
                "Drop this code, or when the services were distinct and the pair's modifier indicator "
                f"is 1, {bypass}, with documentation.",
                "NCCI PTP edits",
            )
        )
    out.extend(indicator_denials(page))
    if family is not None:
        members, rule = vocab.code_families()[family]
        others = [c for c in members if c != page.code]
        out.append(
            Denial("siblings.conflict", f"Billed on the same date as {', '.join(others)}.", rule, "curated code family")
        )
        out.extend(Denial(None, t, "", "curated") for t in vocab.code_documentation().get(family, {}).get("denial", ()))
    return out


def indicator_denials(page: ProcedureCode) -> list[Denial]:
    """The claim checker's indicator findings a line of the code can get: one per finding and
    row, naming the modifiers that meet it (``rules.INDICATOR_RULES``, as ``checks.modifiers``)."""
    out: list[Denial] = []
    for field in rules.INDICATOR_MODIFIERS:
        groups: dict[tuple[str, str, str], list[str]] = {}
        for mod, v, value, source in indicator_verdicts(page, field):
            if v != rules.ALLOWED:
                groups.setdefault((rules.INDICATOR_FINDING[(field, v)], value, source), []).append(mod)
        for (fid, value, source), mods in groups.items():
            rule = rules.INDICATOR_RULES[field][value]
            names = " or ".join(mods)
            what = "without documentation" if rule.verdicts[mods[0]] == rules.DOCUMENTATION else ""
            out.append(
                Denial(
                    fid,
                    f"Billed with {names}{' ' + what if what else ''}: {rule.definition}",
                    rule.fix.format(mod=names),
                    source,
                    tuple(mods),
                )
            )
    return out


def _faqs(page: ProcedureCode, family: str | None) -> list[Answer]:
    code = page.code
    out: list[Answer] = []
    if page.addon is not None:
        primaries = page.addon.primary_codes
        alone = f"No. {code} is an add-on code (NCCI edit type {page.addon.type}): {page.addon.type_meaning or ''}"
        out.append(Answer(f"Can {code} be billed alone?", alone, "NCCI add-on file"))
        if primaries:
            out.append(
                Answer(
                    f"Which primary codes go with {code}?",
                    f"{len(primaries)} primary code(s): {', '.join(primaries)}.",
                    "NCCI add-on file",
                )
            )
    elif is_addon(page):
        out.append(
            Answer(
                f"Can {code} be billed alone?",
                "No. Its global period is ZZZ: it is an add-on code billed with its primary procedure.",
                "PFS global period",
            )
        )
    else:
        out.append(
            Answer(
                f"Can {code} be billed alone?",
                f"Yes. {code} is not an add-on code in the NCCI add-on file and its global period is not ZZZ.",
                "NCCI add-on file, PFS global period",
            )
        )
    if page.global_period is not None:
        out.append(
            Answer(
                f"What is the global period of {code}?",
                f"{page.global_period.code}: {page.global_period.meaning or ''}",
                "PFS global period",
            )
        )
    if is_addon(page):
        out.append(
            Answer(
                f"Does {code} take modifier 51?",
                "No. Add-on codes are exempt from the multiple procedure reduction and are not billed with 51.",
                "global period ZZZ / add-on file",
            )
        )
    elif _ind(page, "mult_proc") is not None:
        mp = _ind(page, "mult_proc") or ""
        out.append(
            Answer(
                f"Does {code} take modifier 51?",
                f"Multiple procedure indicator {mp}: {vocab.meaning('mult_proc', mp) or ''}",
                "PFS multiple procedure indicator",
            )
        )
    if page.mue is not None:
        out.append(
            Answer(
                f"How many units of {code} can be billed?",
                f"{page.mue.units} per {'line' if page.mue.mai == '1' else 'date of service'} "
                f"(MUE adjudication indicator {page.mue.mai}: {page.mue.mai_meaning or ''}).",
                "NCCI MUE file",
            )
        )
    if family is not None:
        members, rule = vocab.code_families()[family]
        out.append(Answer(f"How do I choose between {', '.join(members)}?", rule, "curated code family"))
    if page.rvu is not None and page.rvu.pe_nonfacility is not None:
        out.append(
            Answer(
                f"Are supplies billed separately with {code}?",
                f"Usually not under the physician fee schedule: the practice expense RVUs "
                f"({page.rvu.pe_nonfacility} in the office, {page.rvu.pe_facility} in a facility) "
                "already pay for the supplies the service typically uses.",
                "PFS RVU file",
            )
        )
    return out


def _pct(share: object) -> str:
    return f"{float(str(share)) * 100:g}%"


def modifier_rules(modifier: str) -> tuple[Denial, ...]:
    """What the claim checker and the repricing do with a modifier: each rule with the finding it
    can give (``None`` for a pricing rule) and the data it reads, all from ``medcode.rules``."""
    m = modifier.strip().upper()
    out: list[Denial] = []
    if m in rules.PTP_MODIFIERS:
        if m in rules.DISTINCT_MODIFIERS:
            when = (
                "where neither code of the pair is an E/M service: 59 and XE/XP/XS/XU are not used on E/M "
                "services (25 or 57 is the bypass there)"
            )
        elif m in rules.EM_MODIFIERS:
            when = "on the E/M code of the pair only"
        elif m in rules.ANATOMIC_MODIFIERS:
            when = (
                "only when both lines carry anatomic modifiers that show different sites (the same modifier on "
                "both lines, or one on one line only, is no bypass)"
            )
        else:
            when = "on either code of the pair"
        out.append(
            Denial(
                "ptp.bypassed",
                "An NCCI PTP-associated modifier: it bypasses a PTP edit whose modifier "
                f"indicator is 1, {when}; otherwise the column 2 code gets ptp.modifier_required.",
                "Use it only when the note shows a separate site, session, encounter or practitioner.",
                "NCCI policy manual, chapter I, section E",
            )
        )
    if m == "51":
        out.append(
            Denial(
                "modifiers.51_on_addon", "Never on an add-on code.", "Remove 51 from add-on lines.", "NCCI add-on file"
            )
        )
        standard = " or ".join(sorted(rules.STANDARD_MULTIPLE_PROCEDURE))
        out.append(
            Denial(
                None,
                f"Multiple procedures (indicator {standard}) are repriced with or without 51: the "
                f"highest at 100%, the others at {_pct(STANDARD_KEPT)}.",
                "",
                "PFS multiple procedure indicator",
            )
        )
    for field, governed in rules.INDICATOR_MODIFIERS.items():
        if m not in governed:
            continue
        by: dict[str, list[str]] = {}
        for value, rule in rules.INDICATOR_RULES[field].items():
            by.setdefault(rule.verdicts[m], []).append(value)
        said = "; ".join(f"{v} where it is {', '.join(values)}" for v, values in by.items())
        fid = rules.INDICATOR_FINDING.get((field, rules.NOT_ALLOWED))
        doc = rules.INDICATOR_FINDING.get((field, rules.DOCUMENTATION))
        out.append(
            Denial(
                fid,
                f"By the code's {LABEL[field]} indicator: {said}"
                + (f" ({doc} where documentation is needed)." if doc and rules.DOCUMENTATION in by else "."),
                "Check the code's indicator on its page; bill without the modifier where it is not allowed.",
                f"PFS {LABEL[field]} indicator (RVU26B.pdf)",
                (m,),
            )
        )
    if m in rules.PFS_ROW_MODIFIERS:
        out.append(
            Denial(
                None,
                f"A line with {m} is judged and priced by the code's own {m} row where the fee "
                "schedule has one (its status and indicators), else by the code's row.",
                "",
                "PFS relative value file",
            )
        )
    if m in rules.ASSISTANT_SHARE:
        out.append(
            Denial(
                None,
                f"An assistant at surgery ({m}) is paid {_pct(rules.ASSISTANT_SHARE[m])} of the fee schedule amount.",
                "",
                "PFS assistant payment",
            )
        )
    if m == "62":
        out.append(
            Denial(
                None,
                f"Each co-surgeon is paid {_pct(rules.CO_SURGEON_SHARE)} of the fee schedule amount.",
                "",
                "PFS co-surgeon payment",
            )
        )
    if m == "50":
        paid = "; ".join(f"indicator {v}: {_pct(s)}" for v, s in rules.BILATERAL_SHARES.items())
        out.append(
            Denial(
                None,
                f"With 50 the line is paid by the bilateral indicator ({paid} of the fee schedule "
                "amount for one side).",
                "",
                "PFS bilateral payment",
            )
        )
    if m == "66":
        out.append(Denial(None, "Team surgery is paid by report.", "", "PFS team indicator"))
    if m == "25":
        out.append(
            Denial(
                "modifiers.25_not_em",
                f"Only on an E/M code ({rules.EM_FIRST}-{rules.EM_LAST}).",
                "Move 25 to the E/M line.",
                "E/M code range",
            )
        )
    return tuple(out)


def guide(page: ProcedureCode) -> Guide:
    """The guidance sections of a CPT/HCPCS code page."""
    family = vocab.family_of(page.code)
    fam = None
    if family is not None:
        members, rule = vocab.code_families()[family]
        fam = Family(family, members, rule)
    return Guide(
        tuple(_modifiers(page)),
        tuple(_documentation(page, family)),
        tuple(_denials(page, family)),
        tuple(_faqs(page, family)),
        fam,
    )
