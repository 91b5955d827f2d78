"""Strict reader of the tab-separated vocabularies of the clinical language layer and Case2Code.

A file starts with ``#`` comment lines, then a header line naming its columns; every other line
has exactly those columns. An error names the file, the line and the field."""

from __future__ import annotations

from functools import cache
from importlib import resources

from medcode.vocab import VocabularyError


@cache
def read(name: str, columns: tuple[str, ...]) -> tuple[dict[str, str], ...]:
    """The rows of vocabulary ``name`` (a file of this package) as ``{column: value}`` (values stripped;
    a column may be empty only when its name ends with ``?`` in ``columns``)."""
    text = resources.files("medcode.vocab").joinpath(name).read_text("utf-8")
    return parse(name, text, columns)


def parse(name: str, text: str, columns: tuple[str, ...]) -> tuple[dict[str, str], ...]:
    names = tuple(c.rstrip("?") for c in columns)
    out: list[dict[str, str]] = []
    header_seen = False
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not header_seen:
            if tuple(fields) != names:
                raise VocabularyError(f"{name} line {n}: header {fields!r}, expected {list(names)!r}")
            header_seen = True
            continue
        if len(fields) != len(names):
            raise VocabularyError(f"{name} line {n}: {len(fields)} fields, expected {len(names)} ({', '.join(names)})")
        row = {}
        for col, key, value in zip(columns, names, fields, strict=True):
            value = value.strip()
            if not value and not col.endswith("?"):
                raise VocabularyError(f"{name} line {n}: field {key!r} is empty")
            row[key] = value
        out.append(row)
    if not header_seen:
        raise VocabularyError(f"{name}: no header line ({', '.join(names)})")
    return tuple(out)
