"""ICD-10-CM Tabular List (CDC XML): chapters, blocks, codes, their notes and 7th characters.

Codes that take a 7th character are not listed in the XML; a ``sevenChrDef`` on the code or an
ancestor defines them, with the code padded to six characters by the placeholder X. Some
categories allow only some of the defined characters with some codes, which the XML states only
in prose; when a code list of the same release lies beside the XML (``code-list-*.txt``, one code
a line, no dots) it decides which expanded codes exist. Without it every combination is made.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from medcode.sources.files import MONTHS, SourceFile, find
from medcode.sources.layout import LayoutMismatch

FAMILY = "icd10cm"
CODE_COLUMNS = ("code", "compact", "kind", "billable", "parent", "chapter", "block", "description", "seq")
NOTE_COLUMNS = ("code", "note_type", "seq", "text")

NOTE_TAGS = {
    "inclusionTerm": "inclusion_term",
    "includes": "includes",
    "excludes1": "excludes1",
    "excludes2": "excludes2",
    "codeFirst": "code_first",
    "useAdditionalCode": "use_additional_code",
    "codeAlso": "code_also",
    "notes": "note",
    "sevenChrNote": "seven_chr_note",
}
STRUCTURE_TAGS = {"name", "desc", "diag", "section", "sevenChrDef", "sectionIndex", "visualImpairment"}


def discover(root: Path) -> list[SourceFile]:
    out = []
    for path in find(root, r"icd10cm?-tabular-\w+-\d+-\d{4}\.xml"):
        m = re.search(r"tabular-(\w+)-(\d+)-(\d{4})", path.name, re.IGNORECASE)
        assert m is not None
        eff = date(int(m.group(3)), MONTHS[m.group(1).lower()], int(m.group(2)))
        fiscal_end = date(eff.year + (1 if eff.month >= 10 else 0), 9, 30)
        release = f"FY{fiscal_end.year}" + ("" if eff.month == 10 else f"-{eff:%b}".upper())
        out.append(SourceFile(FAMILY, path, release, "tabular_xml", eff, fiscal_end))
    return out


def code_list_for(sf: SourceFile) -> Path | None:
    """The release's code list, if one lies beside the XML (same folder or a ``derived`` child)."""
    m = re.search(r"tabular-(\w+)-\d+-(\d{4})", sf.path.name, re.IGNORECASE)
    if m is None:
        return None
    month, year = m.group(1), m.group(2)
    for folder in (sf.path.parent, sf.path.parent / "derived"):
        for cand in sorted(folder.glob("code-list-*.txt")):
            if month.lower() in cand.name.lower() and year in cand.name:
                return cand
    return None


def dotted(compact: str) -> str:
    return compact if len(compact) <= 3 else f"{compact[:3]}.{compact[3:]}"


@dataclass
class _Tables:
    codes: list[tuple[Any, ...]] = field(default_factory=list)
    notes: list[tuple[Any, ...]] = field(default_factory=list)


def _texts(el: ET.Element) -> list[str]:
    return [" ".join((n.text or "").split()) for n in el.findall("note")]


def _add_notes(tables: _Tables, code: str, el: ET.Element) -> None:
    seq = 0
    for child in el:
        kind = NOTE_TAGS.get(child.tag)
        if kind is None:
            if child.tag not in STRUCTURE_TAGS:
                raise ValueError(f"unknown element <{child.tag}> under {code}")
            continue
        for text in _texts(child):
            tables.notes.append((code, kind, seq, text))
            seq += 1


def _seven_chr(tables: _Tables, code: str, el: ET.Element | None) -> dict[str, str]:
    if el is None:
        return {}
    chars: dict[str, str] = {}
    seq = 1000
    last = ""
    for child in el:
        if child.tag == "extension":
            last = child.get("char", "")
            chars[last] = " ".join((child.text or "").split())
            tables.notes.append((code, "seven_chr_def", seq, f"{last}: {chars[last]}"))
        elif child.tag == "note":
            tables.notes.append((code, "seven_chr_def_note", seq, f"{last}: {' '.join((child.text or '').split())}"))
        seq += 1
    return chars


def _walk(
    tables: _Tables,
    el: ET.Element,
    parent: str,
    chapter: str,
    block: str,
    seven: dict[str, str],
    valid: set[str] | None,
) -> None:
    name = (el.findtext("name") or "").strip()
    desc = " ".join((el.findtext("desc") or "").split())
    compact = name.replace(".", "")
    _add_notes(tables, name, el)
    own_seven = _seven_chr(tables, name, el.find("sevenChrDef"))
    seven = own_seven or seven
    children = el.findall("diag")
    kind = "category" if len(compact) == 3 else "subcategory"
    takes_seventh = not children and bool(seven)
    billable = int(not children and not takes_seventh)
    tables.codes.append((name, compact, kind, billable, parent, chapter, block, desc, len(tables.codes)))
    for child in children:
        _walk(tables, child, name, chapter, block, seven, valid)
    if takes_seventh:
        base = compact.ljust(6, "X")
        for char, meaning in seven.items():
            full = base + char
            if valid is not None and full not in valid:
                continue
            tables.codes.append(
                (dotted(full), full, "extension", 1, name, chapter, block, f"{desc}, {meaning}", len(tables.codes))
            )


def _read_code_list(path: Path) -> set[str]:
    with open(path, encoding="ascii") as fh:
        return {line.strip() for line in fh if line.strip()}


def parse_tables(sf: SourceFile) -> list[tuple[str, tuple[str, ...], Iterable[tuple[Any, ...]]]]:
    try:
        root = ET.parse(sf.path).getroot()
    except ET.ParseError as exc:
        line, col = exc.position
        raise LayoutMismatch(sf.path, line, str(col), f"not well-formed XML: {exc}") from None
    if root.tag != "ICD10CM.tabular":
        raise LayoutMismatch(sf.path, 1, "1", f"root element <{root.tag}>, expected <ICD10CM.tabular>")
    listing = code_list_for(sf)
    valid = _read_code_list(listing) if listing else None
    tables = _Tables()
    for chapter in root.findall("chapter"):
        number = (chapter.findtext("name") or "").strip()
        tables.codes.append(
            (
                number,
                number,
                "chapter",
                0,
                None,
                number,
                "",
                " ".join((chapter.findtext("desc") or "").split()),
                len(tables.codes),
            )
        )
        _add_notes(tables, number, chapter)
        for section in chapter.findall("section"):
            sid = section.get("id", "")
            tables.codes.append(
                (
                    sid,
                    sid,
                    "block",
                    0,
                    number,
                    number,
                    sid,
                    " ".join((section.findtext("desc") or "").split()),
                    len(tables.codes),
                )
            )
            _add_notes(tables, sid, section)
            for diag in section.findall("diag"):
                _walk(tables, diag, sid, number, sid, {}, valid)
    if not tables.codes:
        raise LayoutMismatch(sf.path, 1, "1", "no <chapter> elements")
    return [("icd10cm_codes", CODE_COLUMNS, tables.codes), ("icd10cm_notes", NOTE_COLUMNS, tables.notes)]
