"""ICD-10-CM index-family XML (CDC): the Table of Drugs and Chemicals, the Neoplasm Table and the
Index to External Causes of Injuries.

One row per (term path, code, column). The path is the titles from the main term down, joined by
", " as the printed index reads them ("Fall, falling (accidental), from, off, out of, ladder"); a
title keeps its nonessential modifiers in parentheses. In the two tables a row is one cell, and
the path ends with the column's heading in lower case ("Acetaminophen, poisoning, accidental
(unintentional)", "Neoplasm, neoplastic, breast, malignant primary"). Cells holding ``--`` (no code
applies) or ``-`` (see another entry) give no row. External-cause rows come from ``<code>``,
``<subcat>`` and ``<seecat>``; their column is that element's name. ``see``/``seeAlso`` give no row.

The reader is strict: an element it does not know, one in a place the schema does not allow it, a
term level that does not follow its parent, a cell column without a heading, or a code that is not
code-shaped stops the ingest with the file, line and field.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from medcode.sources.files import MONTHS, SourceFile, find
from medcode.sources.layout import LayoutMismatch

FAMILY = "icd10cm_index"
TABLE = "icd10cm_index_terms"
COLUMNS = ("kind", "path_text", "code", "col", "line")
KINDS = {"drug": "drug", "neoplasm": "neoplasm", "eindex": "eindex"}
NAME = re.compile(r"icd-10-cm-(drug|neoplasm|eindex)-(\d{4})\.xml", re.IGNORECASE)
# A folder like ``index-fy2025-april``: the fiscal year and, for a mid-year update, its month.
FOLDER = re.compile(r".*fy(\d{4})(?:[-_]([a-z]+))?", re.IGNORECASE)
CODE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{0,4})?-?")
NO_CODE = frozenset({"--", "-"})
# A heading of the printed Table of Drugs spans several columns ("Poisoning" over "Accidental
# (unintentional)", "Intentional self-harm", ...); the XML writes each as "Poisoning Accidental ...".
SPANNING_HEADINGS = ("Poisoning",)

# Which children each element may have (the CDC schemas, restricted to what these files use).
TERM_CHILDREN = frozenset({"title", "see", "seeAlso", "code", "seecat", "subcat", "manif", "cell", "term"})
CHILDREN: dict[str, frozenset[str]] = {
    "": frozenset({"ICD10CM.index"}),
    "ICD10CM.index": frozenset({"version", "title", "indexHeading", "letter"}),
    "indexHeading": frozenset({"head"}),
    "letter": frozenset({"title", "mainTerm"}),
    "mainTerm": TERM_CHILDREN,
    "term": TERM_CHILDREN,
    "title": frozenset({"nemod"}),
}
TEXT_ONLY = frozenset({"version", "head", "nemod", "see", "seeAlso", "code", "seecat", "subcat", "manif", "cell"})
CODE_ELEMENTS = frozenset({"code", "subcat", "seecat"})


def discover(root: Path) -> list[SourceFile]:
    out = []
    for path in find(root, NAME.pattern):
        out.append(source_file(path))
    return out


def source_file(path: Path) -> SourceFile:
    """The release of one index file: the fiscal year and month of its folder (``index-fy2025-april``),
    else the year in its name (the October release of that fiscal year)."""
    m = NAME.fullmatch(path.name)
    if m is None:
        raise ValueError(f"{path}: not an ICD-10-CM drug, neoplasm or external cause index file name")
    fiscal, month = int(m.group(2)), 10
    folder = FOLDER.fullmatch(path.parent.name)
    if folder is not None:
        fiscal = int(folder.group(1))
        if folder.group(2):
            if folder.group(2).lower() not in MONTHS:
                raise ValueError(f"{path}: folder {path.parent.name!r} names no month")
            month = MONTHS[folder.group(2).lower()]
    start = date(fiscal - 1, 10, 1) if month == 10 else date(fiscal, month, 1)
    release = f"FY{fiscal}" + ("" if month == 10 else f"-{start:%b}".upper())
    return SourceFile(FAMILY, path, release, f"index_xml_{m.group(1).lower()}", start, date(fiscal, 9, 30))


def column_label(heading: str) -> str:
    """How a column's heading reads at the end of a path: "Poisoning Accidental (unintentional)" ->
    "poisoning, accidental (unintentional)"; "Malignant Primary" -> "malignant primary"."""
    for span in SPANNING_HEADINGS:
        if heading.startswith(span + " "):
            heading = f"{span}, {heading[len(span) + 1 :]}"
    return heading.lower()


@dataclass
class _Node:
    tag: str
    line: int
    text: list[str] = field(default_factory=list)
    title: str = ""  # mainTerm/term: the title as the printed index reads it
    level: int = 0  # mainTerm 0, term its level attribute


class _Reader:
    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        self.stack: list[_Node] = []
        self.heads: dict[int, str] = {}
        self.rows: list[tuple[str, str, str, str, int]] = []
        self.parser = xml.parsers.expat.ParserCreate("utf-8")
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.chars

    def fail(self, where: str, message: str) -> LayoutMismatch:
        return LayoutMismatch(self.path, self.parser.CurrentLineNumber, where, message)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        parent = self.stack[-1].tag if self.stack else ""
        if tag not in CHILDREN.get(parent, frozenset()):
            where = f"<{parent}>" if parent else "document"
            raise self.fail(f"<{tag}>", f"element <{tag}> is not allowed in {where}")
        node = _Node(tag, self.parser.CurrentLineNumber)
        allowed = {"cell": {"col"}, "head": {"col"}, "term": {"level"}}.get(tag, set())
        unknown = set(attrs) - allowed
        if unknown:
            raise self.fail(f"<{tag}> {sorted(unknown)[0]}", f"unknown attribute {sorted(unknown)[0]!r}")
        if tag == "term":
            level = attrs.get("level", "")
            expected = self.stack[-1].level + 1
            if level != str(expected):
                raise self.fail(
                    "<term> level", f"level {level!r} under a level {expected - 1} term, expected {expected}"
                )
            node.level = expected
        if tag in ("cell", "head"):
            col = attrs.get("col", "")
            if not col.isdigit() or not 1 <= int(col) <= 9:
                raise self.fail(f"<{tag}> col", f"column {col!r} is not 1 to 9")
            node.level = int(col)
        self.stack.append(node)

    def chars(self, data: str) -> None:
        node = self.stack[-1]
        if node.tag in TEXT_ONLY or node.tag == "title":
            node.text.append(data)
        elif data.strip():
            raise self.fail(f"<{node.tag}>", f"text {data.strip()[:40]!r} directly in <{node.tag}>")

    def end(self, tag: str) -> None:
        node = self.stack.pop()
        text = " ".join("".join(node.text).split())
        parent = self.stack[-1] if self.stack else None
        if tag == "nemod":
            assert parent is not None
            parent.text.append(f" {text} ")
        elif tag == "title" and parent is not None and parent.tag in ("mainTerm", "term"):
            if not text:
                raise self.fail("<title>", f"empty title of a <{parent.tag}>")
            parent.title = text
        elif tag == "head":
            if node.level in self.heads:
                raise self.fail("<head> col", f"column {node.level} has two headings")
            self.heads[node.level] = text
        elif tag in ("mainTerm", "term") and not node.title:
            raise self.fail(f"<{tag}>", f"<{tag}> at line {node.line} has no <title>")
        elif tag == "cell" or tag in CODE_ELEMENTS:
            self.code(node, text)

    def path_text(self) -> str:
        return ", ".join(n.title for n in self.stack if n.tag in ("mainTerm", "term"))

    def code(self, node: _Node, text: str) -> None:
        owner = self.stack[-1]
        if not owner.title:
            raise self.fail(f"<{node.tag}>", f"<{node.tag}> before the <title> of its <{owner.tag}>")
        if node.tag == "cell":
            if self.kind == "eindex":
                raise self.fail("<cell>", "a table cell in the external cause index")
            heading = self.heads.get(node.level)
            if heading is None or node.level == 1:
                raise self.fail("<cell> col", f"column {node.level} has no heading (or is the term column)")
            if text in NO_CODE:
                return
            column, path = heading, f"{self.path_text()}, {column_label(heading)}"
        else:
            if self.kind != "eindex":
                raise self.fail(f"<{node.tag}>", f"<{node.tag}> in a table (cells expected)")
            column, path = node.tag, self.path_text()
        if not CODE.fullmatch(text):
            raise self.fail(f"<{node.tag}>", f"{text!r} is not an ICD-10-CM code")
        self.rows.append((self.kind, path, text, column, node.line))

    def read(self) -> list[tuple[str, str, str, str, int]]:
        try:
            with open(self.path, "rb") as fh:
                self.parser.ParseFile(fh)
        except xml.parsers.expat.ExpatError as exc:
            raise LayoutMismatch(
                self.path,
                exc.lineno,
                str(exc.offset + 1),
                f"not well-formed XML: {xml.parsers.expat.ErrorString(exc.code)}",
            ) from None
        if self.kind != "eindex" and (len(self.heads) < 2 or sorted(self.heads) != list(range(1, len(self.heads) + 1))):
            raise LayoutMismatch(self.path, 1, "<indexHeading>", f"column headings {sorted(self.heads)}, expected 1..n")
        if not self.rows:
            raise LayoutMismatch(self.path, self.parser.CurrentLineNumber, "<letter>", "no codes in the file")
        return self.rows


def read(path: Path, kind: str | None = None) -> list[tuple[str, str, str, str, int]]:
    """Rows (kind, path_text, code, column, line) of one index file; ``kind`` ("drug", "neoplasm",
    "eindex") from the file's name unless given."""
    if kind is None:
        m = NAME.fullmatch(path.name)
        if m is None:
            raise LayoutMismatch(path, 1, "file name", "expected icd-10-cm-(drug|neoplasm|eindex)-YYYY.xml")
        kind = m.group(1).lower()
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return _Reader(path, KINDS[kind]).read()


def parse(sf: SourceFile) -> Iterator[tuple[str, str, str, str, int]]:
    yield from read(sf.path)
