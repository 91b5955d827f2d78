"""A small, strict reader of X12 837P (005010X222A1) professional claims.

Delimiters come from the ISA segment (element separator ISA's 4th character, component
separator ISA16, segment terminator the character after it). Read per claim (CLM): place of
service (CLM05-1), diagnoses (HI, ABK/ABF), rendering provider (NM1*82), ZIP of the service
facility (NM1*77 then N4) or else of the billing provider (NM1*85 then N4), the NPIs (NM109) of
the billing (NM1*85, 2010AA), rendering (NM1*82, 2310B) and referring (NM1*DN, 2310A) providers,
and lines (LX, SV1 with HC:code:modifiers, charge, units, diagnosis pointers; DTP*472 date of
service). The file is split and its syntax checked in bulk first (``x12_segments``); the
implementation guide's rules are checked by ``x12_validate``.
Positions are "file:segment N (ID) element M".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from medcode.claims.model import Claim, Line, Problem
from medcode.claims.readers import ClaimInputError, Fields
from medcode.claims.x12_envelope import Envelope
from medcode.claims.x12_segments import (
    ENVELOPE,
    Delimiters,
    chunk_texts,
    delimiters,
    elements,
    raise_first,
    split_segments,
    syntax_errors,
)

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
    rendering_npi: str | None = None
    referring_npi: str | None = None


@dataclass
class ReadState:
    """What the reader carries from segment to segment outside a claim: the billing provider's
    ZIP code and NPI (2010AA) and the entity of the last NM1 (which N4 follows)."""

    billing_zip: str | None = None
    billing_npi: str | None = None
    last_nm1: str = ""


def read_837(text: str, source: str = "<837>") -> list[Claim]:
    return list(iter_837(text, source))


def iter_837(text: str, source: str = "<837>") -> Iterator[Claim]:
    """Claims of an 837P, a chunk of segments at a time; ``ClaimInputError`` for a file that is
    not readable as 837P (see ``x12_segments``), naming the first error's segment."""
    d = delimiters(text, source)
    envelope = Envelope()
    state = ReadState()
    first = 1
    for chunk in chunk_texts(text, d):
        frame = split_segments(chunk, d, first)
        first += frame.height
        errors = syntax_errors(frame, d, envelope.open_set)
        envelope.feed(frame.filter(pl.col("id").is_in(list(ENVELOPE))).select("n", "id", elements(d)).rows())
        raise_first(errors + envelope.errors, source)
        yield from read_segments(frame.select("n", "seg").iter_rows(), d, source, state)
    envelope.finish()
    raise_first(envelope.errors, source)


def read_segments(segments: Iterable[tuple[int, str]], d: Delimiters, source: str, state: ReadState) -> Iterator[Claim]:
    """Claims of numbered segments (syntax checked already); ``state`` carries on to the next call."""
    element, component = d.element, d.component
    draft: _Draft | None = None
    for n, raw in segments:
        el = raw.split(element)
        count = len(el)
        if count < READ_ELEMENTS:
            el += EMPTY[count:]  # elements read below and missing from the segment are empty
        sid = el[0]
        at = f"{source}:segment {n} ({sid})" if sid not in QUIET else ""  # (a position, when one can be needed)
        get = el.__getitem__
        if sid == "NM1":
            state.last_nm1 = who = get(1)
            if who == "85":
                state.billing_npi = get(9) or None
            elif draft is not None and who in ("82", "DN"):
                if who == "82":
                    draft.provider = get(9) or None
                if not draft.lines:  # (2310A/2310B, not a line's 2420 loops)
                    setattr(draft, "rendering_npi" if who == "82" else "referring_npi", get(9) or None)
        elif sid == "N4":
            zip5 = get(3)[:5] or None
            if state.last_nm1 == "85":
                state.billing_zip = zip5
            elif state.last_nm1 == "77" and draft is not None:
                draft.zip_code = zip5
        elif sid == "CLM":
            if draft is not None:
                yield _finish(draft, state)
            if not get(1):
                raise ClaimInputError(f"{at} element 1", "CLM01 (claim id) is empty")
            pos = get(5).split(component)[0] or None
            draft = _Draft(get(1), at, pos, Fields())
        elif sid in ("HI", "LX", "SV1", "DTP"):
            if draft is None:
                if sid == "DTP":
                    continue  # dates before the first claim belong to the subscriber or patient
                raise ClaimInputError(at, f"{sid} before any CLM segment: a claim is missing its CLM")
            if sid == "HI":
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
                    draft.fields.problem(
                        at, "SV1", "a second SV1 in one LX loop: the line is read as a new line", line["n"]
                    )
                    draft.lines.append({"at": at, "n": len(draft.lines) + 1})
                    line = draft.lines[-1]
                proc = get(1).split(component)
                if proc[0] not in ("HC", "WK"):
                    draft.fields.problem(
                        f"{at} element 1", "code", f"qualifier {proc[0]!r} is not HC (CPT/HCPCS)", line["n"]
                    )
                line.update(
                    code=proc[1] if len(proc) > 1 else "",
                    modifiers=[m for m in proc[2:6] if m],
                    charge=get(2),
                    units=get(4) or "1",
                    pointers=get(7).split(component) if get(7) else [],
                    at=at,
                )
            elif sid == "DTP" and get(1) == "472":
                value = get(3)
                text_day = value.split("-")[0] if get(2) == "RD8" else value
                day = _yyyymmdd(text_day)
                if day is None:
                    draft.fields.problem(
                        f"{at} element 3",
                        "date",
                        f"{value!r} is not a date (CCYYMMDD)",
                        draft.lines[-1]["n"] if draft.lines else None,
                    )
                elif draft.lines:
                    draft.lines[-1]["date"] = day
        elif sid in ("SE", "GE", "IEA") and draft is not None:
            yield _finish(draft, state)
            draft = None
    if draft is not None:
        yield _finish(draft, state)


def _yyyymmdd(text: str) -> date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _finish(d: _Draft, state: ReadState) -> Claim:
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
        lines.append(
            Line(
                line=n,
                code=f.code(x["code"], f"{at} element 1", n),
                modifiers=f.modifiers(x["modifiers"], f"{at} element 1", n),
                units=f.units(x["units"], f"{at} element 4", n),
                pointers=f.pointers(x["pointers"], f"{at} element 7", n),
                charge=f.charge(x["charge"], f"{at} element 2", n),
                date=x.get("date"),
            )
        )
    days = {x.date for x in lines if x.date}
    return Claim(
        id=d.id,
        lines=tuple(lines),
        date=min(days) if days else None,
        place_of_service=d.pos,
        provider=d.provider,
        zip_code=d.zip_code or state.billing_zip,
        diagnoses=tuple(d.diagnoses),
        problems=tuple(f.problems),
        billing_npi=state.billing_npi,
        rendering_npi=d.rendering_npi,
        referring_npi=d.referring_npi,
    )


__all__ = ["Problem", "delimiters", "iter_837", "read_837"]
