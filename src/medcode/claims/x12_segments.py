"""X12 837P (005010X222A1) as segments, in bulk: delimiters, segments split by Polars a chunk at
a time, and the errors that make a file unreadable as 837P (wrong or mixed delimiters, unknown
segments, a broken ISA/GS/ST ... SE/GE/IEA envelope or its counts and control numbers).

Each chunk is a frame with one row per segment: ``n`` (its number in the file, from 1), ``seg``
(its text), ``id`` and ``el`` (its elements, the segment id first). Chunks end just before a CLM
segment, so that a claim (CLM to the next CLM or SE) never spans two chunks.
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


class Envelope:
    """The ISA/GS/ST ... SE/GE/IEA envelope, checked a chunk at a time: nesting, counts and
    control numbers. ``sets`` lists each transaction set as (ST number, SE number or 0, ST02)."""

    def __init__(self) -> None:
        self.errors: list[X12Error] = []
        self.isa: list[str] | None = None
        self.gs: list[str] | None = None
        self.st: tuple[int, list[str]] | None = None
        self.groups = 0
        self.sets_in_group = 0
        self.sets: list[tuple[int, int, str]] = []
        self.groups_seen: list[dict] = []  # per GS: its elements and (ST number, ...) of its sets
        self.open_set = False  # (for the segments of the next chunk)
        self.ended = False
        self.last = 0

    def _error(self, n: int, sid: str, message: str, **kw: object) -> None:
        self.errors.append(X12Error(n, sid, message, fatal=True, **kw))  # type: ignore[arg-type]

    def feed(self, rows: list[tuple[int, str, list[str]]]) -> None:
        """Envelope segments (number, id, elements) in file order."""
        for n, sid, el in rows:
            self.last = n
            if self.ended:
                self._error(n, sid, "segment after IEA: an interchange ends with IEA")
            elif sid == "ISA":
                if self.isa is not None:
                    self._error(n, sid, "a second ISA: medcode reads one interchange a file")
                self.isa = el
            elif sid == "GS":
                self._gs(n, el)
            elif sid == "ST":
                self._st(n, el)
            elif sid == "SE":
                self._se(n, el)
            elif sid == "GE":
                self._ge(n, el)
            elif sid == "IEA":
                self._iea(n, el)

    def _gs(self, n: int, el: list[str]) -> None:
        if self.gs is not None:
            self._error(n, "GS", "GS inside a functional group: the group before it has no GE")
        if len(el) != 9:
            self._error(n, "GS", f"GS should have 8 elements, it has {len(el) - 1}")
        self.gs, self.sets_in_group = el, 0
        self.groups += 1
        self.groups_seen.append({"gs": el, "n": n, "sets": [], "code": ""})
        if len(el) > 1 and el[1] != "HC":
            self._error(n, "GS", f"GS01 is {el[1]!r}: an 837P group is HC (health care claim)", element=1)
        version = el[8] if len(el) > 8 else ""
        if version != VERSION:
            self._error(n, "GS", f"GS08 version {version!r} is not {VERSION} (837P 5010)", element=8)
            self.groups_seen[-1]["code"] = "2"

    def _st(self, n: int, el: list[str]) -> None:
        if self.gs is None:
            self._error(n, "ST", "ST outside a functional group (GS ... GE)")
        if self.st is not None:
            self._error(
                n,
                "ST",
                f"ST inside the transaction set of segment {self.st[0]}: it has no SE",
                st=self.st[0],
                set_code="2",
            )
            self._close_set(0)
        get = el.__getitem__ if len(el) > 3 else (el + ["", "", ""]).__getitem__
        if get(1) != "837":
            self._error(n, "ST", f"transaction set {get(1)!r} is not an 837", st=n, element=1, set_code="6")
        elif get(3) and get(3) != VERSION:
            self._error(n, "ST", f"ST03 {get(3)!r} is not {VERSION} (837P 5010)", st=n, element=3, set_code="I6")
        if not get(2):
            self._error(n, "ST", "ST02 (transaction set control number) is empty", st=n, element=2, set_code="7")
        self.st = (n, el)
        self.open_set = True
        self.sets_in_group += 1

    def _close_set(self, se: int) -> None:
        assert self.st is not None
        control = self.st[1][2] if len(self.st[1]) > 2 else ""
        self.sets.append((self.st[0], se, control))
        if self.groups_seen:
            self.groups_seen[-1]["sets"].append(len(self.sets) - 1)
        self.st = None
        self.open_set = False

    def _se(self, n: int, el: list[str]) -> None:
        if self.st is None:
            self._error(n, "SE", "SE without an ST")
            return
        st_n, st_el = self.st
        count = el[1] if len(el) > 1 else ""
        if count != str(n - st_n + 1):
            self._error(
                n,
                "SE",
                f"SE01 says {count!r} segments; the transaction set of segment {st_n} has {n - st_n + 1} (ST to SE)",
                st=st_n,
                element=1,
                value=count,
                set_code="4",
            )
        control = el[2] if len(el) > 2 else ""
        if control != (st_el[2] if len(st_el) > 2 else ""):
            self._error(
                n,
                "SE",
                f"SE02 {control!r} differs from ST02 {st_el[2] if len(st_el) > 2 else ''!r}",
                st=st_n,
                element=2,
                value=control,
                set_code="3",
            )
        self._close_set(n)

    def _ge(self, n: int, el: list[str]) -> None:
        if self.st is not None:
            self._error(
                n,
                "GE",
                f"GE inside the transaction set of segment {self.st[0]}: it has no SE",
                st=self.st[0],
                set_code="2",
            )
            self._close_set(0)
        if self.gs is None:
            self._error(n, "GE", "GE without a GS")
            return
        count = el[1] if len(el) > 1 else ""
        if count != str(self.sets_in_group):
            self._error(
                n,
                "GE",
                f"GE01 says {count!r} transaction sets; the group has {self.sets_in_group}",
                element=1,
                value=count,
            )
            self.groups_seen[-1]["code"] = self.groups_seen[-1]["code"] or "5"
        control = el[2] if len(el) > 2 else ""
        if control != self.gs[6] if len(self.gs) > 6 else True:
            self._error(
                n,
                "GE",
                f"GE02 {control!r} differs from GS06 {self.gs[6] if len(self.gs) > 6 else ''!r}",
                element=2,
                value=control,
            )
            self.groups_seen[-1]["code"] = self.groups_seen[-1]["code"] or "4"
        self.groups_seen[-1]["ge"] = el
        self.gs = None

    def _iea(self, n: int, el: list[str]) -> None:
        if self.gs is not None:
            self._error(n, "IEA", "IEA inside a functional group: it has no GE")
        count = el[1] if len(el) > 1 else ""
        if count != str(self.groups):
            self._error(
                n,
                "IEA",
                f"IEA01 says {count!r} functional groups; the interchange has {self.groups}",
                element=1,
                value=count,
            )
        control = el[2] if len(el) > 2 else ""
        isa13 = self.isa[13].strip() if self.isa and len(self.isa) > 13 else ""
        if control != isa13:
            self._error(n, "IEA", f"IEA02 {control!r} differs from ISA13 {isa13!r}", element=2, value=control)
        self.ended = True

    def finish(self) -> None:
        if self.st is not None:
            self._error(
                self.last,
                "",
                f"the transaction set of segment {self.st[0]} has no SE after it",
                st=self.st[0],
                set_code="2",
            )
            self._close_set(0)
        if self.gs is not None:
            self._error(self.last, "", "the functional group has no GE after it")
            self.groups_seen[-1]["code"] = self.groups_seen[-1]["code"] or "3"
        if not self.ended:
            self._error(self.last, "", "the interchange has no IEA after it")
        if not self.sets:
            self._error(0, "", "no ST*837 transaction in the file")


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
