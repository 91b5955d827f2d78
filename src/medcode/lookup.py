"""Everything the knowledge base knows about one code, on one date of service."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import orjson

from medcode import vocab
from medcode.codes import MalformedCode, UnknownCode, compact_icd, kinds, normalize, suggest, system_of
from medcode.kb import ncci
from medcode.kb.models import (
    AddOn,
    Citation,
    CodeRef,
    DiagnosisCode,
    DiagnosisNote,
    DiagnosisRef,
    GlobalShares,
    Indicator,
    ModifierRow,
    Mue,
    Payment,
    ProcedureCode,
    Ptp,
    PtpPage,
    PtpPair,
    Rvu,
    YearChange,
)
from medcode.kb.releases import Resolved
from medcode.kb.schema import PRESENCE
from medcode.kb.store import KnowledgeBase
from medcode.language.words import plain_description
from medcode.pricing import (
    NO_GPCI,
    PAYABLE_STATUSES,
    RVU_SQL,
    amount,
    amounts,
    citation,
    gpci_of,
    opps_cap,
    price,
    rvu_of,
)
from medcode.rules import CONTRACTOR_PRICED, CONTRACTOR_PRICED_STATUSES

__all__ = ["get_code", "ptp_between", "ptp_pairs", "rvu_history", "MalformedCode", "UnknownCode"]

BIT = {name: 1 << i for i, (name, _, _) in enumerate(PRESENCE)}

INDICATOR_FIELDS = ("pctc", "mult_proc", "bilateral", "assistant", "co_surgeon", "team", "phys_supervision")
PAGE_SQL = (
    "SELECT work, pe_nonfacility, pe_facility, mp, total_nonfacility, total_facility,"
    " pe_nonfacility_na, pe_facility_na, conversion_factor, status, line, description, modifier,"
    " global_days, pctc, mult_proc, bilateral, assistant, co_surgeon, team, endo_base,"
    " opps_pe_nonfacility, opps_pe_facility, opps_mp, preop, intraop, postop, phys_supervision"
    " FROM rvus WHERE hcpcs = ? AND release_id = ? ORDER BY modifier"
)


def get_code(
    kb: KnowledgeBase, code: str, *, day: date | None = None, zip_code: str | None = None, locality: str | None = None
) -> ProcedureCode | DiagnosisCode:
    """The code's page: a ``ProcedureCode`` (CPT/HCPCS) or a ``DiagnosisCode`` (ICD-10-CM)."""
    code = normalize(code)
    systems = kinds(code)
    for system in systems:
        found: ProcedureCode | DiagnosisCode | None
        if system == "procedure":
            found = _procedure(kb, code, day, zip_code, locality)
        else:
            found = _diagnosis(kb, code, day)
        if found is not None:
            return found
    raise UnknownCode(code, suggest(kb, code))


def _indicator(field: str, code: str | None) -> Indicator | None:
    if code is None:
        return None
    return Indicator(code, vocab.meaning(field, code))


def _indicators(row: tuple) -> dict[str, Indicator]:
    """The PFS indicators of a PAGE_SQL row, with their meanings (``vocab/indicators.csv``)."""
    values = (*row[14:20], row[27])
    return {f: Indicator(v, vocab.meaning(f, v)) for f, v in zip(INDICATOR_FIELDS, values, strict=True)}


def _global_shares(row: tuple) -> GlobalShares | None:
    """The pre-, intra- and post-operative shares of a PAGE_SQL row (None when all are zero)."""
    pre, intra, post = row[24:27]
    if not (pre or intra or post):
        return None
    return GlobalShares(pre or 0.0, intra or 0.0, post or 0.0)


def _national(rvu: Rvu, cf: float | None, status: str, opps: tuple = (None, None, None)) -> Payment:
    """The national amounts (GPCIs of 1.0), lowered to the OPPS amount where the row's OPPS RVUs
    (``opps``) give a lower one: none for a status without one, and for status C and R the note
    that the MAC prices it (854 R codes have zero RVUs: never $0.00)."""
    if status in CONTRACTOR_PRICED_STATUSES:
        return Payment(None, None, CONTRACTOR_PRICED)
    if cf is None or status not in PAYABLE_STATUSES:
        return Payment(None, None)
    nonfac, fac = amount(rvu, None, cf, "nonfacility"), amount(rvu, None, cf, "facility")
    cap = opps_cap(rvu, opps, NO_GPCI, cf, nonfac, fac)
    if cap is not None and cap.applied:
        nonfac, fac = (
            p if p is None or o is None else min(p, o) for p, o in ((nonfac, cap.nonfacility), (fac, cap.facility))
        )
    return Payment(nonfac, fac)


def _procedure(
    kb: KnowledgeBase, code: str, day: date | None, zip_code: str | None, locality: str | None
) -> ProcedureCode | None:
    notices: list[str] = []
    sources: list[Citation] = []
    when = day
    pfs = kb.resolve("pprrvu", day)
    rows: list[tuple] = []
    if pfs is not None:
        when = day or pfs.release.effective_from
        if pfs.note:
            notices.append(pfs.note)
        rows = kb.query(PAGE_SQL, (code, pfs.release.ids[0]))
    row = rows[0] if rows and rows[0][12] == "" else None
    has = kb.presence(code)
    hcpcs_desc = _hcpcs(kb, code, when, sources) if has & BIT["hcpcs"] else None
    lab = _lab(kb, code, when, sources) if has & BIT["clfs"] else None
    dme = _dmepos(kb, code, when, sources) if has & BIT["dmepos"] else None
    asp = _asp(kb, code, when, sources) if has & BIT["asp"] else None
    if not rows and hcpcs_desc is None and not (lab or dme or asp):
        return None
    rvu = status = glob = cf = payment = shares = None
    indicators: dict[str, Indicator] = {}
    description = hcpcs_desc or (rows[0][11] if rows else "")
    previous = None
    modifiers = tuple(_modifier_row(kb, code, r, pfs) for r in rows if r[12] != "") if pfs else ()
    endo_base = None
    if row is not None and pfs is not None:
        rvu, cf, status_code, line, description = rvu_of(row), row[8], row[9], row[10], row[11]
        status = _indicator("status", status_code)
        glob = _indicator("global", row[13])
        indicators = _indicators(row)
        shares = _global_shares(row)
        endo_base = _code_ref(kb, row[20], pfs.release.ids[0])
        payment = _national(rvu, cf, status_code, row[21:24])
        sources.insert(0, citation(kb.sources[pfs.release.ids[0]], row=code, line=line))
        prev = _previous_year(kb, code, pfs, rvu, cf, status_code, row[21:24])
        if prev is not None:
            previous, prev_cite = prev
            sources.append(prev_cite)
    if not row and modifiers:
        sources[:0] = [m.citation for m in modifiers if m.citation is not None]
    priced = None
    if (zip_code or locality) and row is not None:
        priced = price(kb, code, zip_code=zip_code, locality=locality, day=day)
    hcpcs_release = kb.resolve("hcpcs", when) if hcpcs_desc is not None else None
    if hcpcs_release is not None:
        _note(hcpcs_release, notices)
    page = ProcedureCode(
        code=code,
        system=system_of(code),
        description=description,
        plain_description=plain_description(rows[0][11]) if rows else None,
        long_description=hcpcs_desc if hcpcs_desc != description else None,
        status=status,
        release=pfs.release.name if (pfs and rows) else None,
        date=when,
        rvu=rvu,
        global_period=glob,
        indicators=indicators,
        conversion_factor=cf,
        payment=payment,
        price=priced,
        addon=_addon(kb, code, when, sources, notices) if has & BIT["addon"] else None,
        addon_codes=_addon_codes(kb, code, when) if has & BIT["primary"] else (),
        mue=_mue(kb, code, when, sources, notices),
        ptp=_ptp(kb, code, when, sources),
        asc=_asc(kb, code, when, sources, has),
        opps_cap=_opps_caps(kb, code, when, sources) if rows else None,
        lab=lab,
        dmepos=dme,
        asp=asp,
        modifiers=modifiers,
        previous_year=previous,
        notices=(),
        sources=tuple(sources),
        endoscopic_base=endo_base,
        global_shares=shares,
    )
    if page.addon_codes:  # the add-on codes billed with this one come from the AOC release too
        aoc = kb.resolve("aoc", when)
        if aoc is not None:
            _note(aoc, notices)
    return replace(page, notices=_all_notices(page, notices))


def _all_notices(page: ProcedureCode, notices: list[str]) -> tuple[str, ...]:
    """Every release notice of the page's parts, once each: the fee schedule's, the add-on and MUE
    tables', and those the PTP, ASC, OPPS cap, lab, DMEPOS and ASP parts carry with them."""
    out = list(notices)
    carried = [page.ptp.note if page.ptp else None]
    carried += [part.get("note") for part in (page.asc, page.opps_cap, page.lab, page.dmepos, page.asp) if part]
    for note in carried:
        if note and note not in out:
            out.append(note)
    return tuple(out)


def _code_ref(kb: KnowledgeBase, code: str, rid: int) -> CodeRef | None:
    """``code`` with its short descriptor in the PFS release ``rid`` (None for an empty code)."""
    if not code:
        return None
    found = kb.query(
        "SELECT description FROM rvus WHERE hcpcs = ? AND release_id = ? ORDER BY modifier LIMIT 1", (code, rid)
    )
    return CodeRef(code, found[0][0] if found else "")


def _modifier_row(kb: KnowledgeBase, code: str, r: tuple, pfs: Resolved) -> ModifierRow:
    """A PAGE_SQL row with a modifier: its own status, RVUs, indicators and national payment."""
    rvu = rvu_of(r)
    return ModifierRow(
        modifier=r[12],
        description=r[11],
        status=r[9],
        rvu=rvu,
        payment=_national(rvu, r[8], r[9], r[21:24]),
        status_meaning=vocab.meaning("status", r[9]),
        conversion_factor=r[8],
        global_period=_indicator("global", r[13]),
        indicators=_indicators(r),
        endoscopic_base=_code_ref(kb, r[20], pfs.release.ids[0]),
        citation=citation(kb.sources[pfs.release.ids[0]], row=f"{code}-{r[12]}", line=r[10]),
    )


def _note(resolved: Resolved, notices: list[str]) -> None:
    if resolved.note and resolved.note not in notices:
        notices.append(resolved.note)


def _previous_year(
    kb: KnowledgeBase, code: str, pfs: Resolved, rvu: Rvu, cf: float | None, status: str, opps: tuple
) -> tuple[YearChange, Citation] | None:
    year = pfs.release.effective_from.year - 1
    candidates = [r for r in kb.releases.get("pprrvu", []) if r.effective_from.year == year]
    if not candidates:
        return None
    prev = candidates[-1]  # the last quarter of the previous year
    row = kb.query(RVU_SQL, (code, "", prev.ids[0]))
    if not row:
        return None
    prvu, pcf, pstatus = rvu_of(row[0]), row[0][8], row[0][9]
    pay = _national(prvu, pcf, pstatus, row[0][12:15])
    now = _national(rvu, cf, status, opps)  # the change is None where either year is not paid

    def diff(a: float | None, b: float | None) -> float | None:
        return round(a - b, 2) if a is not None and b is not None else None

    pct = (
        round(100 * (now.nonfacility - pay.nonfacility) / pay.nonfacility, 1)
        if now.nonfacility is not None and pay.nonfacility
        else None
    )
    change = YearChange(
        prev.name, prvu, pcf, pay, diff(now.nonfacility, pay.nonfacility), diff(now.facility, pay.facility), pct
    )
    return change, citation(prev.files[0], row=code, line=row[0][10])


def rvu_history(kb: KnowledgeBase, code: str) -> list[YearChange]:
    """The code's RVUs and national payment in every PFS release loaded, oldest first (the
    ``change_*`` fields compare each release with the one before it)."""
    code = normalize(code)
    out: list[YearChange] = []
    for rel in kb.releases.get("pprrvu", []):
        row = kb.query(RVU_SQL, (code, "", rel.ids[0]))
        if not row:
            continue
        rvu, cf, status = rvu_of(row[0]), row[0][8], row[0][9]
        pay = _national(rvu, cf, status, row[0][12:15])
        before = out[-1].payment if out else None

        def diff(a: float | None, b: float | None) -> float | None:
            return round(a - b, 2) if a is not None and b is not None else None

        pct = (
            round(100 * (pay.nonfacility - before.nonfacility) / before.nonfacility, 1)
            if before is not None and pay.nonfacility is not None and before.nonfacility
            else None
        )
        out.append(
            YearChange(
                rel.name,
                rvu,
                cf,
                pay,
                diff(pay.nonfacility, before.nonfacility if before else None),
                diff(pay.facility, before.facility if before else None),
                pct,
            )
        )
    return out


def _hcpcs(kb: KnowledgeBase, code: str, day: date | None, sources: list[Citation]) -> str | None:
    r = kb.resolve("hcpcs", day)
    if r is None:
        return None
    row = kb.query(
        "SELECT long_description, line, release_id FROM hcpcs_codes WHERE code = ? "
        "AND release_id = ? AND record_id = '3' ORDER BY seqnum",
        (code, r.release.ids[0]),
    )
    if not row:
        return None
    sources.append(citation(kb.sources[row[0][2]], row=code, line=row[0][1]))
    return " ".join(x[0] for x in row)


def _addon(kb: KnowledgeBase, code: str, day: date | None, sources: list[Citation], notices: list[str]) -> AddOn | None:
    r = kb.resolve("aoc", day)
    if r is None:
        return None
    rid = r.release.ids[0]
    edit = ncci.addon_edit(
        kb.query(
            "SELECT edit_type, primary_code, effective, deleted, line FROM aoc_edits "
            "WHERE addon_code = ? AND release_id = ? ORDER BY line",
            (code, rid),
        ),
        day,
    )
    if edit is None:
        return None
    _note(r, notices)
    cite = citation(kb.sources[rid], row=code, line=edit.line)
    sources.append(cite)
    return AddOn(edit.type, vocab.meaning("aoc_type", edit.type), edit.primaries, edit.effective, cite)


def _addon_codes(kb: KnowledgeBase, code: str, day: date | None) -> tuple[str, ...]:
    r = kb.resolve("aoc", day)
    if r is None:
        return ()
    on = ncci.iso(day)
    rows = kb.query(
        f"SELECT DISTINCT addon_code FROM aoc_edits WHERE primary_code = ? AND release_id = ? "
        f"AND {ncci.IN_FORCE_SQL} ORDER BY addon_code",
        (code, r.release.ids[0], on, on),
    )
    return tuple(x[0] for x in rows)


def _mue(kb: KnowledgeBase, code: str, day: date | None, sources: list[Citation], notices: list[str]) -> Mue | None:
    r = kb.resolve("mue_practitioner", day)
    if r is None:
        return None
    row = kb.query(
        "SELECT units, mai, rationale, line, release_id FROM mue_limits WHERE hcpcs = ? AND release_id = ?",
        (code, r.release.ids[0]),
    )
    if not row:
        return None
    _note(r, notices)
    units, mai, rationale, line, rid = row[0]
    cite = citation(kb.sources[rid], row=code, line=line)
    sources.append(cite)
    return Mue(units, mai, vocab.meaning("mai", mai), rationale, cite)


PTP_SQL = (
    "SELECT column_1, column_2, modifier, effective, deleted, rationale_id FROM ptp_edits "
    "WHERE {col} = ? AND " + ncci.IN_FORCE_SQL + " ORDER BY column_1, column_2 LIMIT ? OFFSET ?"
)
PTP_COUNT_SQL = f"SELECT sum(n) FROM ptp_counts WHERE code = ? AND col = ? AND {ncci.IN_FORCE_FILLED_SQL}"
PTP_PAGE = 25  # pairs per direction on a code page; ``ptp_pairs`` pages through the rest
DIRECTIONS = {"column_1": 1, "column_2": 2}


def _ptp_query(
    kb: KnowledgeBase, store: str, code: str, direction: str, on: int, offset: int, limit: int
) -> tuple[tuple[PtpPair, ...], int]:
    conn = kb.ptp(store)
    texts = kb.ptp_rationales(store)
    pairs = tuple(
        PtpPair(a, b, m, e, d, texts[t])
        for a, b, m, e, d, t in conn.execute(PTP_SQL.format(col=direction), (code, on, on, limit, offset))
    )
    if offset == 0 and len(pairs) < limit:
        return pairs, len(pairs)
    row = conn.execute(PTP_COUNT_SQL, (code, DIRECTIONS[direction], on, on)).fetchone()
    return pairs, (row[0] if row else 0) or 0


def _ptp(
    kb: KnowledgeBase,
    code: str,
    day: date | None,
    sources: list[Citation],
    family: str = "ptp_practitioner",
    limit: int = PTP_PAGE,
) -> Ptp | None:
    r = kb.resolve(family, day)
    if r is None:
        return None
    on = ncci.yyyymmdd(day)
    as1, n1 = _ptp_query(kb, r.release.store, code, "column_1", on, 0, limit)
    as2, n2 = _ptp_query(kb, r.release.store, code, "column_2", on, 0, limit)
    cite = citation(r.release.files[0], row=code)
    if as1 or as2:
        sources.append(cite)
    return Ptp(r.release.name, r.note, as1, as2, n1, n2, limit, vocab.indicators()["ptp_modifier"], cite)


class NotProcedureCode(MalformedCode):
    """A code asked for where only CPT and HCPCS codes have answers (PTP edits)."""

    def __init__(self, code: str, why: str = "NCCI PTP edits pair procedure codes"):
        super().__init__(code)
        self.args = (f"{code!r} is not a CPT or HCPCS code: {why}",)


def ptp_pairs(
    kb: KnowledgeBase,
    code: str,
    *,
    direction: str = "column_1",
    day: date | None = None,
    offset: int = 0,
    limit: int = 100,
    family: str = "ptp_practitioner",
) -> PtpPage:
    """One page of the PTP edits in force on ``day`` where ``code`` is in ``direction``
    (``column_1``: the code is the comprehensive one; ``column_2``: the code is the one denied)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be column_1 or column_2, not {direction!r}")
    if offset < 0 or not 1 <= limit <= 1000:
        raise ValueError("offset must be 0 or more and limit between 1 and 1000")
    code = normalize(code)
    if "procedure" not in kinds(code):
        raise NotProcedureCode(code)
    r = kb.resolve(family, day)
    if r is None:
        return PtpPage(code, direction, None, None, 0, offset, limit, (), None)
    on = ncci.yyyymmdd(day)
    pairs, total = _ptp_query(kb, r.release.store, code, direction, on, offset, limit)
    return PtpPage(
        code, direction, r.release.name, r.note, total, offset, limit, pairs, citation(r.release.files[0], row=code)
    )


def ptp_between(
    kb: KnowledgeBase, codes: list[str], *, day: date | None = None, family: str = "ptp_practitioner"
) -> tuple[PtpPair, ...]:
    """The PTP edits in force on ``day`` between any two of ``codes`` (either order)."""
    r = kb.resolve(family, day)
    if r is None or len(codes) < 2:
        return ()
    on = ncci.yyyymmdd(day)
    marks = ",".join("?" * len(codes))
    texts = kb.ptp_rationales(r.release.store)
    rows = kb.ptp(r.release.store).execute(
        f"SELECT column_1, column_2, modifier, effective, deleted, rationale_id FROM ptp_edits "
        f"WHERE column_1 IN ({marks}) AND column_2 IN ({marks}) AND {ncci.IN_FORCE_SQL} "
        "ORDER BY column_1, column_2",
        (*codes, *codes, on, on),
    )
    return tuple(PtpPair(a, b, m, e, d, texts[t]) for a, b, m, e, d, t in rows)


def _asc(kb: KnowledgeBase, code: str, day: date | None, sources: list[Citation], has: int) -> dict[str, Any] | None:
    r = kb.resolve("asc", day)
    if r is None or not has & (BIT["asc"] | BIT["asc_excluded"]):
        return None
    ids = r.release.ids
    marks = ",".join("?" * len(ids))
    row = (
        kb.query(
            f"SELECT addendum, payment_indicator, weight, rate, multiple_discount, marker, line, "
            f"release_id FROM asc_rates WHERE hcpcs = ? AND release_id IN ({marks})",
            (code, *ids),
        )
        if has & BIT["asc"]
        else []
    )
    excluded = (
        kb.query(
            f"SELECT line, release_id FROM asc_exclusions WHERE hcpcs = ? AND release_id IN ({marks})", (code, *ids)
        )
        if has & BIT["asc_excluded"]
        else []
    )
    if not row and not excluded:
        return None
    if excluded:
        sources.append(citation(kb.sources[excluded[0][1]], row=code, line=excluded[0][0]))
        return {"release": r.release.name, "covered": False, "excluded": True, "note": r.note}
    addendum, pi, weight, rate, mpd, marker, line, rid = row[0]
    meaning = kb.query(
        f"SELECT definition FROM asc_indicators WHERE code = ? AND kind = 'payment' AND release_id IN ({marks})",
        (pi, *ids),
    )
    sources.append(citation(kb.sources[rid], row=code, line=line))
    return {
        "release": r.release.name,
        "covered": True,
        "excluded": False,
        "addendum": addendum,
        "payment_indicator": pi,
        "payment_indicator_meaning": meaning[0][0] if meaning else None,
        "weight": weight,
        "rate": rate,
        "multiple_procedure_discount": mpd or None,
        "marker": marker or None,
        "note": r.note,
    }


OPPS_SQL = (
    RVU_SQL.replace(" FROM rvus", ", modifier FROM rvus").replace("modifier = ?", "modifier >= ''")
    + " AND (opps_pe_nonfacility > 0 OR opps_pe_facility > 0 OR opps_mp > 0) ORDER BY modifier"
)


def _opps_caps(kb: KnowledgeBase, code: str, day: date | None, sources: list[Citation]) -> dict[str, Any] | None:
    """The OPPS imaging cap of each row of ``code`` that has OPPS RVUs and is capped in at least one
    locality: the range of OPPS amounts over the localities of the GPCI file in force, and in how
    many the OPPS amount is lower than the PFS amount (``pricing.opps_cap``)."""
    r, g = kb.resolve("pprrvu", day), kb.resolve("gpci", day)
    if r is None or g is None:
        return None
    rows = kb.query(OPPS_SQL, (code, r.release.ids[0]))
    when = day or r.release.effective_from
    gpcis = [
        gpci_of(pw, floor, pe, mp, when)
        for pw, floor, pe, mp in kb.query(
            "SELECT pw_gpci, pw_gpci_floor, pe_gpci, mp_gpci FROM gpcis WHERE release_id = ?", (g.release.ids[0],)
        )
    ]
    out = []
    for found in rows:
        row, mod = tuple(found[:-1]), found[-1]
        caps = [(nf, fac, cap) for nf, fac, cap in (amounts(row, x, row[12:15]) for x in gpcis) if cap is not None]
        capped = sum(1 for *_, cap in caps if cap.applied)
        if not capped:
            continue
        nfs = [c.nonfacility for *_, c in caps if c.nonfacility is not None]
        facs = [c.facility for *_, c in caps if c.facility is not None]
        out.append(
            {
                "modifier": mod,
                "localities": len(caps),
                "capped": capped,
                "nonfacility_min": min(nfs, default=None),
                "nonfacility_max": max(nfs, default=None),
                "facility_min": min(facs, default=None),
                "facility_max": max(facs, default=None),
            }
        )
    if not out:
        return None
    sources.append(citation(kb.sources[r.release.ids[0]], row=code))
    return {"release": r.release.name, "note": r.note, "by_modifier": out}


def _lab(kb: KnowledgeBase, code: str, day: date | None, sources: list[Citation]) -> dict[str, Any] | None:
    r = kb.resolve("clfs", day)
    if r is None:
        return None
    rows = kb.query(
        "SELECT modifier, rate, indicator, short_description, line, release_id FROM clfs_rates "
        "WHERE hcpcs = ? AND release_id = ? ORDER BY modifier",
        (code, r.release.ids[0]),
    )
    if not rows:
        return None
    sources.append(citation(kb.sources[rows[0][5]], row=code, line=rows[0][4]))
    return {
        "release": r.release.name,
        "note": r.note,
        "rates": [
            {"modifier": m, "rate": rate, "indicator": ind, "short_description": d} for m, rate, ind, d, _, _ in rows
        ],
    }


def _dmepos(kb: KnowledgeBase, code: str, day: date | None, sources: list[Citation]) -> dict[str, Any] | None:
    r = kb.resolve("dmepos", day)
    if r is None:
        return None
    rows = kb.query(
        "SELECT modifier, modifier2, jurisdiction, category, ceiling, floor, state_fees, "
        "description, line, release_id FROM dmepos_fees WHERE hcpcs = ? AND release_id = ? "
        "ORDER BY line",
        (code, r.release.ids[0]),
    )
    if not rows:
        return None
    sources.append(citation(kb.sources[rows[0][9]], row=code, line=rows[0][8]))
    return {
        "release": r.release.name,
        "note": r.note,
        "fees": [
            {
                "modifier": m,
                "modifier2": m2,
                "jurisdiction": j,
                "category": c,
                "ceiling": ce,
                "floor": fl,
                "description": d,
                "by_state": orjson.loads(sf),
            }
            for m, m2, j, c, ce, fl, sf, d, _, _ in rows
        ],
    }


def _asp(kb: KnowledgeBase, code: str, day: date | None, sources: list[Citation]) -> dict[str, Any] | None:
    r = kb.resolve("asp", day)
    if r is None:
        return None
    rows = kb.query(
        "SELECT short_description, dosage, payment_limit, coinsurance_pct, line, release_id "
        "FROM asp_limits WHERE hcpcs = ? AND release_id = ?",
        (code, r.release.ids[0]),
    )
    if not rows:
        return None
    d, dosage, limit, coins, line, rid = rows[0]
    sources.append(citation(kb.sources[rid], row=code, line=line))
    return {
        "release": r.release.name,
        "note": r.note,
        "short_description": d,
        "dosage": dosage,
        "payment_limit": limit,
        "coinsurance_pct": coins,
    }


# --- ICD-10-CM -------------------------------------------------------------------------------

ICD_SQL = (
    "SELECT code, compact, kind, billable, parent, chapter, block, description, release_id "
    "FROM icd10cm_codes WHERE {where} AND release_id = ?"
)


def _diagnosis(kb: KnowledgeBase, code: str, day: date | None) -> DiagnosisCode | None:
    r = kb.resolve("icd10cm", day)
    if r is None:
        return None
    rid = r.release.ids[0]
    rows = kb.query(ICD_SQL.format(where="compact = ? AND kind NOT IN ('chapter', 'block')"), (compact_icd(code), rid))
    if not rows:
        return None
    c, compact, kind, billable, parent, chapter, block, desc, _ = rows[0]
    parents: list[DiagnosisRef] = []
    chain = [c]
    p = parent
    while p is not None:
        pr = kb.query(ICD_SQL.format(where="compact = ?"), (compact_icd(p), rid))
        pr = [x for x in pr if x[0] == p]
        if not pr:
            break
        # A block of one category has the category's code (B10 in block B10): take the code first,
        # and the block when the walk comes back to the same code.
        pr.sort(key=lambda x: (x[2] in ("chapter", "block")) != (p == chain[-1]))
        pc = pr[0]
        if pc[2] not in ("chapter", "block"):
            parents.append(DiagnosisRef(pc[0], pc[7], bool(pc[3]), pc[2]))
        chain.append(pc[0])
        p = pc[4]
    parents.reverse()
    ch = kb.query(ICD_SQL.format(where="compact = ? AND kind = 'chapter'"), (chapter, rid))
    bl = kb.query(ICD_SQL.format(where="compact = ? AND kind = 'block'"), (block, rid))
    # A category alone in its block has the block's code as its parent (B20 in block B20): the
    # parent column names the block there, so the category is no child of itself.
    children = tuple(
        DiagnosisRef(x[0], x[7], bool(x[3]), x[2])
        for x in kb.query(
            ICD_SQL.format(where="parent = ? AND code != ? AND kind NOT IN ('chapter', 'block')") + " ORDER BY seq",
            (c, c, rid),
        )
    )
    notes = kb.query(
        f"SELECT code, note_type, text FROM icd10cm_notes WHERE release_id = ? AND code IN "
        f"({','.join('?' * len(chain))}) ORDER BY seq",
        (rid, *chain),
    )
    by_type: dict[str, list[DiagnosisNote]] = {}
    depth = {code_: i for i, code_ in enumerate(chain)}
    for src, typ, text in sorted(notes, key=lambda n: depth[n[0]]):
        by_type.setdefault(typ, []).append(DiagnosisNote(typ, text, src))
    seventh: dict[str, str] = {}
    for n in by_type.get("seven_chr_def", []):
        if not seventh or n.source_code == by_type["seven_chr_def"][0].source_code:
            k, _, v = n.text.partition(": ")
            seventh.setdefault(k, v)

    def own(t: str) -> tuple[DiagnosisNote, ...]:
        return tuple(by_type.get(t, ()))

    # A code with a 7th character has the inclusion terms of its base code (its parent, S06.0X1 of S06.0X1A)
    base_terms = tuple(n for n in by_type.get("inclusion_term", ()) if kind == "extension" and n.source_code == parent)
    return DiagnosisCode(
        code=c,
        system="ICD-10-CM",
        description=desc,
        kind=kind,
        billable=bool(billable),
        status="billable" if billable else "header",
        release=r.release.name,
        date=day,
        chapter=DiagnosisRef(chapter, ch[0][7] if ch else "", False, "chapter"),
        block=DiagnosisRef(block, bl[0][7] if bl else "", False, "block"),
        parents=tuple(parents),
        children=children,
        inclusion_terms=tuple(n.text for n in by_type.get("inclusion_term", []) if n.source_code == c),
        notes=own("note") + own("includes") + own("seven_chr_note"),
        excludes1=own("excludes1"),
        excludes2=own("excludes2"),
        code_first=own("code_first"),
        use_additional_code=own("use_additional_code"),
        code_also=own("code_also"),
        seventh_characters=seventh,
        notices=(r.note,) if r.note else (),
        sources=(citation(r.release.files[0], row=c),),
        base_inclusion_terms=base_terms,
    )
