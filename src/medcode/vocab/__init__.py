"""Vocabularies kept as data (indicator meanings, ...), loaded strictly."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

FIELDS = (
    "status",
    "global",
    "pctc",
    "mult_proc",
    "bilateral",
    "assistant",
    "co_surgeon",
    "team",
    "phys_supervision",
    "mai",
    "aoc_type",
    "ptp_modifier",
)


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


def _pairs(name: str, text: str | None = None) -> list[tuple[int, str, str]]:
    """(line, key, value) of a two-column tab-separated vocabulary; ``#`` lines are comments."""
    if text is None:
        text = resources.files(__name__).joinpath(name).read_text("utf-8")
    out, seen = [], set()
    for n, line in enumerate(text.splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not all(f and f == f.strip() for f in fields):
            raise VocabularyError(f"{name} line {n}: expected key<TAB>value, got {line!r}")
        key, value = fields
        if key in seen:
            raise VocabularyError(f"{name} line {n}: duplicate key {key!r}")
        seen.add(key)
        out.append((n, key, value))
    return out


@cache
def abbreviations() -> dict[str, str]:
    """CMS short-descriptor abbreviation -> expansion (``abbreviations.tsv``, keys lower case)."""
    out = {}
    for n, key, value in _pairs("abbreviations.tsv"):
        if key != key.lower() or key.count(" ") > 1:
            raise VocabularyError(f"abbreviations.tsv line {n}: key {key!r} must be one or two lower-case words")
        out[key] = value
    return out


@cache
def synonyms() -> dict[str, tuple[str, ...]]:
    """Lay phrase -> the words the descriptors use (``synonyms.tsv``, phrases lower case)."""
    out = {}
    for n, key, value in _pairs("synonyms.tsv"):
        alternatives = tuple(a.strip() for a in value.split(";"))
        if key != key.lower() or "  " in key or not all(alternatives):
            raise VocabularyError(f"synonyms.tsv line {n}: lower-case phrase and '; '-separated alternatives")
        out[key] = alternatives
    return out


@cache
def cpt_modifiers() -> dict[str, str]:
    """Common CPT modifier -> description in medcode's words (``cpt_modifiers.tsv``)."""
    out = {}
    for n, key, value in _pairs("cpt_modifiers.tsv"):
        if len(key) != 2 or not key.isdigit():
            raise VocabularyError(f"cpt_modifiers.tsv line {n}: {key!r} is not a two-digit CPT modifier")
        out[key] = value
    return out


@cache
def places_of_service() -> dict[str, tuple[str, str]]:
    """Place-of-service code -> (PFS setting, name) from ``place_of_service.tsv``."""
    return {key: (setting, name) for key, (setting, name, _) in _places().items()}


@cache
def place_of_service_from() -> dict[str, date | None]:
    """Place-of-service code -> its first valid date of service (None: valid on every date)."""
    return {key: first for key, (_, _, first) in _places().items()}


@cache
def _places() -> dict[str, tuple[str, str, date | None]]:
    out = {}
    for n, key, value in _pairs("place_of_service.tsv"):
        setting, name, *rest = value.split("|")
        try:
            first = date.fromisoformat(rest[0]) if len(rest) == 1 and len(rest[0]) == 10 else None
        except ValueError:
            first = None
        if (
            len(key) != 2
            or not key.isascii()
            or not key.isdigit()
            or setting not in ("facility", "nonfacility")
            or not name
            or (rest and first is None)
        ):
            raise VocabularyError(
                f"place_of_service.tsv line {n}: expected NN<TAB>facility|name or "
                "nonfacility|name, then optionally |YYYY-MM-DD"
            )
        out[key] = (setting, name, first)
    return out


@cache
def code_families() -> dict[str, tuple[tuple[str, ...], str]]:
    """Family -> (codes that exclude each other on one date, what decides) from ``code_families.tsv``."""
    out = {}
    for n, key, value in _pairs("code_families.tsv"):
        codes, _, rule = value.partition("|")
        members = tuple(codes.split())
        if len(members) < 2 or not rule or any(len(c) != 5 for c in members):
            raise VocabularyError(f"code_families.tsv line {n}: expected family<TAB>codes|rule")
        out[key] = (members, rule)
    return out


DOCUMENTATION_KINDS = ("document", "denial")


@cache
def code_documentation(text: str | None = None) -> dict[str, dict[str, tuple[str, ...]]]:
    """Family -> {"document": what the note must show, "denial": curated denial reasons} from
    ``code_documentation.tsv`` (or ``text``); every family must be one of ``code_families``."""
    if text is None:
        text = resources.files(__name__).joinpath("code_documentation.tsv").read_text("utf-8")
    families = code_families()
    out: dict[str, dict[str, list[str]]] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        family, _, rest = line.partition("\t")
        kind, _, value = rest.partition("|")
        if family not in families:
            raise VocabularyError(f"code_documentation.tsv line {n}: unknown family {family!r}")
        if kind not in DOCUMENTATION_KINDS or not value.strip() or "\t" in value:
            raise VocabularyError(
                f"code_documentation.tsv line {n}: expected family<TAB>document|text or family<TAB>denial|text"
            )
        out.setdefault(family, {k: [] for k in DOCUMENTATION_KINDS})[kind].append(value)
    return {f: {k: tuple(v) for k, v in kinds.items()} for f, kinds in out.items()}


def family_choices(family: str) -> dict[str, str]:
    """What picks each code of a family, read from its rule where the rule names the codes
    ("deep (beneath the fascia) 20700, intramedullary 20702, ..." gives 20700: deep (beneath the fascia))."""
    members, rule = code_families()[family]
    out = {}
    for code in members:
        m = re.search(r"(?:^|[:,;])\s*([^:,;]*?)\s+" + code + r"\b", rule)
        if m and m.group(1):
            out[code] = m.group(1)
    return out


def family_of(code: str) -> str | None:
    """The family (``code_families``) the code belongs to, if any."""
    return next((f for f, (members, _) in code_families().items() if code in members), None)


LAY_CODE = re.compile(r"[0-9A-Z]{3}(?:\.?[0-9A-Z]{1,4})?")


@cache
def lay_descriptions(folder: Path | None = None) -> dict[str, str]:
    """Code -> plain-language description in medcode's own words, from every ``lay_*.tsv`` of this
    package (or of ``folder``): ``code<TAB>description``, ``#`` lines are comments. A malformed line,
    a code that is not a code, an empty description or a code given twice (in one file or across
    files) is an error naming the file and line."""
    entries = resources.files(__name__).iterdir() if folder is None else folder.iterdir()
    files = [(f.name, f.read_text("utf-8")) for f in entries if f.name.startswith("lay_")]
    out: dict[str, str] = {}
    where: dict[str, str] = {}
    for name, text in sorted(f for f in files if f[0].endswith(".tsv")):
        for n, code, value in _pairs(name, text):
            if not LAY_CODE.fullmatch(code):
                raise VocabularyError(f"{name} line {n}: {code!r} is not a CPT, HCPCS or ICD-10-CM code")
            if code in out:
                raise VocabularyError(f"{name} line {n}: code {code} is described already ({where[code]})")
            out[code] = value
            where[code] = f"{name} line {n}"
    return out
