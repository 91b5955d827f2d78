"""A small, strict reader of X12 837P (005010X222A1) professional claims.

Delimiters come from the ISA segment (element separator ISA's 4th character, component
separator ISA16, segment terminator the character after it). Read per claim (CLM): place of
service (CLM05-1), diagnoses (HI, ABK/ABF), rendering provider (NM1*82), ZIP of the service
facility (NM1*77 then N4) or else of the billing provider (NM1*85 then N4), and lines (LX, SV1
with HC:code:modifiers, charge, units, diagnosis pointers; DTP*472 date of service).
Positions are "file:segment N (ID) element M".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from medcode.claims.model import Claim, Line, Problem
from medcode.claims.readers import ClaimInputError, Fields

ISA_LENGTH = 106
READ_ELEMENTS = 10  # the reader looks at elements 1 to 9 (and at every element of HI)
EMPTY = [""] * READ_ELEMENTS
# segments never named in a problem (no position to write for them)
QUIET = frozenset({"NM1", "N3", "N4", "REF", "PER", "HL", "SBR", "BHT", "DMG", "PAT", "PRV"})


@dataclass
class _Draft:
    id: str
    where: str
    pos: str | None
    fields: Fields
    diagnoses: list[str] = field(default_factory=list)
    provider: str | None = None
    zip_code: str | None = None
    lines: list[dict] = field(default_factory=list)


def delimiters(text: str, source: str) -> tuple[str, str, str]:
    """(element, component, segment) separators from the ISA segment."""
    start = text.lstrip()
    if not start:
        raise ClaimInputError(source, "the file is empty")
    if not start.startswith("ISA") or len(start) < ISA_LENGTH:
        raise ClaimInputError(f"{source}:segment 1", "an 837P file starts with a 106-character ISA segment")
    element, component, segment = start[3], start[104], start[105]
    if start.count(element, 0, ISA_LENGTH) != 16:
        raise ClaimInputError(f"{source}:segment 1 (ISA)", f"ISA must have 16 elements separated by {element!r}")
    if segment.isalnum() or segment in (element, component):
        raise ClaimInputError(f"{source}:segment 1 (ISA)",
                              f"segment terminator {segment!r} (after ISA16) is not usable")
    if start[ISA_LENGTH:].lstrip()[:2] != "GS":
        raise ClaimInputError(f"{source}:segment 2", f"no GS segment after ISA: is {segment!r} really the segment "
                                                     "terminator?")
    return element, component, segment


def read_837(text: str, source: str = "<837>") -> list[Claim]:
    return list(iter_837(text, source))


def iter_837(text: str, source: str = "<837>") -> Iterator[Claim]:
    element, component, terminator = delimiters(text, source)
    segments = [s.strip("\r\n ") for s in text.strip().split(terminator)]
    if segments and segments[-1] == "":
        segments.pop()
    gs = segments[1].split(element) if len(segments) > 1 else []
    if len(gs) != 9 or gs[0] != "GS":
        raise ClaimInputError(f"{source}:segment 2 (GS)",
                              f"GS should have 8 elements, it has {len(gs) - 1}: is {terminator!r} (after ISA16) "
                              "really the segment terminator?")
    draft: _Draft | None = None
    last_nm1 = ""
    billing_zip = None
    saw_st = False
    for n, raw in enumerate(segments, start=1):
        if not raw:
            raise ClaimInputError(f"{source}:segment {n}", "empty segment")
        el = raw.split(element)
        count = len(el)
        if count < READ_ELEMENTS:
            el += EMPTY[count:]  # elements read below and missing from the segment are empty
        sid = el[0]
        at = f"{source}:segment {n} ({sid})" if sid not in QUIET else ""  # (a position, when one can be needed)
        get = el.__getitem__
        if sid == "ST":
            if get(1) != "837":
                raise ClaimInputError(f"{at} element 1", f"transaction set {get(1)!r} is not an 837")
            saw_st = True
        elif sid == "NM1":
            last_nm1 = get(1)
            if last_nm1 == "82" and draft is not None:
                draft.provider = get(9) or None
        elif sid == "N4":
            zip5 = get(3)[:5] or None
            if last_nm1 == "85":
                billing_zip = zip5
            elif last_nm1 == "77" and draft is not None:
                draft.zip_code = zip5
        elif sid == "CLM":
            if draft is not None:
                yield _finish(draft, billing_zip)
            if not get(1):
                raise ClaimInputError(f"{at} element 1", "CLM01 (claim id) is empty")
            pos = get(5).split(component)[0] or None
            draft = _Draft(get(1), at, pos, Fields())
        elif sid in ("HI", "LX", "SV1", "DTP") and draft is None:
            if sid == "DTP":
                continue  # dates before the first claim belong to the subscriber or patient
            raise ClaimInputError(at, f"{sid} before any CLM segment: a claim is missing its CLM")
        elif sid == "HI":
            for i, comp in enumerate(el[1:count], start=1):
                parts = comp.split(component)
                if len(parts) < 2 or parts[0] not in ("ABK", "ABF", "BK", "BF"):
                    draft.fields.problem(f"{at} element {i}", "diagnoses", f"{comp!r} is not a diagnosis (ABK/ABF)")
                    continue
                if parts[0] in ("BK", "BF"):
                    draft.fields.problem(f"{at} element {i}", "diagnoses", f"{parts[1]} is an ICD-9 code (BK/BF)")
                draft.diagnoses.append(parts[1].upper())
        elif sid == "LX":
            draft.lines.append({"at": at, "n": len(draft.lines) + 1})
        elif sid == "SV1":
            if not draft.lines:
                draft.lines.append({"at": at, "n": 1})  # tolerate a missing LX, keep the line
            line = draft.lines[-1]
            if "code" in line:
                draft.fields.problem(at, "SV1", "a second SV1 in one LX loop: the line is read as a new line",
                                     line["n"])
                draft.lines.append({"at": at, "n": len(draft.lines) + 1})
                line = draft.lines[-1]
            proc = get(1).split(component)
            if proc[0] not in ("HC", "WK"):
                draft.fields.problem(f"{at} element 1", "code", f"qualifier {proc[0]!r} is not HC (CPT/HCPCS)",
                                     line["n"])
            line.update(code=proc[1] if len(proc) > 1 else "", modifiers=[m for m in proc[2:6] if m],
                        charge=get(2), units=get(4) or "1", pointers=get(7).split(component) if get(7) else [],
                        at=at)
        elif sid == "DTP" and get(1) == "472":
            value = get(3)
            text_day = value.split("-")[0] if get(2) == "RD8" else value
            day = _yyyymmdd(text_day)
            if day is None:
                draft.fields.problem(f"{at} element 3", "date", f"{value!r} is not a date (CCYYMMDD)",
                                     draft.lines[-1]["n"] if draft.lines else None)
            elif draft.lines:
                draft.lines[-1]["date"] = day
        elif sid in ("SE", "GE", "IEA") and draft is not None:
            yield _finish(draft, billing_zip)
            draft = None
    if not saw_st:
        raise ClaimInputError(source, "no ST*837 transaction in the file")
    if draft is not None:
        yield _finish(draft, billing_zip)


def _yyyymmdd(text: str) -> date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _finish(d: _Draft, billing_zip: str | None) -> Claim:
    f = d.fields
    lines = []
    if not d.lines:
        f.problem(d.where, "lines", "the claim has no service lines (LX/SV1)")
    for x in d.lines:
        n, at = x["n"], x["at"]
        if "code" not in x:
            f.problem(at, "SV1", "LX without an SV1 service line", n)
            lines.append(Line(n, "", units=None))
            continue
        plain = f.plain_line(n, x["code"], x["modifiers"], x["units"], x["pointers"], x["charge"], x.get("date"))
        if plain is not None:
            lines.append(plain)
            continue
        lines.append(Line(
            line=n, code=f.code(x["code"], f"{at} element 1", n),
            modifiers=f.modifiers(x["modifiers"], f"{at} element 1", n),
            units=f.units(x["units"], f"{at} element 4", n),
            pointers=f.pointers(x["pointers"], f"{at} element 7", n),
            charge=f.charge(x["charge"], f"{at} element 2", n), date=x.get("date")))
    days = {x.date for x in lines if x.date}
    return Claim(id=d.id, lines=tuple(lines), date=min(days) if days else None, place_of_service=d.pos,
                 provider=d.provider, zip_code=d.zip_code or billing_zip, diagnoses=tuple(d.diagnoses),
                 problems=tuple(f.problems))


__all__ = ["Problem", "delimiters", "iter_837", "read_837"]
