"""What the knowledge base says about suggested codes on the date of service: whether each exists
and can be reported, its description, and the PFS indicators the modifiers depend on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from medcode.codes import compact_icd
from medcode.kb.store import KnowledgeBase

# PFS status indicators of codes that cannot be reported (deleted).
NOT_REPORTABLE_STATUS = frozenset({"D"})


@dataclass(frozen=True)
class Facts:
    code: str
    system: str  # "CPT" | "HCPCS" | "ICD-10-CM"
    description: str
    billable: bool  # exists and can be reported on the date (ICD-10-CM: a billable code, not a header)
    status: str = ""  # PFS status indicator ("" when the code has no PFS row)
    bilateral: str = ""  # PFS bilateral surgery indicator
    global_days: str = ""
    work_rvu: float = 0.0


def _chunks(codes: list[str], n: int = 400) -> list[list[str]]:
    return [codes[i : i + n] for i in range(0, len(codes), n)]


def procedure_facts(kb: KnowledgeBase, codes: list[str], day: date | None) -> tuple[dict[str, Facts], list[str]]:
    """Facts of CPT/HCPCS ``codes`` on ``day`` (codes unknown on the date are missing) and the notices of
    releases used that are not in force on the date."""
    out: dict[str, Facts] = {}
    notices: list[str] = []
    codes = sorted(set(codes))
    if not codes:
        return out, notices
    pfs = kb.resolve("pprrvu", day)
    if pfs is not None:
        if pfs.note:
            notices.append(pfs.note)
        for part in _chunks(codes):
            rows = kb.query(
                "SELECT hcpcs, description, status, bilateral, global_days, work FROM rvus WHERE release_id = ?"
                f" AND modifier = '' AND hcpcs IN ({','.join('?' * len(part))})",
                (pfs.release.ids[0], *part),
            )
            for code, desc, status, bilateral, glob, work in rows:
                out[code] = Facts(
                    code,
                    "HCPCS" if code[0].isalpha() else "CPT",
                    desc,
                    status not in NOT_REPORTABLE_STATUS,
                    status,
                    bilateral,
                    glob,
                    float(work or 0.0),
                )
    level2 = [c for c in codes if c[0].isalpha()]
    hcpcs = kb.resolve("hcpcs", day) if level2 else None
    if hcpcs is not None:
        if hcpcs.note and hcpcs.note not in notices:
            notices.append(hcpcs.note)
        for part in _chunks(level2):
            rows = kb.query(
                "SELECT code, group_concat(long_description, ' ') FROM (SELECT code, long_description FROM"
                f" hcpcs_codes WHERE release_id = ? AND record_id != '7' AND code IN ({','.join('?' * len(part))})"
                " ORDER BY code, seqnum) GROUP BY code",
                (hcpcs.release.ids[0], *part),
            )
            for code, text in rows:
                old = out.get(code)
                if old is None:
                    out[code] = Facts(code, "HCPCS", str(text), True)
                else:  # the long description reads better than the PFS short descriptor
                    out[code] = Facts(
                        code, "HCPCS", str(text), old.billable, old.status, old.bilateral, old.global_days, old.work_rvu
                    )
    return out, notices


def diagnosis_facts(kb: KnowledgeBase, codes: list[str], day: date | None) -> tuple[dict[str, Facts], list[str]]:
    """Facts of ICD-10-CM ``codes`` (dotted) on ``day``; chapters and blocks are not codes."""
    out: dict[str, Facts] = {}
    notices: list[str] = []
    codes = sorted(set(codes))
    r = kb.resolve("icd10cm", day) if codes else None
    if r is None:
        return out, notices
    if r.note:
        notices.append(r.note)
    for part in _chunks(codes):
        rows = kb.query(
            "SELECT code, billable, description FROM icd10cm_codes WHERE release_id = ?"
            f" AND kind NOT IN ('chapter', 'block') AND compact IN ({','.join('?' * len(part))})",
            (r.release.ids[0], *[compact_icd(c) for c in part]),
        )
        for code, billable, desc in rows:
            out[code] = Facts(code, "ICD-10-CM", desc, bool(billable))
    return out, notices
