"""Visits: preventive medicine visits by age, E/M levels by the stated medical decision making (emergency
department and office), vaccines given with their administration. Data: ``vocab/preventive_visits.tsv``,
``vocab/em_levels.tsv``, ``vocab/vaccines.tsv``."""

from __future__ import annotations

import re
from functools import cache

from medcode.language.note import Note
from medcode.suggest.families import Findings, Found, _doing, _ev, _find, em_by_time, patient_status
from medcode.vocab.tsv import read

_ED = re.compile(r"emergency department|emergency room|\bed (?:note|visit|provider|course)\b|^\s*ed\b", re.MULTILINE)
_MDM = re.compile(
    r"\b(?:mdm|medical decision[- ]making)\b[^a-z]{0,5}(?:of |is |was )?(straightforward|low|moderate|high)\b"
    r"|\b(straightforward|low|moderate|high)[- ](?:complexity )?(?:mdm|medical decision[- ]making)\b"
)
_PREVENTIVE = re.compile(
    r"annual (?:preventive|physical|wellness|exam)|preventive (?:exam|visit|medicine)|yearly physical|well[- ]child|"
    r"routine (?:adult |child )?health (?:exam|check)|wellness (?:exam|visit)|well[- ](?:adult|woman|visit)"
)
_AGE = re.compile(
    r"\b(\d{1,3})[- ]?(?:years?[- ]old|yo\b|y/o\b|y\.o\.|-year\b|year check|yr old)|\b(\d{1,3})\s*years?\b"
)
_MONTHS = re.compile(r"\b(\d{1,2})[- ]?(?:months?[- ]old|mo old|-month)")
_VACCINE_GIVEN = re.compile(r"vaccin\w*|immuniz\w*|\bshot\b")
_GIVEN = re.compile(r"\bgiven\b|administered|\badministration\b")


@cache
def _levels() -> dict[tuple[str, str], str]:
    return {(r["setting"], r["level"]): r["code"] for r in read("em_levels.tsv", ("setting", "level", "code"))}


def em_level_code(setting: str, level: str) -> str:
    """The E/M code of a medical decision-making ``level`` in ``setting`` (ed | new | established), from
    ``vocab/em_levels.tsv``; KeyError for a pair the file does not have."""
    return _levels()[(setting, level)]


@cache
def _preventive() -> list[tuple[str, float, float, str]]:
    return [
        (r["patient"], float(r["from_age"]), float(r["to_age"]) if r["to_age"] else float("inf"), r["code"])
        for r in read("preventive_visits.tsv", ("patient", "from_age", "to_age?", "code"))
    ]


@cache
def _vaccines() -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(r["pattern"]), r["code"]) for r in read("vaccines.tsv", ("pattern", "code"))]


def is_ed(note: Note) -> bool:
    return bool(_ED.search(note.text[:400].lower()))


def _age(text: str) -> float | None:
    m = _MONTHS.search(text)
    if m:
        return int(m.group(1)) / 12
    m = _AGE.search(text)
    return float(m.group(1) or m.group(2)) if m else None


def preventive(note: Note, out: Findings) -> None:
    low = note.text.lower()
    m = _PREVENTIVE.search(low)
    if not m:
        return
    age = _age(low)
    if age is None:
        out.notices.append("A preventive visit: the patient's age decides the code and the note does not state it.")
        return
    patient, _ = patient_status(low)
    code = next(c for p, lo, hi, c in _preventive() if p == patient and lo <= age < hi)
    ev = (_ev(note, m.start(), m.end()),)
    why = f"Preventive medicine visit, {patient} patient, age {age:g}."
    out.codes.append(Found(code, 0.85, ev, why, family="em"))


def em_by_mdm(note: Note, out: Findings) -> None:
    """A visit whose level the note states as medical decision making (no time stated)."""
    if any(f.family == "em" for f in out.codes):
        return
    low = note.text.lower()
    stated = list(_MDM.finditer(low))
    if not stated:
        return
    m = stated[-1]
    level = m.group(1) or m.group(2)
    ed = is_ed(note)
    setting, _ = ("ed", True) if ed else patient_status(low)
    code = em_level_code(setting, level)
    where = "Emergency department visit" if ed else f"Office visit, {setting} patient"
    out.codes.append(
        Found(code, 0.85, (_ev(note, m.start(), m.end()),), f"{where}, {level} medical decision making.", family="em")
    )
    out.notices.append(f"E/M level from the documented medical decision making ({level}).")


def visit_by_time(note: Note, out: Findings) -> None:
    """Office E/M by time, unless the visit is preventive or in the emergency department (not timed codes)."""
    if any(f.family == "em" for f in out.codes) or is_ed(note):
        return
    em_by_time(note, out)


def vaccines(note: Note, out: Findings) -> None:
    found = False
    for i, s in enumerate(note.sentences):
        low = s.text.lower()
        if not _doing(s) or not _GIVEN.search(low):
            continue
        for m in _find(_VACCINE_GIVEN, note, s):
            code = next((c for p, c in _vaccines() if p.search(low)), None)
            if code is None:
                out.notices.append("A vaccine was given but the note does not say which product: code it by hand.")
                break
            out.used.add(i)
            if not any(f.code == code for f in out.codes):
                out.codes.append(
                    Found(
                        code,
                        0.75,
                        (_ev(note, s.start + m.start(), s.start + m.end()),),
                        "Vaccine product given.",
                        family="vaccine",
                    )
                )
                found = True
            break
    if found:
        out.codes.append(Found("90471", 0.75, (), "Administration of the first vaccine.", family="vaccine"))
