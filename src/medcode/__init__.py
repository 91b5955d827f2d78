"""medcode: medical coding reference, pricing and claim checking from official CMS and CDC files.

import medcode
kb = medcode.open_kb()                      # MEDCODE_HOME/kb, built by `medcode ingest`
page = medcode.get_code(kb, "20702")        # ProcedureCode or DiagnosisCode
fee = medcode.price(kb, "99213", zip_code="10001")
hits = medcode.search(kb, "antibiotic rod in the bone").hits
"""

from __future__ import annotations

import os
from pathlib import Path

# Polars allocates through jemalloc, which by default hands freed pages back to the system within
# a second or so; the batch claim checker frees and reallocates hundreds of megabytes a second,
# and refaulting those pages cost about a tenth of its run time. Keep freed pages for ten seconds
# (read when Polars loads, so it must be set before polars is first imported; a value the user
# set is kept).
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:10000")

from medcode.assistant import ask
from medcode.audit import Audit, audit
from medcode.claims import Checker, Claim, ClaimInputError, Line, check_claim
from medcode.codes import MalformedCode, UnknownCode
from medcode.ingest import IngestError, ingest
from medcode.kb.db import KnowledgeBaseMissing
from medcode.kb.models import DiagnosisCode, Price, ProcedureCode, PtpPage
from medcode.kb.store import KnowledgeBase
from medcode.lookup import get_code, ptp_pairs
from medcode.pricing import PricingError, UnknownLocality, price, price_all_localities
from medcode.search import SearchError, autocomplete, search
from medcode.sources.layout import LayoutMismatch
from medcode.suggest import Suggestion, suggest

__all__ = [
    "Audit",
    "ask",
    "audit",
    "Checker",
    "Claim",
    "ClaimInputError",
    "Line",
    "check_claim",
    "DiagnosisCode",
    "IngestError",
    "KnowledgeBase",
    "KnowledgeBaseMissing",
    "LayoutMismatch",
    "MalformedCode",
    "Price",
    "PricingError",
    "ProcedureCode",
    "PtpPage",
    "SearchError",
    "UnknownCode",
    "UnknownLocality",
    "autocomplete",
    "get_code",
    "ingest",
    "open_kb",
    "price",
    "price_all_localities",
    "ptp_pairs",
    "search",
    "suggest",
    "Suggestion",
]
__version__ = "0.1.0"


def open_kb(home: Path | str | None = None) -> KnowledgeBase:
    """Open the knowledge base under ``home`` (default: the MEDCODE_HOME setting)."""
    from medcode import settings
    from medcode.kb.store import open_kb as _open

    return _open(Path(home) if home is not None else settings.load().home)
