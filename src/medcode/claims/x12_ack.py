"""The 999 implementation acknowledgment (005010X231A1) of an 837P file checked as X12.

One ST*999 per functional group of the file: AK1 names the group, AK2 each transaction set,
IK3 each segment in error (IK4 each element in error, with its codes), IK5 accepts or rejects
the set, AK9 the group (A all accepted, P some, R none). The interchange is sent back from the
file's receiver to its sender, with the file's delimiters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from medcode.claims.x12_segments import X12Error
from medcode.claims.x12_validate import TransactionSet, Validation

ACK_VERSION = "005010X231A1"
MAX_IK5_CODES = 5  # IK502 to IK506


def write_999(v: Validation, control: int = 1, now: datetime | None = None) -> str:
    """The 999 of a validated file as X12 text, one segment a line."""
    d = v.delimiters
    now = now or datetime.now()
    isa = [*v.isa, *[""] * 17][:17]
    el, term = d.element, d.segment

    def seg(*parts: str) -> str:
        return el.join(parts) + term

    out = [
        seg(
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            isa[7] or "ZZ",
            (isa[8] or "").ljust(15)[:15],
            isa[5] or "ZZ",
            (isa[6] or "").ljust(15)[:15],
            f"{now:%y%m%d}",
            f"{now:%H%M}",
            d.repetition,
            "00501",
            f"{control:09d}",
            "0",
            isa[15] or "P",
            d.component,
        )
    ]
    first_gs = v.groups[0].gs if v.groups else []
    gs = [*first_gs, *[""] * 9]
    out.append(
        seg(
            "GS",
            "FA",
            gs[3] or "RECEIVER",
            gs[2] or "SENDER",
            f"{now:%Y%m%d}",
            f"{now:%H%M}",
            str(control),
            "X",
            ACK_VERSION,
        )
    )
    for k, group in enumerate(v.groups, start=1):
        body = [seg("ST", "999", f"{k:04d}", ACK_VERSION)]
        g = [*group.gs, *[""] * 9]
        body.append(seg("AK1", g[1], g[6], g[8]))
        accepted = 0
        for ts in group.sets:
            body += _set(ts, seg, d.component, d)
            accepted += ts.accepted
        received = len(group.sets)
        declared = group.ge[1] if group.ge and len(group.ge) > 1 and group.ge[1].isdigit() else str(received)
        # (a group in error, e.g. a GE count that does not match, is rejected whole)
        status = "R" if group.code or accepted == 0 else ("A" if accepted == received else "P")
        body.append(seg("AK9", status, declared, str(received), str(accepted), *([group.code] if group.code else [])))
        body.append(seg("SE", str(len(body) + 1), f"{k:04d}"))
        out += body
    out.append(seg("GE", str(len(v.groups)), str(control)))
    out.append(seg("IEA", "1", f"{control:09d}"))
    return "\n".join(out) + "\n"


def _clean(value: str, d: object) -> str:
    """A value as IK404 can carry it: without delimiters, at most 99 characters."""
    for c in (d.element, d.component, d.segment, d.repetition):  # type: ignore[attr-defined]
        value = value.replace(c, " ")
    return value[:99]


def _set(ts: TransactionSet, seg, comp: str, d: object) -> list[str]:  # type: ignore[no-untyped-def]
    out = [seg("AK2", ts.kind, ts.control, ts.version or "005010X222A1")]
    set_codes = list(dict.fromkeys(e.set_code for e in ts.errors if e.set_code))
    segment_errors = [e for e in ts.errors if not e.set_code and e.segment]
    for (n, sid, code), errs in _by_segment(segment_errors):
        loop = next((e.loop for e in errs if e.loop), "")
        out.append(seg("IK3", _clean(sid, d)[:3], str(n - ts.st + 1), loop, code))
        for e in errs:
            if e.element:
                where = str(e.element) + (f"{comp}{e.component}" if e.component else "")
                out.append(seg("IK4", where, "", e.element_code or "1", *([_clean(e.value, d)] if e.value else [])))
    if segment_errors:
        set_codes.append("5")
    if ts.errors:
        out.append(seg("IK5", "R", *set_codes[:MAX_IK5_CODES]))
    else:
        out.append(seg("IK5", "A"))
    return out


def _by_segment(errors: Iterable[X12Error]) -> list[tuple[tuple[int, str, str], list[X12Error]]]:
    """Errors grouped by segment: element errors under one IK3 (code 8), others one IK3 each."""
    groups: dict[tuple[int, str, str], list[X12Error]] = {}
    for e in sorted(errors, key=lambda e: (e.segment, e.element, e.component)):
        code = "8" if e.element else (e.segment_code or "8")
        groups.setdefault((e.segment, e.segment_id or "", code), []).append(e)
    return list(groups.items())


@dataclass(frozen=True)
class Ack:
    """A 999 read back: the codes that matter, for tests and tools."""

    segments: list[list[str]]

    def all(self, sid: str) -> list[list[str]]:
        return [s for s in self.segments if s[0] == sid]


def read_999(text: str) -> Ack:
    """Segments of a 999 (delimiters from its ISA), each as its elements."""
    start = text.lstrip()
    element, term = start[3], start[105]
    parts = [p.strip("\r\n ") for p in start.split(term)]
    return Ack([p.split(element) for p in parts if p])
