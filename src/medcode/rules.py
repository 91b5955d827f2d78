"""THE rule table: what the PFS indicators, status codes, modifiers and payment shares mean for a
claim. Read by the per-claim checks, the batch engine, repricing, the code page guide and the
modifier pages; nothing else writes these rules down.

It is plain data (no I/O and no medcode imports), so that every layer can read it: ``pricing``
and ``claims`` both import it without an import cycle. Each entry says which CMS text it comes
from (RVU26B.pdf, the PFS relative value file record layout; the NCCI policy manual).
"""

from __future__ import annotations

from decimal import Decimal

# --- findings -------------------------------------------------------------------------------

SEVERITY_ORDER = {"deny": 0, "warn": 1, "info": 2}

# --- claims --------------------------------------------------------------------------------

# What medcode checks on one claim: the 837P 005010X222A1 limits (loop 2400 repeats at most 50
# times; HI carries at most 12 diagnoses; SV1 at most 4 modifiers). Larger claims are refused with
# a ``validity.bad_input`` finding, so no check grows with the square of a claim's size.
MAX_LINES = 50
MAX_DIAGNOSES = 12
MAX_MODIFIERS = 4

# --- codes ----------------------------------------------------------------------------------

EM_FIRST, EM_LAST = 99202, 99499  # evaluation and management services


def is_em(code: str) -> bool:
    """An evaluation and management code (99202-99499)."""
    return len(code) == 5 and code.isdigit() and EM_FIRST <= int(code) <= EM_LAST


# --- PFS status -----------------------------------------------------------------------------

PAYABLE_STATUSES = frozenset("ART")  # statuses the PFS pays (R and T with conditions)

# --- modifiers and indicators (filled in by the rules work of issue 12) ----------------------

# --- payment shares -------------------------------------------------------------------------

ASSISTANT_SHARE = {"80": Decimal("0.16"), "81": Decimal("0.16"), "82": Decimal("0.16"),
                   "AS": Decimal("0.136")}  # AS: 85% of the 16% an assistant surgeon gets
CO_SURGEON_SHARE = Decimal("0.625")
BILATERAL_SHARE = Decimal("1.5")
