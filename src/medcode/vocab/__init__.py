"""Vocabularies kept as data (indicator meanings, ...), loaded strictly."""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources

FIELDS = ("status", "global", "pctc", "mult_proc", "bilateral", "assistant", "co_surgeon", "team",
          "mai", "aoc_type", "ptp_modifier")


class VocabularyError(ValueError):
    """A vocabulary file has an unknown field, a duplicate or a blank meaning."""


@cache
def indicators() -> dict[str, dict[str, str]]:
    """``{field: {code: meaning}}`` from ``indicators.csv``."""
    text = resources.files(__name__).joinpath("indicators.csv").read_text("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != ["field", "code", "meaning"]:
        raise VocabularyError(f"indicators.csv: header {reader.fieldnames}")
    out: dict[str, dict[str, str]] = {f: {} for f in FIELDS}
    for n, row in enumerate(reader, start=2):
        field, code, meaning = row["field"], row["code"], row["meaning"]
        if field not in out:
            raise VocabularyError(f"indicators.csv line {n}: unknown field {field!r}")
        if code in out[field] or not meaning.strip():
            raise VocabularyError(f"indicators.csv line {n}: duplicate or blank {field} {code}")
        out[field][code] = meaning
    return out


def meaning(field: str, code: str) -> str | None:
    return indicators()[field].get(code)
