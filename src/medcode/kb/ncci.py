"""When an NCCI edit is in force on a date of service, and which add-on code edit applies to a
code on a day: the one rule the claim checks (both engines) and the code pages read.

CMS gives each PTP edit and each add-on code edit an effective date and, once deleted, a deletion
date. The deletion date is the **last day the edit is in force**; the edit is out from the next
day. CMS's own files say so (see docs/claims.md, "Dates of edits and releases"):

- the add-on code file hands edits over from one type to the next with a deletion date on the
  last day of a year and the next effective date on the first day of the following year (20701:
  type 1 deleted ``2022365``, type 3 effective ``2023001``); read as the first day out, every such
  handover would leave a day with no edit;
- PTP deletion dates fall on the last day of a quarter (``20221231``, ``20240331`` ...) while the
  quarterly versions take effect on the first day of a quarter (777,344 of the 876,197
  deletion dates of the 2024 Q3 practitioner file); every other deletion date (a quarter's first day,
  three days of 2000) is an edit deleted back to its start, with modifier indicator 9 (CMS: "the
  edit was deleted retroactively"), like the add-on edits whose deletion date equals their
  effective date ("temporarily suspended retroactive to 1/1/2019").

So an edit is in force on day D when ``effective <= D <= deleted``, except an edit deleted on (or
before) its effective date, which never was. MUE files carry no dates: the release in force
decides.

Dates compare as values of one kind: ISO text (add-on file) or YYYYMMDD integers (PTP files).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import polars as pl

D = TypeVar("D", str, int)

NO_PRIMARY_LIST = "CCCCC"  # type 2: "Contractor Defined Primary Codes"


def in_force(effective: D | None, deleted: D | None, day: D) -> bool:
    """Whether an edit with these dates is in force on ``day`` (None: no date of that kind)."""
    if effective is not None and day < effective:
        return False
    if deleted is None:
        return True
    return day <= deleted and (effective is None or deleted > effective)


# The same rule in SQL over columns ``effective`` and ``deleted``; bind the day twice.
IN_FORCE_SQL = (
    "(effective IS NULL OR effective <= ?) AND (deleted IS NULL OR (deleted >= ? "
    "AND (effective IS NULL OR deleted > effective)))"
)
# ... and over a table whose missing dates are written as 0 (effective) and 99999999 (deleted).
IN_FORCE_FILLED_SQL = "effective <= ? AND deleted >= ? AND deleted > effective"


def in_force_expr(day: pl.Expr, effective: str = "effective", deleted: str = "deleted") -> pl.Expr:
    """The same rule as a Polars expression (``day`` of the columns' kind)."""
    import polars as pl

    eff, dele = pl.col(effective), pl.col(deleted)
    return (eff.is_null() | (eff <= day)) & (dele.is_null() | ((dele >= day) & (eff.is_null() | (dele > eff))))


def iso(day: date | None) -> str:
    """``day`` as the add-on file's dates are kept; None (no date: the edits not deleted) as the
    last day there is."""
    return day.isoformat() if day else "9999-12-31"


def yyyymmdd(day: date | None) -> int:
    """``day`` as the PTP files' dates are kept; None as the last day there is."""
    return day.year * 10000 + day.month * 100 + day.day if day else 99991231


@dataclass(frozen=True)
class AddonEdit:
    """The add-on code edit of one code in force on a day: its type, its primary codes (in file
    order; none for type 2) and the first of its rows (effective date and line of the file)."""

    type: str
    primaries: tuple[str, ...]
    effective: str | None
    line: int


def addon_edit(rows: Iterable[tuple[str, str, str | None, str | None, int]], day: date | None) -> AddonEdit | None:
    """THE add-on code edit in force for a code on ``day`` (None: the edits not deleted), from its
    rows ``(edit_type, primary_code, effective, deleted, line)`` in file order: the type of the
    first row in force and the primary codes of every row in force."""
    on = iso(day)
    live = [r for r in rows if in_force(r[2], r[3], on)]
    if not live:
        return None
    first = live[0]
    return AddonEdit(first[0], tuple(r[1] for r in live if r[1] != NO_PRIMARY_LIST), first[2], first[4])
