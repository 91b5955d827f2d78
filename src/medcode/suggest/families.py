"""Procedure families whose code the descriptor words alone cannot decide: the rules read the size of
the joint, the technique at the scope, the summed length and site of repaired wounds, the site of a
drug-delivery device, the drug and dose, and the documented time of a visit. The rules are data
(``vocab/*.tsv``); this module reads a note with them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from medcode.language.context import Context, assess
from medcode.language.note import Note
from medcode.language.text import Sentence
from medcode.suggest.model import Evidence
from medcode.vocab.tsv import read


@dataclass(frozen=True)
class Found:
    """A procedure code a rule found, before the checks of the knowledge base and the modifiers."""

    code: str
    confidence: float
    evidence: tuple[Evidence, ...]
    why: str
    laterality: str | None = None
    units: int = 1
    family: str = ""
    modifiers: tuple[str, ...] = ()


@dataclass
class Findings:
    """What the rules found in a note: codes, notices and the sentences they used up."""

    codes: list[Found]
    notices: list[str]
    used: set[int]  # positions of sentences a rule explained (the concept lookup skips them)


Rule = Callable[[Note, Findings], None]


def _ev(note: Note, start: int, end: int) -> Evidence:
    return Evidence(start, end, note.text[start:end])


def _sent_ev(s: Sentence) -> Evidence:
    return Evidence(s.start, s.end, s.text)


def _find(pattern: re.Pattern[str], note: Note, s: Sentence, *, negated_ok: bool = False) -> Iterator[re.Match[str]]:
    """Matches of ``pattern`` in sentence ``s`` that are affirmed (not negated nor hypothetical)."""
    for m in pattern.finditer(s.text.lower()):
        if negated_ok:
            yield m
            continue
        c = assess(note, s.start + m.start(), s.start + m.end())
        if not (c.negated or c.hypothetical):
            yield m


def _ctx(note: Note, s: Sentence, m: re.Match[str]) -> Context:
    return assess(note, s.start + m.start(), s.start + m.end())


# Sections that describe what was done at this encounter (others may name plans or past procedures).
PLAN_SECTIONS = frozenset({"plan", "instructions", "past_history", "family_history", "indications", "medications"})
# Sections that never report a procedure done now (others of PLAN_SECTIONS may, with a word like "injected").
NEVER_DONE_SECTIONS = frozenset(
    {"preoperative_diagnosis", "postoperative_diagnosis", "past_history", "family_history", "medications"}
)
# Words that say a procedure was done (a plan section may report what was done today with them).
_DONE = re.compile(
    r"\b(?:injected|aspirated|repaired|performed|done|given|administered|closed|removed|placed|inserted|applied)\b"
)


def _doing(s: Sentence) -> bool:
    """Whether the sentence may report what was done at this encounter."""
    if s.section in NEVER_DONE_SECTIONS:
        return False
    return s.section not in PLAN_SECTIONS or bool(_DONE.search(s.text.lower()))


# --- office E/M by documented total time ------------------------------------------------------


@cache
def _em_table() -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for row in read("em_time.tsv", ("patient", "code", "minutes")):
        out.setdefault(row["patient"], []).append((int(row["minutes"]), row["code"]))
    for rows in out.values():
        rows.sort()
    return out


def em_time_levels(patient: str) -> tuple[tuple[int, str], ...]:
    """(least total minutes, code) of the office E/M levels of a "new" or "established" patient, lowest first
    (``vocab/em_time.tsv``)."""
    return tuple(_em_table()[patient])


_TIME = re.compile(
    r"(?:\btime\b|total of|spent|face[- ]to[- ]face)[^.;]{0,150}?\b(\d{1,3})\s*(?:minutes|mins?)\b"
    r"|\b(\d{1,3})\s*(?:minutes|mins?)\b[^.;]{0,60}?\b(?:total|spent|face[- ]to[- ]face|on the date)"
)
_NOT_VISIT_TIME = re.compile(r"withdrawal|sedation|procedure time|tourniquet|fluoroscopy|cecal|insertion time")
_NEW = re.compile(
    r"\bnew patient\b|\bnew to (?:the |this |our )?(?:clinic|practice|office)\b|establish(?:ing)? care|first visit"
)
_ESTABLISHED = re.compile(
    r"established patient|\bfollow[- ]?up\b|\breturns?\b|last seen|\bseen (?:here |by me )?(?:on|in|last)\b"
)


def patient_status(text: str) -> tuple[str, bool]:
    """("new" | "established", whether the note says so) from the lower-case note text."""
    new = bool(_NEW.search(text)) and "established patient" not in text
    if new:
        return "new", True
    return "established", bool(_ESTABLISHED.search(text))


def em_by_time(note: Note, out: Findings) -> None:
    minutes, where = None, None
    for i, s in enumerate(note.sentences):
        low = s.text.lower()
        m = _TIME.search(low)
        if m and not _NOT_VISIT_TIME.search(low):
            minutes, where = int(m.group(1) or m.group(2)), (i, s, m)
    if minutes is None or where is None:
        return
    i, s, m = where
    patient, stated = patient_status(note.text.lower())
    if not stated:
        out.notices.append("The note does not say whether the patient is new or established: coded as established.")
    levels = [code for least, code in em_time_levels(patient) if minutes >= least]
    if not levels:
        out.notices.append(f"Documented time {minutes} minutes is below the least time of an office visit level.")
        return
    code = levels[-1]
    out.used.add(i)
    out.codes.append(
        Found(
            code,
            0.9 if stated else 0.75,
            (Evidence(s.start + m.start(), s.start + m.end(), s.text[m.start() : m.end()]),),
            f"Office visit, {patient} patient, level from documented total time {minutes} minutes.",
            family="em",
        )
    )
    out.notices.append(f"E/M level from documented time {minutes} minutes ({patient} patient).")


# --- arthrocentesis, aspiration or injection of a joint or bursa ------------------------------


@cache
def _joints() -> tuple[list[tuple[re.Pattern[str], str]], dict[tuple[str, bool], str]]:
    sites = [(re.compile(rf"\b(?:{r['site']})\b"), r["size"]) for r in read("joint_sizes.tsv", ("site", "size"))]
    codes = {
        (r["size"], r["ultrasound"] == "yes"): r["code"]
        for r in read("joint_codes.tsv", ("size", "ultrasound", "code"))
    }
    return sites, codes


def joint_tables() -> tuple[list[tuple[re.Pattern[str], str]], dict[tuple[str, bool], str]]:
    """[(site pattern, size)] of ``vocab/joint_sizes.tsv`` (in file order) and (size, ultrasound) -> code
    of ``vocab/joint_codes.tsv``."""
    return _joints()


_SIDES = {"right": re.compile(r"\bright\b|\brt\b|\br\b"), "left": re.compile(r"\bleft\b|\blt\b|\bl\b")}


def _only_side(note: Note) -> str | None:
    """The one side the procedure sections name (else the whole note), when only one is named."""
    for texts in ([s.text for s in note.sentences if s.section in ("procedure", "procedure_description")], [note.text]):
        low = " ".join(texts).lower()
        named = [
            side for side, p in _SIDES.items() if p.search(low.replace("right-handed", "").replace("left-handed", ""))
        ]
        if len(named) == 1:
            return named[0]
        if named:
            return None
    return None


@cache
def _digits() -> list[tuple[re.Pattern[str], dict[str, str]]]:
    rows = read("digit_modifiers.tsv", ("digit", "left", "right"))
    return [(re.compile(rf"\b(?:{r['digit']})\b"), {"left": r["left"], "right": r["right"]}) for r in rows]


def _digit(low: str, side: str | None) -> str | None:
    """The modifier of the one finger or toe named (with its side), else None."""
    if side not in ("left", "right"):
        return None
    named = {mods[side] for pattern, mods in _digits() if pattern.search(low)}
    return named.pop() if len(named) == 1 else None


def _procedure_text(note: Note) -> str:
    return " ".join(s.text for s in note.sentences if s.section in ("procedure", "procedure_description")).lower()


_INJECT = re.compile(r"\binject\w*|\baspirat\w*|arthrocentesis|\btapped\b")
_NOT_JOINT = re.compile(
    r"trigger point|epidural|tendon sheath|nerve block|facet|intramuscular|\bim\b|subcutaneous|vaccin"
)
_ULTRASOUND = re.compile(r"ultrasound|sonograph\w*|\bus[- ]guided\b|under us\b")


def joint_injections(note: Note, out: Findings) -> None:
    sites, codes = joint_tables()
    done: set[tuple[str, str | None]] = set()
    for i, s in enumerate(note.sentences):
        low = s.text.lower()
        if not _doing(s) or _NOT_JOINT.search(low):
            continue
        for m in _find(_INJECT, note, s):
            size = site = None
            for pattern, sz in sites:
                found = pattern.search(low)
                if found:
                    size, site = sz, found
                    break
            if size is None or site is None:
                continue
            us = any(True for _ in _find(_ULTRASOUND, note, s))
            side = _ctx(note, s, site).laterality or _only_side(note)
            key = (size + str(us), side)
            out.used.add(i)
            if key in done:
                continue
            done.add(key)
            guided = "with" if us else "without"
            digit = _digit(low + " " + _procedure_text(note), side) if size == "small" else None
            out.codes.append(
                Found(
                    codes[(size, us)],
                    0.9,
                    (
                        _ev(note, s.start + m.start(), s.start + m.end()),
                        _ev(note, s.start + site.start(), s.start + site.end()),
                    ),
                    f"{m.group(0).capitalize()} of a {size} joint or bursa ({site.group(0)}), {guided} ultrasound"
                    " guidance.",
                    laterality=None if digit else side,
                    family="joint",
                    modifiers=(digit,) if digit else (),
                )
            )
            break


# --- drugs injected ------------------------------------------------------------------------------


@cache
def _drugs() -> list[tuple[re.Pattern[str], str, float, float | None]]:
    return [
        (
            re.compile(rf"\b(?:{r['pattern']})\b"),
            r["code"],
            float(r["unit_mg"]),
            float(r["dose_mg"]) if r["dose_mg"] else None,
        )
        for r in read("injectable_drugs.tsv", ("pattern", "code", "unit_mg", "dose_mg?"))
    ]


_DOSE = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|mcg)\b")
_GIVEN = re.compile(r"inject\w*|administ\w*|given|\bim\b|intramuscular\w*|subcutaneous\w*|\bgave\b")
_NEBULIZER = re.compile(r"nebuli[sz]\w*|\bneb\b|inhalation treatment|aerosol treatment")
_IM = re.compile(r"\bim\b|intramuscular\w*|subcutaneous\w*|\bsubq\b|\bsq\b")


# A negation just before a drug name ("no steroid", "without triamcinolone"); a negation earlier in the
# sentence ("without imaging guidance and 10 mg triamcinolone was injected") does not reach it.
_NEGATED_NEAR = re.compile(r"\b(?:no|not|without|declined|held|refused)\s+(?:[^\s,;]+\s+)?$")


def _dose(low: str, m: re.Match[str]) -> float | None:
    """The dose (mg) written nearest to the drug mention ``m``."""
    doses = list(_DOSE.finditer(low))
    if not doses:
        return None
    d = min(doses, key=lambda d: min(abs(d.start() - m.end()), abs(m.start() - d.end())))
    return float(d.group(1)) / (1000 if d.group(2) == "mcg" else 1)


def drugs(note: Note, out: Findings) -> None:
    """Drugs given: the dose of each mention is added up (a stated total wins), units by the code's amount."""
    given: dict[str, list[tuple[float | None, bool, Evidence, str]]] = {}
    table = _drugs()
    admin = False
    inhaled: list[Evidence] = []
    for i, s in enumerate(note.sentences):
        low = s.text.lower()
        if not _doing(s) or s.section == "medications":
            continue
        for n, (pattern, code, _, dose) in enumerate(table):
            m = pattern.search(low)
            if not m:
                continue
            c = _ctx(note, s, m)
            if _NEGATED_NEAR.search(low[: m.start()]) or c.hypothetical or c.historical:
                continue
            mg = _dose(low, m)
            if dose is not None and mg != dose:
                continue
            given.setdefault(code, []).append(
                (
                    mg,
                    "total" in low,
                    _ev(note, s.start + m.start(), s.start + m.end()),
                    f"{n}:{bool(_GIVEN.search(low))}",
                )
            )
            if _NEBULIZER.search(low) and _GIVEN.search(low):
                inhaled.append(_ev(note, s.start + m.start(), s.start + m.end()))
                out.used.add(i)
            elif _IM.search(low) and _GIVEN.search(low):
                admin = True
                out.used.add(i)
    for code, mentions in given.items():
        if not any(tag.endswith("True") for *_, tag in mentions):
            continue  # named but never said to be given
        unit = table[int(mentions[0][3].split(":")[0])][2]
        totals = [mg for mg, total, _, _ in mentions if total and mg]
        mg_sum = totals[-1] if totals else sum(mg for mg, _, _, _ in mentions if mg) or None
        units = max(1, int(-(-mg_sum // unit))) if mg_sum else 1
        amount = f"{mg_sum:g} mg, " if mg_sum else ""
        ev = mentions[0][2]
        out.codes.append(
            Found(
                code,
                0.8,
                tuple(m[2] for m in mentions[:3]),
                f"Drug supplied: {ev.text} ({amount}{units} unit{'s' if units > 1 else ''}).",
                units=units,
                family="drug",
            )
        )
    if inhaled:
        why = "Inhalation treatment (nebulizer) given in the office."
        out.codes.append(Found("94640", 0.8, tuple(inhaled[:1]), why, family="inhalation"))
    if admin and not any(f.family == "joint" for f in out.codes):
        out.codes.append(
            Found("96372", 0.75, (), "Therapeutic injection, intramuscular or subcutaneous.", family="drug")
        )


def find(note: Note) -> Findings:
    """Every rule over ``note``."""
    from medcode.suggest.office import psychotherapy, services
    from medcode.suggest.surgery import drug_delivery, endoscopy, lesion_excisions, wound_repairs
    from medcode.suggest.visits import em_by_mdm, preventive, vaccines, visit_by_time

    rules: tuple[Rule, ...] = (
        preventive,
        visit_by_time,
        em_by_mdm,
        joint_injections,
        endoscopy,
        lesion_excisions,
        wound_repairs,
        drug_delivery,
        drugs,
        vaccines,
        services,
        psychotherapy,
    )
    out = Findings([], [], set())
    for rule in rules:
        rule(note, out)
    return out
