"""The requirement catalogue of the documentation audit: one strict TOML file per code family in
``medcode/vocab/audit`` (``<family>.toml``).

A file names its family, its codes (an explicit list of 5-character codes), an optional module
(``medcode.audit.families.<module>``, which judges the family) and its elements, each with an id,
a label, whether it is required, its source, a query to the physician, and the words that satisfy it
(``patterns``, regexes on the lower-case note), the words that negate it (``negations``), the words
that must match the code billed (``by_code``) or a ``rule`` of the family's module (a name in the
module's ``RULES``). Loaded strictly: an unknown key, a missing one, a malformed or duplicate code,
an empty or invalid pattern, an element that nothing can satisfy, a duplicate element id, an unknown
section, module or rule, or a source that names none of the allowed kinds is a ``CatalogueError``
naming the file, the line where it can tell, the key and the element. ``validate(kb)`` checks that
every code is in the knowledge base.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from medcode.vocab import VocabularyError

__all__ = [
    "CatalogueError",
    "ElementSpec",
    "Family",
    "GENERIC_IDS",
    "catalogue",
    "family_of",
    "load_text",
    "validate",
]

FOLDER = "audit"
CODE = re.compile(r"[0-9A-Z]{5}")
ID = re.compile(r"[a-z][a-z0-9_]*")
FAMILY_KEYS = {"family": str, "label": str, "codes": list, "module": str, "source": str, "elements": list}
FAMILY_REQUIRED = ("family", "label", "codes", "source", "elements")
ELEMENT_KEYS = {
    "id": str,
    "label": str,
    "required": bool,
    "source": str,
    "query": str,
    "patterns": list,
    "negations": list,
    "skip_sections": list,
    "rule": str,
    "by_code": dict,
}
ELEMENT_REQUIRED = ("id", "label", "query")
# A source names one of: a CMS manual chapter, an NCCI policy manual chapter, an MLN booklet, the CPT
# descriptor wording of the user's own fee schedule file, or medcode.
SOURCE = re.compile(r"\bCMS\b|\bMedicare\b|\bNCCI\b|\bMLN\b|CPT descriptor wording|\bmedcode\b")
# The generic elements (``medcode.audit.generic``): a family may define one of these ids to refine it.
GENERIC_IDS = ("primary_procedure", "laterality", "time", "procedure_described")


class CatalogueError(VocabularyError):
    """A catalogue file breaks a rule; names the file, the line (0: unknown), the key and the element."""

    def __init__(self, file: str, message: str, *, key: str | None = None, element: str | None = None, line: int = 0):
        self.file, self.key, self.element, self.line = file, key, element, line
        where = file + (f" line {line}" if line else "")
        what = "".join([f" element {element!r}" if element else "", f" key {key!r}" if key else ""]).strip()
        super().__init__(f"{where}: {what + ': ' if what else ''}{message}")


@dataclass(frozen=True)
class ElementSpec:
    id: str
    label: str
    required: bool
    source: str
    query: str
    patterns: tuple[re.Pattern[str], ...] = ()
    negations: tuple[re.Pattern[str], ...] = ()
    by_code: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    skip_sections: frozenset[str] = frozenset()
    rule: str | None = None


@dataclass(frozen=True)
class Family:
    id: str
    label: str
    codes: tuple[str, ...]
    module: str | None
    source: str
    elements: tuple[ElementSpec, ...]
    file: str = ""

    def element(self, id: str) -> ElementSpec:
        for e in self.elements:
            if e.id == id:
                return e
        raise KeyError(id)

    def has(self, id: str) -> bool:
        return any(e.id == id for e in self.elements)


class _Lines:
    """Best-effort line numbers of keys in a TOML text (tomllib gives none)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.blocks: list[int] = [i for i, ln in enumerate(self.lines) if ln.strip().startswith("[[elements]]")]

    def of(self, key: str, element: int | None = None) -> int:
        if element is None:
            lo, hi = 0, self.blocks[0] if self.blocks else len(self.lines)
        elif element < len(self.blocks):
            lo = self.blocks[element]
            hi = self.blocks[element + 1] if element + 1 < len(self.blocks) else len(self.lines)
        else:
            return 0
        want = re.compile(rf"\s*\"?{re.escape(key)}\"?\s*=|\s*\[elements\.{re.escape(key)}\]")
        for i in range(lo, hi):
            if want.match(self.lines[i]):
                return i + 1
        return lo + 1 if element is not None else 0


def _sections() -> frozenset[str]:
    from medcode.language.text import OTHER, section_names

    return frozenset(section_names().values()) | {OTHER}


def _module(name: str) -> Any:
    return importlib.import_module(f"medcode.audit.families.{name}")


def load_text(name: str, text: str) -> Family:
    """The family of one catalogue file (``name``: the file name, ``<family>.toml``); strict."""
    file = name if name.endswith(".toml") else f"{name}.toml"
    stem = file.rsplit("/", 1)[-1].removesuffix(".toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CatalogueError(file, f"not valid TOML ({e})") from e
    lines = _Lines(text)

    def fail(message: str, key: str | None = None, element: str | None = None, index: int | None = None) -> None:
        line = lines.of(key, index) if key else (lines.of("id", index) if index is not None else 0)
        raise CatalogueError(file, message, key=key, element=element, line=line)

    for key, value in data.items():
        if key not in FAMILY_KEYS:
            fail(f"unknown key (allowed: {', '.join(FAMILY_KEYS)})", key)
        if not isinstance(value, FAMILY_KEYS[key]):
            fail(f"expected a {FAMILY_KEYS[key].__name__}, got {type(value).__name__}", key)
    for key in FAMILY_REQUIRED:
        if key not in data:
            fail("missing", key)
    for key in ("family", "label", "source", "module"):
        if key in data and not data[key].strip():
            fail("empty", key)
    if data["family"] != stem:
        fail(f"family {data['family']!r} must be the file's name {stem!r}", "family")
    if not SOURCE.search(data["source"]):
        fail(_SOURCE_HELP, "source")
    codes: list[str] = []
    for code in data["codes"]:
        if not isinstance(code, str) or not CODE.fullmatch(code):
            fail(f"{code!r} is not a 5-character CPT/HCPCS code", "codes")
        if code in codes:
            fail(f"duplicate code {code}", "codes")
        codes.append(code)
    if not codes:
        fail("no codes", "codes")
    module = data.get("module")
    rules: frozenset[str] = frozenset()
    if module is not None:
        if not ID.fullmatch(module):
            fail(f"{module!r} is not a module name", "module")
        try:
            mod = _module(module)
        except ImportError as e:
            raise CatalogueError(
                file, f"no module medcode.audit.families.{module} ({e})", key="module", line=lines.of("module")
            ) from e
        if not callable(getattr(mod, "judge", None)):
            fail(f"medcode.audit.families.{module} has no judge function", "module")
        rules = frozenset(getattr(mod, "RULES", ()))
    sections = _sections()
    elements: list[ElementSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["elements"]):
        if not isinstance(raw, dict):
            fail("each element must be a table ([[elements]])", "elements")
        eid = raw.get("id") if isinstance(raw.get("id"), str) else None

        def bad(message: str, key: str | None = None, eid: str | None = eid, index: int = index) -> None:
            fail(message, key, eid or f"#{index + 1}", index)

        for key, value in raw.items():
            if key not in ELEMENT_KEYS:
                bad(f"unknown key (allowed: {', '.join(ELEMENT_KEYS)})", key)
            if not isinstance(value, ELEMENT_KEYS[key]):
                bad(f"expected a {ELEMENT_KEYS[key].__name__}, got {type(value).__name__}", key)
        for key in ELEMENT_REQUIRED:
            if key not in raw:
                bad("missing", key)
            if not raw[key].strip():
                bad("empty", key)
        assert eid is not None
        if not ID.fullmatch(eid):
            bad("an id is a lower-case identifier", "id")
        if eid in seen:
            bad("duplicate element id", "id")
        seen.add(eid)
        source = raw.get("source", data["source"])
        if not SOURCE.search(source):
            bad(_SOURCE_HELP, "source")

        def compiled(key: str, values: Any, bad: Any = bad) -> tuple[re.Pattern[str], ...]:
            out = []
            for p in values:
                if not isinstance(p, str) or not p.strip():
                    bad("empty pattern", key)
                try:
                    rx = re.compile(p)
                except re.error as e:
                    bad(f"invalid regex {p!r} ({e})", key)
                if rx.match(""):
                    bad(f"pattern {p!r} matches empty text", key)
                out.append(rx)
            return tuple(out)

        patterns = compiled("patterns", raw.get("patterns", []))
        negations = compiled("negations", raw.get("negations", []))
        by_code: dict[str, tuple[re.Pattern[str], ...]] = {}
        for code, values in raw.get("by_code", {}).items():
            if code not in codes:
                bad(f"by_code names {code!r}, which is not one of the family's codes", "by_code")
            if not isinstance(values, list) or not values:
                bad(f"by_code {code!r} needs a list of patterns", "by_code")
            by_code[code] = compiled("by_code", values)
        skip = raw.get("skip_sections", [])
        for s in skip:
            if s not in sections:
                bad(f"unknown section {s!r} (vocab/sections.tsv names)", "skip_sections")
        rule = raw.get("rule")
        if rule is not None:
            if module is None:
                bad("a rule needs the family's module", "rule")
            if rule not in rules:
                bad(f"medcode.audit.families.{module} has no rule {rule!r} (its RULES)", "rule")
        if not (patterns or by_code or rule or eid in GENERIC_IDS):
            bad("an element needs patterns, by_code or a rule")
        elements.append(
            ElementSpec(
                id=eid,
                label=raw["label"].strip(),
                required=raw.get("required", True),
                source=source,
                query=raw["query"].strip(),
                patterns=patterns,
                negations=negations,
                by_code=by_code,
                skip_sections=frozenset(skip),
                rule=rule,
            )
        )
    if not elements:
        fail("no elements", "elements")
    return Family(
        id=data["family"],
        label=data["label"].strip(),
        codes=tuple(codes),
        module=module,
        source=data["source"],
        elements=tuple(elements),
        file=file,
    )


_SOURCE_HELP = (
    "a source must name a CMS manual chapter, an NCCI policy manual chapter, an MLN booklet, "
    "'CPT descriptor wording (your PFS file)' or 'medcode'"
)


def load_all(files: dict[str, str]) -> dict[str, Family]:
    """The families of ``{file name: text}``; a code in two families is an error."""
    out: dict[str, Family] = {}
    owner: dict[str, str] = {}
    for name in sorted(files):
        family = load_text(name, files[name])
        for code in family.codes:
            if code in owner:
                raise CatalogueError(family.file, f"code {code} is also in {owner[code]}", key="codes")
            owner[code] = family.file
        out[family.id] = family
    return out


@cache
def catalogue() -> dict[str, Family]:
    """Every family of ``medcode/vocab/audit/*.toml``, by id (loaded once)."""
    folder = resources.files("medcode.vocab").joinpath(FOLDER)
    files = {p.name: p.read_text("utf-8") for p in folder.iterdir() if p.name.endswith(".toml")}
    return load_all(files)


@cache
def _by_code() -> dict[str, Family]:
    return {code: f for f in catalogue().values() for code in f.codes}


def family_of(code: str) -> Family | None:
    """The catalogue family of a 5-character code, or None."""
    return _by_code().get(code.strip().upper())


def validate(kb: Any, families: dict[str, Family] | None = None) -> None:
    """Every code of ``families`` (default: the catalogue) is in the knowledge base, as its code page
    finds it; else CatalogueError. The catalogue is checked once per knowledge base."""
    from medcode.codes import UnknownCode
    from medcode.lookup import get_code

    key = str(getattr(kb, "path", id(kb)))
    if families is None and key in _VALID:
        return
    for family in (catalogue() if families is None else families).values():
        for code in family.codes:
            try:
                get_code(kb, code)
            except UnknownCode as e:
                raise CatalogueError(family.file, f"code {code} is not in the knowledge base", key="codes") from e
    if families is None:
        _VALID.add(key)


_VALID: set[str] = set()
