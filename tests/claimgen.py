"""Claims that reach every rule branch of the checker, built from real codes of a knowledge base.

``Pools(kb)`` picks the codes once (every PFS indicator value and status with codes that carry
it, add-on codes of each edit type with a primary, MUE codes of each MAI, PTP pairs of each
modifier indicator, sibling families, ICD-10-CM headers and Excludes1 pairs, codes outside their
releases, places of service, NPIs); ``generate(pools, n, seed)`` composes ``n`` claims from them,
the same claims for the same seed and knowledge base. ``tests/test_differential.py`` checks them
with both engines.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from medcode import rules, vocab
from medcode.claims.checks import diagnosis
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Line, Problem
from medcode.kb.store import KnowledgeBase

MAIN = date(2026, 5, 1)  # RVU26B; every family has a release in force or before
DATES = (
    MAIN,
    date(2026, 4, 1),
    date(2026, 6, 30),
    date(2025, 2, 1),
    date(2025, 11, 1),
    date(2025, 6, 1),
    date(2024, 7, 15),
    date(2023, 6, 1),
    date(2026, 12, 31),
)
INDICATORS = ("pctc", "bilateral", "assistant", "co_surgeon", "team", "mult_proc", "status")
GOOD_NPIS = ("1234567893", "1245319599", "1003000126")
BAD_NPIS = ("1234567890", "12345", "123456789X", "1003000127")
UNKNOWN_CODES = ("2070A", "0999T", "99999", "G9999")
MALFORMED_CODES = ("ABC", "12", "9921", "A1234Z")
UNKNOWN_DX = ("Z99.999", "A00.00X", "U99")
EXTRA_MODIFIERS = (
    "25",
    "51",
    "54",
    "55",
    "57",
    "59",
    "XE",
    "XP",
    "XS",
    "XU",
    "RT",
    "LT",
    "F1",
    "TA",
    "76",
    "91",
    "24",
    "ZZ",
    "Q9",
    "GT",
    "95",
)


@dataclass
class Pools:
    """Real codes of the knowledge base for each branch (lists in a fixed order)."""

    kb: KnowledgeBase
    facts: Facts = field(init=False)
    by_indicator: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (field, value) -> codes
    row_indicator: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)  # -> (code, row)
    modifier_rows: list[tuple[str, str]] = field(default_factory=list)  # (code, 26/TC/53) with own rows
    modifier_only: list[str] = field(default_factory=list)  # codes with only modifier rows
    addons: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)  # type -> (add-on, a primary)
    mue: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # MAI -> (code, units)
    ptp: dict[int, list[tuple[str, str, date]]] = field(default_factory=dict)  # indicator -> (col 1, col 2, a day)
    ptp_em: list[tuple[str, str]] = field(default_factory=list)  # indicator-1 pairs with an E/M code
    families: list[tuple[str, ...]] = field(default_factory=list)
    not_in_release: list[tuple[str, date]] = field(default_factory=list)  # (code, a day it is not in force)
    hcpcs_only: list[str] = field(default_factory=list)  # HCPCS Level II outside the PFS
    dx_billable: list[str] = field(default_factory=list)
    dx_header: list[str] = field(default_factory=list)
    excludes1: list[tuple[str, str]] = field(default_factory=list)
    common: list[str] = field(default_factory=list)  # status A codes for filler lines
    places: list[str | None] = field(default_factory=list)
    dated_places: list[tuple[str, date]] = field(default_factory=list)  # (POS, the day before its first day)

    def __post_init__(self) -> None:
        self.facts = Facts(self.kb)
        kb = self.kb
        pfs = {r.name: r.files[0].id for r in kb.releases["pprrvu"]}
        latest = kb.releases["pprrvu"][-1].files[0].id
        for fld in INDICATORS:
            for rid in reversed(pfs.values()):  # the latest release first
                values = kb.query(
                    f"SELECT DISTINCT {fld} FROM rvus WHERE release_id = ? AND modifier = '' ORDER BY 1", (rid,)
                )
                for (value,) in values:
                    if (fld, value) not in self.by_indicator:
                        self.by_indicator[(fld, value)] = _spread(
                            [
                                c
                                for (c,) in kb.query(
                                    f"SELECT hcpcs FROM rvus WHERE release_id = ? AND modifier = '' AND {fld} = ? "
                                    "ORDER BY hcpcs",
                                    (rid, value),
                                )
                            ],
                            4,
                        )
            # values that only rows of a modifier carry (PC/TC 6 on 83020-26 and 86153-26)
            for value, code, mod in kb.query(
                f"SELECT {fld}, min(hcpcs), modifier FROM rvus WHERE release_id = ? AND modifier != '' "
                f"GROUP BY {fld}, modifier ORDER BY 1, 3",
                (latest,),
            ):
                self.row_indicator.setdefault((fld, value), []).append((code, mod))
        self.modifier_rows = [
            (c, m)
            for c, m in kb.query(
                "SELECT hcpcs, modifier FROM rvus WHERE release_id = ? AND modifier != '' ORDER BY hcpcs, modifier",
                (latest,),
            )
        ][::60]
        self.modifier_rows += kb.query(  # every 53 row (reduced services): there are few
            "SELECT hcpcs, modifier FROM rvus WHERE release_id = ? AND modifier = '53' ORDER BY hcpcs", (latest,)
        )
        self.modifier_only = [
            c
            for (c,) in kb.query(
                "SELECT DISTINCT hcpcs FROM rvus r WHERE release_id = ? AND modifier != '' AND NOT EXISTS "
                "(SELECT 1 FROM rvus o WHERE o.release_id = r.release_id AND o.hcpcs = r.hcpcs AND o.modifier = '') "
                "ORDER BY hcpcs",
                (latest,),
            )
        ][:6]
        self.common = [c for c in self.by_indicator.get(("status", "A"), []) if c[:1].isdigit()]
        self.common += _spread(
            [
                c
                for (c,) in kb.query(
                    "SELECT hcpcs FROM rvus WHERE release_id = ? AND modifier = '' AND status = 'A' AND pctc = '0' "
                    "AND mult_proc = '2' ORDER BY hcpcs",
                    (latest,),
                )
            ],
            30,
        )
        for edit_type in ("1", "2", "3"):
            rows = kb.query(
                "SELECT addon_code, primary_code FROM aoc_edits WHERE edit_type = ? AND deleted IS NULL "
                "AND addon_deleted IS NULL ORDER BY addon_code, primary_code",
                (edit_type,),
            )
            seen: dict[str, str | None] = {}
            for addon, primary in rows:
                if addon not in seen and self.facts.addon(addon, MAIN):
                    seen[addon] = primary if re.fullmatch(r"[0-9A-Z]{5}", primary) else None
            self.addons[edit_type] = _spread(list(seen.items()), 5)
        for mai in ("1", "2", "3"):
            rows = kb.query(
                "SELECT hcpcs, units FROM mue_limits WHERE mai = ? AND units BETWEEN 1 AND 4 ORDER BY hcpcs", (mai,)
            )
            self.mue[mai] = _spread([(c, u) for c, u in rows if self.facts.pfs(c, MAIN)], 5)
        store = kb.releases["ptp_practitioner"][-1].store
        conn = kb.ptp(store)
        for indicator, day in ((0, MAIN), (1, MAIN), (9, date(2023, 6, 1))):
            rows = list(
                conn.execute(  # every 997th row (13th of the few indicator 9): from all over the table
                    "SELECT column_1, column_2 FROM ptp_edits WHERE modifier = ? AND "
                    + (
                        "deleted IS NULL AND rowid % 997 = 0"
                        if indicator != 9
                        else "deleted >= 20230601 AND rowid % 13 = 0"
                    )
                    + " ORDER BY column_1, column_2",
                    (indicator,),
                )
            )
            picked = [(a, b, day) for a, b in _spread(rows, 12) if self.facts.ptp(a, b, day)]
            self.ptp[indicator] = picked
        em = list(
            conn.execute(
                "SELECT column_1, column_2 FROM ptp_edits WHERE modifier = 1 AND deleted IS NULL "
                "AND column_2 BETWEEN '99202' AND '99499' ORDER BY column_1 LIMIT 2000"
            )
        )
        self.ptp_em = [(a, b) for a, b in _spread(em, 6) if self.facts.ptp(a, b, MAIN)]
        self.families = [tuple(members) for members, _ in vocab.code_families().values()]
        names = list(pfs)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                only = [
                    c
                    for (c,) in kb.query(
                        "SELECT hcpcs FROM rvus n WHERE release_id = ? AND modifier = '' AND NOT EXISTS (SELECT 1 FROM "
                        "rvus o WHERE o.release_id = ? AND o.hcpcs = n.hcpcs) ORDER BY hcpcs",
                        (pfs[b], pfs[a]),
                    )
                ]
                gone = [
                    c
                    for (c,) in kb.query(
                        "SELECT hcpcs FROM rvus o WHERE release_id = ? AND modifier = '' AND NOT EXISTS (SELECT 1 FROM "
                        "rvus n WHERE n.release_id = ? AND n.hcpcs = o.hcpcs) ORDER BY hcpcs",
                        (pfs[a], pfs[b]),
                    )
                ]
                first_a = next(r.effective_from for r in kb.releases["pprrvu"] if r.name == a)
                first_b = next(r.effective_from for r in kb.releases["pprrvu"] if r.name == b)
                self.not_in_release += [(c, first_a) for c in _spread(only, 3)]  # not yet in force
                self.not_in_release += [(c, first_b) for c in _spread(gone, 3)]  # no longer in force
        self.hcpcs_only = [
            c
            for (c,) in kb.query(
                "SELECT DISTINCT code FROM hcpcs_codes h WHERE length(code) = 5 AND NOT EXISTS "
                "(SELECT 1 FROM rvus r WHERE r.hcpcs = h.code) ORDER BY code"
            )
        ][::400][:6]
        self.dx_billable = _spread(
            [c for (c,) in kb.query("SELECT code FROM icd10cm_codes WHERE billable = 1 ORDER BY seq")], 40
        )
        self.dx_header = _spread(
            [
                c
                for (c,) in kb.query(
                    "SELECT code FROM icd10cm_codes WHERE billable = 0 AND kind IN ('category', 'subcategory') "
                    "ORDER BY seq"
                )
            ],
            12,
        )
        self.excludes1 = self._excludes1_pairs()
        self.places = [None, *vocab.places_of_service(), "1", "98", "28", "AB", "011"]
        self.dated_places = [
            (k, date.fromordinal(d.toordinal() - 1)) for k, d in vocab.place_of_service_from().items() if d is not None
        ]

    def _excludes1_pairs(self) -> list[tuple[str, str]]:
        """Pairs of billable codes one of whose Excludes1 notes names the other (found by trying
        the codes a note's text names against the claim check's own test)."""
        pairs: list[tuple[str, str]] = [("E16.2", "P70.4"), ("O26.891", "Z34.00"), ("E11.9", "E10.9")]
        notes = self.kb.query("SELECT code, text FROM icd10cm_notes WHERE note_type = 'excludes1' ORDER BY code, seq")
        for code, text in notes[::40]:
            for named in re.findall(r"\(([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)", text)[:2]:
                a = self._billable_under(code)
                b = self._billable_under(named)
                fa, fb = (self.facts.icd(x, MAIN) if x else None for x in (a, b))
                if fa and fb and diagnosis.excludes1(fa, fb):
                    pairs.append((a, b))  # type: ignore[arg-type]
            if len(pairs) > 30:
                break
        return pairs

    def _billable_under(self, code: str) -> str | None:
        rows = self.kb.query(
            "SELECT code FROM icd10cm_codes WHERE billable = 1 AND (code = ? OR code LIKE ?) ORDER BY seq LIMIT 1",
            (code, code + "%"),
        )
        return rows[0][0] if rows else None


def _spread(items: list, n: int) -> list:
    """``n`` items spread evenly over a sorted list (all of them when fewer)."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


# --- claims -------------------------------------------------------------------------------------------

Draft = list[tuple[str, tuple[str, ...], int | float | None, date | None]]  # (code, modifiers, units, line date)


def generate(pools: Pools, n: int, seed: int = 12) -> list[Claim]:
    """``n`` claims: first one claim per branch that needs its own, then random mixtures."""
    rng = random.Random(seed)
    claims = list(_systematic(pools, rng))
    makers = _makers(pools)
    while len(claims) < n:
        k = len(claims)
        draft: Draft = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            draft += rng.choice(makers)(rng)
        if rng.random() < 0.5:
            draft.append((rng.choice(pools.common), (), 1, None))
        claims.append(_claim(pools, rng, f"G{k}", draft[: rules.MAX_LINES]))
    return claims[:n] if n >= len(claims) else claims


def _claim(
    pools: Pools,
    rng: random.Random,
    cid: str,
    draft: Draft,
    *,
    day: date | None | str = "pick",
    dx: tuple[str, ...] | None = None,
    pos: str | None | bool = True,
    npis: bool = True,
    problems: tuple[Problem, ...] = (),
) -> Claim:
    if day == "pick":
        day = rng.choice(DATES[:6]) if rng.random() < 0.3 else MAIN
    if dx is None:
        dx = tuple(rng.sample(pools.dx_billable, rng.choice((1, 1, 2, 3))))
        if rng.random() < 0.08:
            dx += (rng.choice(pools.dx_header),)
        if rng.random() < 0.05:
            dx += (rng.choice(UNKNOWN_DX),)
        if rng.random() < 0.08:
            dx += rng.choice(pools.excludes1)
    lines = []
    for i, (code, mods, units, lday) in enumerate(draft, start=1):
        if rng.random() < 0.06:  # no pointer, one past the list, zero, the same twice
            pointers = rng.choice(((), (len(dx) + 1,), (0,), (1, 1)))
        elif dx:
            pointers = tuple(sorted(rng.sample(range(1, len(dx) + 1), min(len(dx), rng.choice((1, 1, 2))))))
        else:
            pointers = ()
        lines.append(Line(i, code, mods, units, pointers, rng.choice((None, 80.0, 125.5)), lday))
    if pos is True:
        pos = rng.choice(pools.places) if rng.random() < 0.3 else rng.choice(("11", "11", "22", "21", None))
    fields: dict = {}
    if npis:
        for name in ("billing_npi", "rendering_npi", "referring_npi"):
            r = rng.random()
            fields[name] = None if r < 0.4 else rng.choice(BAD_NPIS) if r < 0.5 else rng.choice(GOOD_NPIS)
    zip_code, locality = rng.choice(
        (("10001", None), ("94105", None), (None, "01112-01"), (None, None), ("00000", None), ("10001", None))
    )
    return Claim(
        cid,
        tuple(lines),
        day if isinstance(day, date) else None,
        pos or None,
        None,
        zip_code,
        locality,
        dx,
        problems,
        **fields,
    )


def _systematic(pools: Pools, rng: random.Random) -> Iterator[Claim]:
    """One claim per combination that random mixing might miss."""
    # every modifier with every value of the indicator that governs it, on real codes of that value
    for fld, mods in rules.INDICATOR_MODIFIERS.items():
        for (f, value), codes in sorted(pools.by_indicator.items()):
            if f != fld:
                continue
            for mod in mods:
                draft: Draft = [(c, (mod,), 1, None) for c in codes[:3]]
                yield _claim(pools, rng, f"IND-{fld}-{value}-{mod}", draft, day=MAIN)
    for (fld, value), rows in sorted(pools.row_indicator.items()):
        for code, row in rows:
            for mod in rules.INDICATOR_MODIFIERS.get(fld, ("",)):
                mods = tuple(dict.fromkeys(m for m in (row, mod) if m))
                yield _claim(
                    pools, rng, f"ROWIND-{fld}-{value}-{code}-{'-'.join(mods)}", [(code, mods, 1, None)], day=MAIN
                )
    # every value of every indicator (and status) without modifiers, in each release's dates
    for (fld, value), codes in sorted(pools.by_indicator.items()):
        for day in (MAIN, date(2025, 2, 1), date(2025, 11, 1)):
            yield _claim(pools, rng, f"VAL-{fld}-{value}-{day}", [(c, (), 1, None) for c in codes[:3]], day=day)
    for code, mod in pools.modifier_rows:
        for mods in ((mod,), (), ("26", "TC")):
            yield _claim(pools, rng, f"ROW-{code}-{'-'.join(mods)}", [(code, mods, 1, None)], day=MAIN)
    for code in pools.modifier_only:
        for mods in ((), ("26",), ("TC",), ("53",)):
            yield _claim(pools, rng, f"ONLY-{code}-{'-'.join(mods)}", [(code, mods, 1, None)], day=MAIN)
    for edit_type, pairs in sorted(pools.addons.items()):
        for addon, primary in pairs:
            yield _claim(pools, rng, f"AOC{edit_type}-{addon}-alone", [(addon, (), 1, None)], day=MAIN)
            yield _claim(pools, rng, f"AOC{edit_type}-{addon}-51", [(addon, ("51",), 1, None)], day=MAIN)
            if primary:
                yield _claim(
                    pools,
                    rng,
                    f"AOC{edit_type}-{addon}-{primary}",
                    [(primary, (), 1, None), (addon, (), 1, None)],
                    day=MAIN,
                )
                yield _claim(
                    pools,
                    rng,
                    f"AOC{edit_type}-{addon}-{primary}-other-day",
                    [(primary, (), 1, date(2026, 5, 2)), (addon, (), 1, None)],
                    day=MAIN,
                )
            yield _claim(
                pools, rng, f"AOC{edit_type}-{addon}-twice", [(addon, (), 1, None), (addon, (), 1, None)], day=MAIN
            )
    for mai, codes in sorted(pools.mue.items()):
        for code, units in codes:
            yield _claim(pools, rng, f"MUE{mai}-{code}-over", [(code, (), units + 1, None)], day=MAIN)
            yield _claim(
                pools, rng, f"MUE{mai}-{code}-split", [(code, (), units, None), (code, ("76",), 1, None)], day=MAIN
            )
            yield _claim(pools, rng, f"MUE{mai}-{code}-at", [(code, (), units, None)], day=MAIN)
    for indicator, pairs in sorted(pools.ptp.items()):
        for a, b, day in pairs:
            for mods_a, mods_b in (
                ((), ()),
                ((), ("59",)),
                ((), ("XS",)),
                (("RT",), ("LT",)),
                (("RT",), ("RT",)),
                ((), ("25",)),
                (("59",), ("XE", "59")),
            ):
                yield _claim(
                    pools,
                    rng,
                    f"PTP{indicator}-{a}-{b}-{'.'.join(mods_a)}-{'.'.join(mods_b)}",
                    [(a, mods_a, 1, None), (b, mods_b, 1, None)],
                    day=day,
                )
    for a, b in pools.ptp_em:
        for mods_b in ((), ("25",), ("59",), ("57",), ("XU",)):
            yield _claim(
                pools, rng, f"PTPEM-{a}-{b}-{'.'.join(mods_b)}", [(a, (), 1, None), (b, mods_b, 1, None)], day=MAIN
            )
    for members in pools.families:
        yield _claim(pools, rng, f"SIB-{members[0]}", [(c, (), 1, None) for c in members[:3]], day=MAIN)
        yield _claim(
            pools,
            rng,
            f"SIB-{members[0]}-two-days",
            [(members[0], (), 1, None), (members[1], (), 1, date(2026, 5, 2))],
            day=MAIN,
        )
    for code, day in pools.not_in_release:
        yield _claim(pools, rng, f"REL-{code}-{day}", [(code, (), 1, None)], day=day)
    for code in (*UNKNOWN_CODES, *MALFORMED_CODES, *pools.hcpcs_only):
        yield _claim(pools, rng, f"CODE-{code}", [(code, (), 1, None), (pools.common[0], (), 1, None)], day=MAIN)
    for day in DATES:
        yield _claim(
            pools,
            rng,
            f"DAY-{day}",
            [(pools.common[1], (), 1, None), (pools.common[2], (), 1, None)],
            day=day,
            pos="27",
        )
    yield _claim(pools, rng, "NODATE", [(pools.common[0], (), 1, None)], day=None)
    yield _claim(pools, rng, "NODATE-SOME", [(pools.common[0], (), 1, MAIN), (pools.common[1], (), 1, None)], day=None)
    yield _claim(pools, rng, "NOLINES", [], day=MAIN)
    yield _claim(pools, rng, "FRACTION", [(pools.common[0], (), 1.5, None)], day=MAIN)
    yield _claim(pools, rng, "NOUNITS", [(pools.common[0], (), None, None)], day=MAIN)
    yield _claim(pools, rng, "EMPTY-CODE", [("", (), 1, None), (pools.common[0], (), 1, None)], day=MAIN)
    yield _claim(
        pools,
        rng,
        "BAD-INPUT",
        [(pools.common[0], (), 1, None)],
        day=MAIN,
        problems=(Problem("claims.csv:3:9", "units", "'x' is not a whole number", 1),),
    )
    yield _claim(pools, rng, "TOO-BIG", [(pools.common[0], (), 1, None)] * (rules.MAX_LINES + 1), day=MAIN)
    for a, b in pools.excludes1:
        yield _claim(pools, rng, f"EXCL-{a}-{b}", [(pools.common[0], (), 1, None)], day=MAIN, dx=(a, b))
    for dx in pools.dx_header[:4] + list(UNKNOWN_DX):
        yield _claim(pools, rng, f"DX-{dx}", [(pools.common[0], (), 1, None)], day=MAIN, dx=(dx,))
    for pos in pools.places:
        yield _claim(pools, rng, f"POS-{pos}", [(pools.common[0], (), 1, None)], day=MAIN, pos=pos or False)
    for pos, before in pools.dated_places:
        yield _claim(
            pools,
            rng,
            f"POS-{pos}-early",
            [(pools.common[0], (), 1, before), (pools.common[1], (), 1, None)],
            day=MAIN,
            pos=pos,
        )
    for mods in (("59", "XS"), ("XE", "59", "XU"), ("54", "55"), ("26", "TC"), ("55",), ("ZZ",), ("25",)):
        yield _claim(pools, rng, f"MODS-{'-'.join(mods)}", [(pools.common[3], mods, 1, None)], day=MAIN)
    for npi in (*GOOD_NPIS, *BAD_NPIS):
        yield Claim(
            f"NPI-{npi}",
            (Line(1, pools.common[0], pointers=(1,)),),
            MAIN,
            "11",
            None,
            "10001",
            None,
            ("M17.11",),
            (),
            npi,
            npi,
            npi,
        )
    yield _claim(
        pools,
        rng,
        "DUP",
        [
            (pools.common[0], ("RT", "59"), 1, None),
            (pools.common[0], ("59", "RT"), 2, None),
            (pools.common[0], (), 1, date(2026, 5, 2)),
        ],
        day=MAIN,
    )


def _makers(pools: Pools) -> list[Callable[[random.Random], Draft]]:
    """Random pieces of a claim, one kind of branch each."""
    mods = sorted({*(m for ms in rules.INDICATOR_MODIFIERS.values() for m in ms), *EXTRA_MODIFIERS})
    indicator_items = sorted(pools.by_indicator.items())

    def indicator(rng: random.Random) -> Draft:
        (fld, _), codes = rng.choice(indicator_items)
        ms = rules.INDICATOR_MODIFIERS.get(fld, ("",))
        chosen = tuple(m for m in {rng.choice(ms), rng.choice(mods)} if m and rng.random() < 0.7)
        return [(rng.choice(codes), chosen, 1, None)]

    def addon(rng: random.Random) -> Draft:
        pairs = pools.addons[rng.choice(sorted(pools.addons))]
        if not pairs:
            return []
        a, p = rng.choice(pairs)
        out: Draft = [(a, ("51",) if rng.random() < 0.2 else (), 1, None)]
        if p and rng.random() < 0.6:
            out.insert(0, (p, (), 1, None))
        return out

    def mue(rng: random.Random) -> Draft:
        code, units = rng.choice(pools.mue[rng.choice(sorted(pools.mue))])
        return [(code, (), rng.choice((units, units + 1, 1)), None) for _ in range(rng.choice((1, 2)))]

    def ptp(rng: random.Random) -> Draft:
        pairs = pools.ptp[rng.choice((0, 1, 1, 9))] or pools.ptp[1]
        a, b, _ = rng.choice(pairs)
        pick = lambda: tuple(m for m in (rng.choice(mods),) if rng.random() < 0.4)  # noqa: E731
        return [(a, pick(), 1, None), (b, pick(), 1, None)]

    def ptp_em(rng: random.Random) -> Draft:
        a, b = rng.choice(pools.ptp_em)
        return [(a, (), 1, None), (b, rng.choice(((), ("25",), ("59",), ("57",))), 1, None)]

    def sibling(rng: random.Random) -> Draft:
        members = rng.choice(pools.families)
        return [(c, (), 1, None) for c in rng.sample(members, min(2, len(members)))]

    def odd(rng: random.Random) -> Draft:
        code = rng.choice((*UNKNOWN_CODES, *MALFORMED_CODES, *pools.hcpcs_only, *pools.modifier_only))
        return [(code, (), 1, None)]

    def line_day(rng: random.Random) -> Draft:
        code, day = rng.choice(pools.not_in_release)
        return [(code, (), 1, day), (rng.choice(pools.common), (), 1, rng.choice(DATES))]

    def duplicate(rng: random.Random) -> Draft:
        code = rng.choice(pools.common)
        ms = tuple(rng.sample(mods, rng.choice((0, 1, 2))))
        return [(code, ms, 1, None), (code, tuple(reversed(ms)), rng.choice((1, 2)), None)]

    return [indicator, indicator, addon, mue, ptp, ptp, ptp_em, sibling, odd, line_day, duplicate]


def to_csv(claims: list[Claim]) -> str:
    """The claims as the CSV the readers take (claim fields repeated on every row)."""
    head = (
        "claim_id,date,place_of_service,zip,locality,diagnoses,code,modifiers,units,pointers,charge,line_date,"
        "billing_npi,rendering_npi,referring_npi"
    )
    rows = [head]
    for c in claims:
        for x in c.lines:
            units = "" if x.units is None else (str(int(x.units)) if float(x.units).is_integer() else str(x.units))
            rows.append(
                ",".join(
                    (
                        c.id,
                        c.date.isoformat() if c.date else "",
                        c.place_of_service or "",
                        c.zip_code or "",
                        c.locality or "",
                        ";".join(c.diagnoses),
                        x.code,
                        ";".join(x.modifiers),
                        units,
                        ";".join(map(str, x.pointers)),
                        "" if x.charge is None else f"{x.charge:.2f}",
                        x.date.isoformat() if x.date else "",
                        c.billing_npi or "",
                        c.rendering_npi or "",
                        c.referring_npi or "",
                    )
                )
            )
    return "\n".join(rows) + "\n"
