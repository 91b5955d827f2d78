"""The loops of 837P 005010X222A1 and a checker of segment order against them.

A transaction set is checked in blocks that start at ST, HL or CLM: each block's segment keys
(the id, with the entity code for NM1 and the level code for HL) are run through a small
state machine of nested loops, from the state such a block starts in, up to the first key of
the next block (which closes the loops it ends). Blocks with the same keys give the same
errors, so each distinct block is checked once: a file of a million lines has a few hundred.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache


@dataclass(frozen=True)
class Seg:
    keys: tuple[str, ...]
    required: bool = False
    max: int = 1


@dataclass(frozen=True)
class Loop:
    name: str
    segments: tuple[Seg, ...]  # the first is the loop's trigger
    children: tuple[tuple[tuple[str, ...], bool, int], ...] = ()  # (loops, required, max repeats), in order


def _s(key: str, required: bool = False, max_: int = 1) -> Seg:
    return Seg(tuple(key.split("|")), required, max_)


MANY = 10**9
_NAME = (_s("N3"), _s("N4"))  # address (N3, N4) after a name
LOOPS: dict[str, Loop] = {
    loop.name: loop
    for loop in (
        Loop(
            "HEADER",
            (_s("ST", True), _s("BHT", True)),
            ((("1000A",), True, 1), (("1000B",), True, 1), (("2000A", "2000B", "2000C"), True, MANY)),
        ),
        Loop("1000A", (_s("NM1*41", True), _s("PER", True, 2))),
        Loop("1000B", (_s("NM1*40", True),)),
        Loop(
            "2000A",
            (_s("HL*20", True), _s("PRV"), _s("CUR")),
            ((("2010AA",), True, 1), (("2010AB",), False, 1), (("2010AC",), False, 1)),
        ),
        Loop("2010AA", (_s("NM1*85", True), _s("N3", True), _s("N4", True), _s("REF", True, 3), _s("PER", False, 2))),
        Loop("2010AB", (_s("NM1*87", True), _s("N3", True), _s("N4", True))),
        Loop("2010AC", (_s("NM1*PE", True), _s("N3"), _s("N4"), _s("REF", False, 2))),
        Loop(
            "2000B",
            (_s("HL*22", True), _s("SBR", True), _s("PAT")),
            ((("2010BA",), True, 1), (("2010BB",), True, 1), (("2300",), False, 100)),
        ),
        Loop("2010BA", (_s("NM1*IL", True), *_NAME, _s("DMG"), _s("REF", False, 2), _s("PER"))),
        Loop("2010BB", (_s("NM1*PR", True), *_NAME, _s("REF", False, 3))),
        Loop("2000C", (_s("HL*23", True), _s("PAT", True)), ((("2010CA",), True, 1), (("2300",), True, 100))),
        Loop(
            "2010CA",
            (_s("NM1*QC", True), _s("N3", True), _s("N4", True), _s("DMG", True), _s("REF", False, 2), _s("PER")),
        ),
        Loop(
            "2300",
            (
                _s("CLM", True),
                _s("DTP", False, 17),
                _s("PWK", False, 10),
                _s("CN1"),
                _s("AMT"),
                _s("REF", False, 14),
                _s("K3", False, 10),
                _s("NTE"),
                _s("CR1"),
                _s("CR2"),
                _s("CRC", False, 8),
                _s("HI", True, 4),
                _s("HCP"),
            ),
            (
                (("2310A",), False, 2),
                (("2310B",), False, 1),
                (("2310C",), False, 1),
                (("2310D",), False, 1),
                (("2310E",), False, 1),
                (("2310F",), False, 1),
                (("2320",), False, 10),
                (("2400",), True, 50),
            ),
        ),
        Loop("2310A", (_s("NM1*DN|NM1*P3", True), _s("REF", False, 3))),
        Loop("2310B", (_s("NM1*82", True), _s("PRV"), _s("REF", False, 4))),
        Loop("2310C", (_s("NM1*77", True), _s("N3", True), _s("N4", True), _s("REF", False, 3), _s("PER"))),
        Loop("2310D", (_s("NM1*DQ", True), _s("REF", False, 3))),
        Loop("2310E", (_s("NM1*PW", True), _s("N3", True), _s("N4", True))),
        Loop("2310F", (_s("NM1*45", True), _s("N3", True), _s("N4", True))),
        Loop(
            "2320",
            (_s("SBR", True), _s("CAS", False, 5), _s("AMT", False, 3), _s("OI", True), _s("MOA")),
            ((("2330A",), True, 1), (("2330B",), True, 1), (("2330C", "2330D", "2330E", "2330F", "2330G"), False, 10)),
        ),
        Loop("2330A", (_s("NM1*IL", True), _s("N3"), _s("N4"), _s("REF"))),
        Loop("2330B", (_s("NM1*PR", True), _s("N3"), _s("N4"), _s("DTP"), _s("REF", False, 6))),
        Loop("2330C", (_s("NM1*DN|NM1*P3", True), _s("REF", True, 3))),
        Loop("2330D", (_s("NM1*82", True), _s("REF", True, 3))),
        Loop("2330E", (_s("NM1*77", True), _s("REF", True, 3))),
        Loop("2330F", (_s("NM1*DQ", True), _s("REF", True, 3))),
        Loop("2330G", (_s("NM1*85", True), _s("REF", True, 2))),
        Loop(
            "2400",
            (
                _s("LX", True),
                _s("SV1", True),
                _s("SV5"),
                _s("PWK", False, 10),
                _s("CR1"),
                _s("CR3"),
                _s("CRC", False, 3),
                _s("DTP", True, 12),
                _s("QTY", False, 2),
                _s("MEA", False, 5),
                _s("CN1"),
                _s("REF", False, 17),
                _s("AMT", False, 2),
                _s("K3", False, 10),
                _s("NTE", False, 2),
                _s("PS1"),
                _s("HCP"),
            ),
            (
                (("2410",), False, 1),
                (("2420A",), False, 1),
                (("2420B",), False, 1),
                (("2420C",), False, 1),
                (("2420D",), False, 1),
                (("2420E",), False, 1),
                (("2420F",), False, 2),
                (("2420G",), False, 1),
                (("2420H",), False, 1),
                (("2430",), False, 15),
                (("2440",), False, 99),
            ),
        ),
        Loop("2410", (_s("LIN", True), _s("CTP", True), _s("REF"))),
        Loop("2420A", (_s("NM1*82", True), _s("PRV"), _s("REF", False, 20))),
        Loop("2420B", (_s("NM1*QB", True), _s("REF", False, 20))),
        Loop("2420C", (_s("NM1*77", True), _s("N3", True), _s("N4", True), _s("REF", False, 3))),
        Loop("2420D", (_s("NM1*DQ", True), _s("REF", False, 20))),
        Loop("2420E", (_s("NM1*DK", True), _s("N3"), _s("N4"), _s("REF", False, 5), _s("PER"))),
        Loop("2420F", (_s("NM1*DN|NM1*P3", True), _s("REF", False, 20))),
        Loop("2420G", (_s("NM1*PW", True), _s("N3", True), _s("N4", True))),
        Loop("2420H", (_s("NM1*45", True), _s("N3", True), _s("N4", True))),
        Loop("2430", (_s("SVD", True), _s("CAS", False, 5), _s("DTP", True), _s("AMT"))),
        Loop("2440", (_s("LQ", True), _s("FRM", True, 99))),
    )
}


@dataclass
class _Frame:
    loop: Loop
    pos: int = 0  # the segment last seen
    uses: dict[int, int] = field(default_factory=dict)
    child: int = -1  # the child slot last entered
    repeats: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LoopError:
    offset: int  # in the block (its length: the first segment of the next block)
    segment_id: str
    loop: str
    code: str  # IK304
    message: str


def _missing_segments(frame: _Frame, upto: int, offset: int, out: list[LoopError]) -> None:
    """Required segments of the frame's loop after the last one seen and before ``upto``."""
    loop = frame.loop
    for j in range(frame.pos + 1, min(upto, len(loop.segments))):
        s = loop.segments[j]
        if s.required and not frame.uses.get(j):
            out.append(
                LoopError(
                    offset,
                    s.keys[0].split("*")[0],
                    loop.name,
                    "3",
                    f"{s.keys[0]} missing before this segment: loop {loop.name} requires it",
                )
            )


def _missing_children(frame: _Frame, upto: int, offset: int, out: list[LoopError]) -> None:
    """Required child loops from the one last entered up to (not with) slot ``upto``."""
    loop = frame.loop
    for ci in range(max(frame.child, 0), min(upto, len(loop.children))):
        names, required, _ = loop.children[ci]
        if required and not frame.repeats.get(ci):
            first = LOOPS[names[0]].segments[0].keys[0]
            out.append(
                LoopError(
                    offset,
                    first.split("*")[0],
                    names[0],
                    "3",
                    f"loop {' or '.join(names)} ({first}) missing before this segment: loop {loop.name} requires it",
                )
            )


def _before(frame: _Frame, how: tuple[str, int], offset: int, out: list[LoopError]) -> None:
    """What the frame's loop requires before it takes a segment or enters a child loop."""
    kind, i = how
    if kind == "seg":
        _missing_segments(frame, i, offset, out)
        return
    if frame.child < 0:
        _missing_segments(frame, len(frame.loop.segments), offset, out)
    _missing_children(frame, i, offset, out)


def _close(frame: _Frame, offset: int, out: list[LoopError]) -> None:
    _before(frame, ("child", len(frame.loop.children)), offset, out)


def _accepts(frame: _Frame, key: str) -> tuple[str, int] | None:
    """How the frame takes ``key``: ("seg", index) or ("child", slot); None if it does not."""
    loop = frame.loop
    if frame.child < 0:
        for j in range(max(frame.pos, 1) if frame.uses else 0, len(loop.segments)):
            if key in loop.segments[j].keys:
                return "seg", j
    for ci in range(max(frame.child, 0), len(loop.children)):
        if any(key in LOOPS[name].segments[0].keys for name in loop.children[ci][0]):
            return "child", ci
    return None


def _enter(stack: list[_Frame], how: tuple[str, int], key: str, offset: int, out: list[LoopError]) -> None:
    top = stack[-1]
    _before(top, how, offset, out)
    kind, i = how
    if kind == "seg":
        top.pos = i
        top.uses[i] = top.uses.get(i, 0) + 1
        if top.uses[i] > top.loop.segments[i].max:
            out.append(
                LoopError(
                    offset,
                    key.split("*")[0],
                    top.loop.name,
                    "5",
                    f"{key} repeats more than the {top.loop.segments[i].max} times loop {top.loop.name} allows",
                )
            )
        return
    top.child = i
    top.repeats[i] = top.repeats.get(i, 0) + 1
    names, _, most = top.loop.children[i]
    if top.repeats[i] > most:
        out.append(
            LoopError(
                offset,
                key.split("*")[0],
                names[0],
                "4",
                f"loop {names[0]} occurs more than the {most} times loop {top.loop.name} allows",
            )
        )
    name = next(n for n in names if key in LOOPS[n].segments[0].keys)
    stack.append(_Frame(LOOPS[name], 0, {0: 1}))


def _start(kind: str, level: str) -> list[_Frame]:
    """The loops open when a block of ``kind`` (ST, HL or CLM) begins, under an HL of ``level``."""
    if kind == "ST":
        return []
    header = _Frame(LOOPS["HEADER"], 1, {0: 1, 1: 1}, 2, {0: 1, 1: 1, 2: 1})
    if kind == "HL":
        return [header]
    parent = {"20": "2000A", "22": "2000B", "23": "2000C"}.get(level)
    if parent is None:
        return [header]
    loop = LOOPS[parent]
    slot = next((i for i, c in enumerate(loop.children) if "2300" in c[0]), len(loop.children))
    return [
        header,
        _Frame(loop, len(loop.segments), {j: 1 for j in range(len(loop.segments))}, slot, {i: 1 for i in range(slot)}),
    ]


@lru_cache(maxsize=4096)
def check_block(kind: str, level: str, keys: tuple[str, ...], end: str) -> tuple[LoopError, ...]:
    """Errors of one block's segment keys, from the state a block of ``kind`` starts in, up to
    ``end``, the first key of the next block ("" at the end of the transaction set)."""
    out: list[LoopError] = []
    stack = _start(kind, level)
    for offset, key in enumerate(keys):
        if not stack:
            if key == "ST":
                stack.append(_Frame(LOOPS["HEADER"], 0, {0: 1}))
            else:
                out.append(LoopError(offset, key.split("*")[0], "", "2", f"{key} is not expected here"))
            continue
        for depth in range(len(stack) - 1, -1, -1):
            how = _accepts(stack[depth], key)
            if how is not None:
                for frame in reversed(stack[depth + 1 :]):
                    _close(frame, offset, out)
                del stack[depth + 1 :]
                _enter(stack, how, key, offset, out)
                break
        else:
            where = stack[-1].loop.name
            known = any(key in s.keys for loop in LOOPS.values() for s in loop.segments)
            out.append(
                LoopError(
                    offset,
                    key.split("*")[0],
                    where,
                    "7" if known else "2",
                    f"{key} is not in its place: not expected in loop {where} here"
                    if known
                    else f"{key} is not expected in loop {where}",
                )
            )
    # the next block's first key closes the loops it ends
    if end in ("", "SE"):
        for frame in reversed(stack):
            _close(frame, len(keys), out)
        return tuple(out)
    for depth in range(len(stack) - 1, -1, -1):
        how = _accepts(stack[depth], end)
        if how is not None:
            for frame in reversed(stack[depth + 1 :]):
                _close(frame, len(keys), out)
            _before(stack[depth], how, len(keys), out)
            break
    return tuple(out)
