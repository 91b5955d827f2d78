"""ICD-10-CM Official Guidelines for Coding and Reporting (CDC/NCHS PDF), one row per section.

The PDF's outline (bookmarks) gives the headings in order; each heading's label gives its place in
the numbering the guidelines use for cross references: "Section I." > "C." > "9." > "a." > "2)" >
"(a)" > "(i)" read as ``I.C.9.a.2.a.i``. The label decides the level, not the bookmark's depth (one
bookmark of the FY2026 file sits a level too deep). A section's text is what the pages say between
its heading and the next one, without the running header ("ICD-10-CM Official Guidelines ...
Page N of 121") and without the table of contents. ``page`` is the page the heading is printed on:
the 1-based PDF page, which is also the printed "Page N of M" (checked on every page that has it).
The introduction before Section I is numbered ``Intro``; Appendix I (present on admission) ``App.I``.

The reader is strict: a file whose first page does not name the fiscal year of its release, a page
after the first without its "Page N of M" header (or with another N), an outline heading without a
label, or a heading not found in the page text stops the ingest with the file and the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from medcode.sources.files import MONTHS, SourceFile, find
from medcode.sources.layout import LayoutMismatch

FAMILY = "icd10cm_guidelines"
TABLE = "icd10cm_guidelines"
COLUMNS = ("number", "title", "parent", "depth", "page", "page_end", "seq", "text")
# CMS/CDC download names: icd_10_cm_october_2025_guidelines_0.pdf, "ICD-10-CM April 1 2026 Guidelines Final.pdf"
NAME = re.compile(r"icd[-_ ]?10[-_ ]?cm[-_ ].*guidelines.*\.pdf", re.IGNORECASE)
WHEN = re.compile(r"(january|april|july|october|jan|apr|jul|oct)[-_ ](?:\d{1,2}[-_ ])?(20\d\d)", re.IGNORECASE)
PAGE_HEADER = re.compile(r"Page (\d+) of (\d+)")
DOT_LEADER = re.compile(r"\.{6,}\s*\d+\s*$")

# Heading labels, outermost first: (kind, pattern). "(i)" may be a letter or a roman numeral.
LABELS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("section", re.compile(r"Section ([IVX]+)\.?\s+")),
    ("appendix", re.compile(r"Appendix ([IVX]+)\b\s*")),
    ("upper", re.compile(r"([A-Z])\.\s+")),
    ("number", re.compile(r"(\d{1,2})\.\s+")),
    ("lower", re.compile(r"([a-z])\.\s+")),
    ("number_paren", re.compile(r"(\d{1,2})\)\s+")),
    ("letter_paren", re.compile(r"\(([a-z])\)\s+")),
    ("roman_paren", re.compile(r"\(([ivx]+)\)\s+")),
)
RANK = {"section": 0, "appendix": 0, "upper": 1, "number": 2, "lower": 3, "number_paren": 4}
RANK |= {"letter_paren": 5, "roman_paren": 6}
ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii")


class GuidelinesMismatch(LayoutMismatch):
    """The PDF is not laid out as the reader expects; ``line`` holds the page."""

    def __init__(self, file: Path | str, page: int, where: str, message: str):
        super().__init__(file, page, where, message)
        self.page = page
        self.args = (f"{file}: page {page}, {where}: {message}",)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        return (GuidelinesMismatch, (self.file, self.line, self.column, self.message))


@dataclass(frozen=True)
class Section:
    number: str  # I.C.9.a.2
    title: str
    parent: str  # the number of the enclosing section, "" at the top
    depth: int
    page: int  # where the heading is printed (PDF page = printed page)
    page_end: int
    seq: int
    text: str

    def row(self) -> tuple[str, str, str, int, int, int, int, str]:
        return (self.number, self.title, self.parent, self.depth, self.page, self.page_end, self.seq, self.text)


def discover(root: Path) -> list[SourceFile]:
    return [source_file(path) for path in find(root, NAME.pattern)]


def source_file(path: Path) -> SourceFile:
    """The release from the month and year in the name: an October file starts fiscal year + 1
    (``october_2025`` = FY2026, October 1 2025 to September 30 2026); another month is a mid-year
    update of its fiscal year (``April 1 2026`` = FY2026-APR, April 1 to September 30 2026)."""
    m = WHEN.search(path.name)
    if m is None:
        raise ValueError(f"{path}: no month and year in the guidelines file name")
    month, year = MONTHS[m.group(1).lower()], int(m.group(2))
    fiscal = year + 1 if month >= 10 else year
    start = date(year, month, 1)
    release = f"FY{fiscal}" + ("" if month == 10 else f"-{start:%b}".upper())
    return SourceFile(FAMILY, path, release, "pdf_outline", start, date(fiscal, 9, 30))


def squash(text: str) -> str:
    """Letters and digits only, lower case: headings compare across line breaks, stray spaces
    ("ICD -10") and curly quotes."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def split_label(title: str, top: tuple[str, str] | None) -> tuple[str, str, str] | None:
    """(kind, label, rest) of a heading; ``top`` is the (kind, label) of the heading it may nest in."""
    title = " ".join(title.split())
    for kind, pattern in LABELS:
        m = pattern.match(title + " ")
        if m is None:
            continue
        label, rest = m.group(1), (title + " ")[m.end() :].strip()
        if kind == "letter_paren" and label in ROMAN and top is not None:
            top_kind, top_label = top
            after = ROMAN.index(top_label) + 1 if top_kind == "roman_paren" and top_label in ROMAN else -1
            if (top_kind == "roman_paren" and 0 <= after < len(ROMAN) and ROMAN[after] == label) or (
                top_kind == "letter_paren" and label == "i" and top_label != "h"
            ):
                kind = "roman_paren"
        return kind, label, rest
    return None


def _outline(reader: Any, path: Path) -> list[tuple[str, int]]:
    """(title, 1-based page) of every bookmark, in document order."""
    out: list[tuple[str, int]] = []

    def walk(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
                continue
            page = reader.get_destination_page_number(item)
            if page is None or page < 0:
                raise GuidelinesMismatch(path, 1, "outline", f"bookmark {item.title!r} points to no page")
            out.append((str(item.title), page + 1))

    walk(reader.outline)
    if not out:
        raise GuidelinesMismatch(path, 1, "outline", "the PDF has no outline (bookmarks)")
    return out


def _lines(texts: list[str], path: Path) -> list[tuple[int, str]]:
    """(page, line) of the body text: running headers dropped, table-of-contents pages skipped."""
    out: list[tuple[int, str]] = []
    for n, text in enumerate(texts, start=1):
        lines = text.split("\n")
        if n > 1:
            head = [i for i, line in enumerate(lines[:8]) if PAGE_HEADER.search(line)]
            if not head:
                raise GuidelinesMismatch(path, n, "header", "no 'Page N of M' line at the top of the page")
            m = PAGE_HEADER.search(lines[head[0]])
            assert m is not None
            if int(m.group(1)) != n or int(m.group(2)) != len(texts):
                raise GuidelinesMismatch(
                    path, n, "header", f"printed {m.group(0)!r}, expected page {n} of {len(texts)}"
                )
            lines = lines[head[0] + 1 :]
        if sum(1 for line in lines if DOT_LEADER.search(line)) >= 5:
            continue  # a page of the table of contents
        out.extend((n, " ".join(line.split())) for line in lines)
    return out


def _check_release(sf: SourceFile, first_page: str) -> None:
    """The title's fiscal year (the first "FY yyyy" of page 1) must be the release's."""
    fiscal = sf.release[2:6]
    m = re.search(r"FY\s*(\d{4})", first_page)
    if m is None or m.group(1) != fiscal:
        said = f"FY {m.group(1)}" if m else "no fiscal year"
        raise GuidelinesMismatch(sf.path, 1, "title", f"the first page names {said}, not FY {fiscal} ({sf.release})")


def read(sf: SourceFile) -> list[Section]:
    """The sections of one guidelines PDF, in document order."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    path = sf.path
    try:
        reader = PdfReader(path)
        texts = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as exc:
        raise GuidelinesMismatch(path, 1, "file", f"not a readable PDF: {exc}") from None
    if not texts:
        raise GuidelinesMismatch(path, 1, "file", "the PDF has no pages")
    _check_release(sf, texts[0])
    lines = _lines(texts, path)
    outline = _outline(reader, path)
    squashed = [squash(line) for _, line in lines]

    # Number every bookmark from its label.
    heads: list[tuple[str, str, str, int, int]] = []  # number, title, parent, depth, page
    stack: list[tuple[str, str]] = []  # (kind, label)
    for title, page in outline:
        found = split_label(title, stack[-1] if stack else None)
        if found is None:
            if not stack and not heads:
                heads.append(("Intro", " ".join(title.split()), "", 0, page))
                continue
            if heads and heads[-1][0].startswith("App.") and page == heads[-1][4]:
                number, old, parent, depth, p = heads[-1]  # "Appendix I" then its title
                heads[-1] = (number, f"{old}. {' '.join(title.split())}" if old else title, parent, depth, p)
                continue
            raise GuidelinesMismatch(path, page, "outline", f"heading {title!r} has no section label")
        kind, label, rest = found
        while stack and RANK[stack[-1][0]] >= RANK[kind]:
            stack.pop()
        if RANK[kind] > 0 and not stack:
            raise GuidelinesMismatch(path, page, "outline", f"heading {title!r} comes before any section")
        parent = ".".join(lab for _, lab in stack)
        stack.append((kind, label))
        prefix = "App." if stack[0][0] == "appendix" else ""
        number = prefix + ".".join(lab for _, lab in stack)
        parent = (prefix + parent) if parent else ""
        heads.append((number, rest if kind != "appendix" else f"Appendix {label}", parent, len(stack) - 1, page))

    # Find each heading in the text, in order, from its bookmark's page on.
    starts: list[tuple[int, int]] = []  # (first line of the heading, first line of its body)
    cursor = 0
    for (number, _title, _, _, page), (raw_title, _) in zip(heads, _outline_titles(outline, heads), strict=True):
        target = squash(raw_title)
        want = target[:40]
        at = _find(lines, squashed, cursor, page, want)
        if at is None:
            raise GuidelinesMismatch(path, page, number, f"heading {raw_title!r} not found on page {page} or after")
        body, got = at, ""
        while body < len(lines) and body < at + 4 and len(got) < len(target):
            got += squashed[body]
            body += 1
        starts.append((at, body))
        cursor = body

    sections = []
    for i, (number, title, parent, depth, _) in enumerate(heads):
        at, body = starts[i]
        end = starts[i + 1][0] if i + 1 < len(starts) else len(lines)
        text = _paragraphs(line for _, line in lines[body:end])
        filled = [lines[j][0] for j in range(at, end) if lines[j][1]]
        page_end = filled[-1] if filled else lines[at][0]
        sections.append(Section(number, title, parent, depth, lines[at][0], page_end, i + 1, text))
    seen: set[str] = set()
    for s in sections:
        if s.number in seen:
            raise GuidelinesMismatch(path, s.page, s.number, f"section {s.number} appears twice")
        seen.add(s.number)
    return sections


def _outline_titles(
    outline: list[tuple[str, int]], heads: list[tuple[str, str, str, int, int]]
) -> list[tuple[str, int]]:
    """The bookmark title each numbered heading is printed as (the appendix keeps its first title)."""
    out: list[tuple[str, int]] = []
    i = 0
    for number, *_ in heads:
        out.append(outline[i])
        i += 1
        if number.startswith("App.") and i < len(outline) and split_label(outline[i][0], None) is None:
            i += 1
    return out


def _find(lines: list[tuple[int, str]], squashed: list[str], cursor: int, page: int, want: str) -> int | None:
    for i in range(cursor, len(lines)):
        if lines[i][0] < page or not squashed[i]:
            continue
        if lines[i][0] > page + 1:
            return None
        joined = "".join(squashed[i : i + 4])
        if joined.startswith(want):
            return i
    return None


def _paragraphs(lines: Iterator[str]) -> str:
    """Lines joined into paragraphs (a blank line ends one); a word broken by a hyphen stays broken."""
    paras: list[list[str]] = [[]]
    for line in lines:
        if line:
            paras[-1].append(line)
        elif paras[-1]:
            paras.append([])
    return "\n".join(" ".join(p) for p in paras if p)


def parse(sf: SourceFile) -> Iterator[tuple[str, str, str, int, int, int, int, str]]:
    for section in read(sf):
        yield section.row()
