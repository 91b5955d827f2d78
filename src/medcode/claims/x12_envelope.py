"""The ISA/GS/ST ... SE/GE/IEA envelope of an 837P file, checked a chunk of segments at a time:
nesting, counts and control numbers, with the IK5/AK9 codes of a 999."""

from __future__ import annotations

from medcode.claims.x12_segments import VERSION, X12Error


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
