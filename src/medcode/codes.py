"""Code shapes (CPT, HCPCS Level II, ICD-10-CM), their errors, and nearest-code suggestions."""

from __future__ import annotations

import re

from medcode.kb.store import KnowledgeBase

_PROCEDURE = re.compile(r"[0-9A-Z]{5}")
_ICD = re.compile(r"[A-Z][0-9A-Z][0-9A-Z](\.?[0-9A-Z]{1,4})?")


class MalformedCode(ValueError):
    """Text that cannot be a CPT, HCPCS or ICD-10-CM code."""

    def __init__(self, code: str):
        self.code = code
        super().__init__(f"{code!r} is not a CPT, HCPCS or ICD-10-CM code")


class UnknownCode(LookupError):
    """A well-formed code that the knowledge base does not hold."""

    def __init__(self, code: str, suggestions: list[str], message: str | None = None):
        self.code = code
        self.suggestions = suggestions
        super().__init__(message or f"{code} not found")


def normalize(code: str) -> str:
    return code.strip().upper()


def kinds(code: str) -> list[str]:
    """Which systems ``code`` could belong to, most likely first.

    Five characters are CPT or HCPCS (a letter and four digits may also be an ICD-10-CM code
    written without its dot: J1100 is HCPCS first, J11.00 is ICD-10-CM). A dot or any other
    length means ICD-10-CM.
    """
    if "." not in code and _PROCEDURE.fullmatch(code):
        return ["procedure", "diagnosis"] if _ICD.fullmatch(code) else ["procedure"]
    if _ICD.fullmatch(code):
        return ["diagnosis"]
    raise MalformedCode(code)


def system_of(code: str) -> str:
    return "HCPCS" if code[0].isalpha() else "CPT"


def compact_icd(code: str) -> str:
    return code.replace(".", "")


def suggest(kb: KnowledgeBase, code: str, limit: int = 5) -> list[str]:
    """Existing codes next to ``code`` in code order, nearest first."""
    code = normalize(code)
    out: list[str] = []
    try:
        systems = kinds(code)
    except MalformedCode:
        return []
    for system in systems:
        if system == "procedure":
            sql_lo = (
                "SELECT code FROM (SELECT hcpcs AS code FROM rvus UNION SELECT code FROM hcpcs_codes"
                " WHERE record_id = '3') WHERE code < ? ORDER BY code DESC LIMIT ?"
            )
            sql_hi = sql_lo.replace("code < ?", "code > ?").replace("DESC", "ASC")
            key = code
        else:
            sql_lo = (
                "SELECT code FROM (SELECT DISTINCT compact, code FROM icd10cm_codes WHERE kind "
                "NOT IN ('chapter', 'block')) WHERE compact < ? ORDER BY compact DESC LIMIT ?"
            )
            sql_hi = sql_lo.replace("compact < ?", "compact > ?").replace("DESC", "ASC")
            key = compact_icd(code)
        below = [r[0] for r in kb.query(sql_lo, (key, limit))]
        above = [r[0] for r in kb.query(sql_hi, (key, limit))]
        merged: list[str] = []
        for i in range(limit):
            for side in (above, below):
                if i < len(side) and side[i] not in merged:
                    merged.append(side[i])
        out.extend(merged)
        if out:
            break
    return out[:limit]
