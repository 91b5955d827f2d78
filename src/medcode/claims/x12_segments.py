"""X12 837P (005010X222A1) as segments, in bulk: delimiters, segments split by Polars a chunk at
a time, and the errors that make a file unreadable as 837P (wrong or mixed delimiters, unknown
segments; the envelope is ``x12_envelope``).

Each chunk is a frame with one row per segment: ``n`` (its number in the file, from 1), ``seg``
(its text) and ``id`` (the text before the first element separator; ``elements`` splits the
rest). Chunks end just before a CLM segment, so that a claim (CLM to the next CLM or SE) never
spans two chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from medcode.claims.readers import ClaimInputError

ISA_LENGTH = 106
VERSION = "005010X222A1"
ENVELOPE = ("ISA", "GS", "ST", "SE", "GE", "IEA")
# every segment of the 837P implementation guide, envelope included
SEGMENTS = frozenset(
    {
        *ENVELOPE,
        "BHT",
        "NM1",
        "N2",
        "N3",
        "N4",
        "PER",
        "HL",
        "PRV",
        "CUR",
        "REF",
        "SBR",
        "PAT",
        "DMG",
        "CLM",
        "DTP",
        "PWK",
        "CN1",
        "AMT",
        "K3",
        "NTE",
        "CR1",
        "CR2",
        "CRC",
        "HI",
        "HCP",
        "CAS",
        "OI",
        "MOA",
        "LX",
        "SV1",
        "SV5",
        "CR3",
        "QTY",
        "MEA",
        "PS1",
        "LIN",
        "CTP",
        "SVD",
        "LQ",
        "FRM",
    }
)
CHUNK_BYTES = 8 << 20
SHOWN_ERRORS = 5  # errors named in the message of a file that cannot be read


@dataclass(frozen=True)
class Delimiters:
    element: str
    component: str
    repetition: str
    segment: str


@dataclass(frozen=True)
class X12Error:
    """One way a file departs from 837P 005010X222A1, with the codes a 999 reports it with."""

    segment: int  # the segment's number in the file (from 1); 0 for the file as a whole
    segment_id: str
    message: str
    st: int = 0  # number of the ST segment of its transaction set (0: outside one)
    loop: str = ""  # IK303: the loop the segment is in
    segment_code: str = ""  # IK304: implementation segment syntax error code
    element: int = 0  # IK401: element position (0: the segment as a whole)
    component: int = 0  # IK401-2: component position in a composite (0: none)
    element_code: str = ""  # IK403: implementation data element syntax error code
    value: str = ""  # IK404: a copy of the bad value
    set_code: str = ""  # IK5 error code, for errors of the transaction set itself
    fatal: bool = False  # claims cannot be read from the file

    def where(self, source: str) -> str:
        if not self.segment:
            return source
        if self.segment_code == "3" or not self.segment_id:  # (a missing segment: where it was expected)
            return f"{source}:segment {self.segment}"
        out = f"{source}:segment {self.segment} ({self.segment_id})"
        if self.element:
            out += f" element {self.element}" + (f"-{self.component}" if self.component else "")
        return out


def delimiters(text: str, source: str) -> Delimiters:
    """Separators from the ISA segment: elements (ISA's 4th character), repetitions (ISA11),
    components (ISA16) and segments (the character after ISA16)."""
    start = text.lstrip()
    if not start:
        raise ClaimInputError(source, "the file is empty")
    if not start.startswith("ISA") or len(start) < ISA_LENGTH:
        raise ClaimInputError(f"{source}:segment 1", "an 837P file starts with a 106-character ISA segment")
    element, component, segment = start[3], start[104], start[105]
    if start.count(element, 0, ISA_LENGTH) != 16:
        raise ClaimInputError(f"{source}:segment 1 (ISA)", f"ISA must have 16 elements separated by {element!r}")
    if segment.isalnum() or segment in (element, component) or component.isalnum() or component == element:
        raise ClaimInputError(
            f"{source}:segment 1 (ISA)",
            f"segment terminator {segment!r} or component separator {component!r} (ISA16) is not usable",
        )
    if start[ISA_LENGTH:].lstrip()[:2] != "GS":
        raise ClaimInputError(
            f"{source}:segment 2", f"no GS segment after ISA: is {segment!r} really the segment terminator?"
        )
    return Delimiters(element, component, start[82], segment)


def split_segments(text: str, d: Delimiters, first: int) -> pl.DataFrame:
    """The segments of ``text`` (whole segments) as a frame, numbered from ``first``: ``n``,
    ``seg`` (the text, without the line breaks and spaces around it) and ``id`` (the text before
    the first element separator)."""
    frame = pl.DataFrame({"seg": [text]}).select(pl.col("seg").str.split(d.segment)).explode("seg")
    if any(c in text for c in "\r\n") or text[:1] == " " or f" {d.segment}" in text or f"{d.segment} " in text:
        frame = frame.select(pl.col("seg").str.strip_chars("\r\n "))
    if frame.height and frame["seg"][-1] == "":  # (after the last terminator)
        frame = frame.head(frame.height - 1)
    seg = pl.col("seg")
    sid = seg.str.slice(0, seg.str.find(d.element, literal=True))  # (the whole segment when it has no separator)
    return frame.with_columns(n=pl.int_range(first, first + pl.len(), dtype=pl.Int64), id=sid)


def elements(d: Delimiters) -> pl.Expr:
    """The elements of a segment frame's rows (the id first)."""
    return pl.col("seg").str.split(d.element)


def chunk_texts(text: str, d: Delimiters, size: int = CHUNK_BYTES) -> Iterator[str]:
    """Pieces of ``text`` of about ``size`` characters that end with a segment terminator and
    after which a CLM segment starts (or the file ends)."""
    cut = re.compile(re.escape(d.segment) + r"[\r\n ]*(?=CLM" + re.escape(d.element) + ")")
    start = len(text) - len(text.lstrip())  # (white space before ISA)
    while start < len(text):
        m = cut.search(text, start + size) if start + size < len(text) else None
        end = m.end() if m else len(text)
        yield text[start:end]
        start = end


def syntax_errors(frame: pl.DataFrame, d: Delimiters, open_set: bool) -> list[X12Error]:
    """Errors of single segments that make them unreadable: empty, unknown ids (often a sign of
    mixed delimiters), line breaks inside a segment, segments outside a transaction set, and
    claim segments (HI, LX, SV1) outside a claim."""
    sid = pl.col("id")
    inside = (
        (sid == "ST").cast(pl.Int32).cum_sum()
        - (sid == "SE").cast(pl.Int32).cum_sum().shift(1, fill_value=0)
        + int(open_set)
    ) > 0
    marker = pl.when(sid == "CLM").then(True).when(sid.is_in(["SE", "GE", "IEA", "ST"])).then(False)
    in_claim = marker.forward_fill().fill_null(False)
    envelope = sid.is_in(list(ENVELOPE))
    flagged = frame.with_columns(inside=inside, in_claim=in_claim)
    bad = flagged.filter(
        (pl.col("seg") == "")
        | ~sid.is_in(list(SEGMENTS))
        | pl.col("seg").str.contains(r"[\r\n]")
        | (~envelope & ~pl.col("inside"))
        | (sid.is_in(["HI", "LX", "SV1"]) & ~pl.col("in_claim"))
    )
    out = []
    others = "".join(c for c in "*|^~:!>+\\" if c not in (d.element, d.component, d.segment, d.repetition))
    for n, seg, s, is_inside, is_claim in bad.select("n", "seg", "id", "inside", "in_claim").iter_rows():
        s = seg.split(d.element)[0] if s not in SEGMENTS else s
        if seg == "":
            out.append(X12Error(n, "", "empty segment", segment_code="1", fatal=True))
        elif "\n" in seg or "\r" in seg:
            out.append(
                X12Error(
                    n,
                    s[:3],
                    f"a line break inside the segment: is {d.segment!r} (after ISA16) really the segment terminator?",
                    segment_code="1",
                    fatal=True,
                )
            )
        elif s not in SEGMENTS:
            hint = ""
            if len(s) > 3 or any(c in s for c in others):
                hint = (
                    f": are the delimiters mixed? ISA says elements are separated by {d.element!r}, "
                    f"components by {d.component!r} and segments end in {d.segment!r}"
                )
            out.append(
                X12Error(
                    n,
                    s[:3],
                    f"unknown segment {s[:30]!r}, not a segment of 837P{hint}",
                    segment_code="1",
                    value=s[:30],
                    fatal=True,
                )
            )
        elif s in ("HI", "LX", "SV1") and not is_claim:
            out.append(
                X12Error(n, s, f"{s} before any CLM segment: a claim is missing its CLM", segment_code="2", fatal=True)
            )
        elif not is_inside:
            out.append(X12Error(n, s, "segment outside a transaction set (ST ... SE)", segment_code="2", fatal=True))
    return out


def raise_first(errors: list[X12Error], source: str) -> None:
    """ClaimInputError for the first (in file order) of errors that make the file unreadable."""
    fatal = sorted((e for e in errors if e.fatal), key=lambda e: e.segment)
    if not fatal:
        return
    first = fatal[0]
    more = ""
    if len(fatal) > 1:
        rest = "; ".join(f"{e.where(source)}: {e.message}" for e in fatal[1:SHOWN_ERRORS])
        more = f" (and {len(fatal) - 1} more: {rest}{' ...' if len(fatal) > SHOWN_ERRORS else ''})"
    raise ClaimInputError(first.where(source), first.message + more)
