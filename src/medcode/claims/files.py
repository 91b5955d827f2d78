"""Claim files in any supported format: by file name or by the format named."""

from __future__ import annotations

from collections.abc import Iterator

from medcode.claims.fhir import read_fhir
from medcode.claims.model import Claim
from medcode.claims.readers import ClaimInputError, iter_csv, read_csv, read_json
from medcode.claims.x12 import iter_837

FORMATS = ("json", "csv", "x12", "fhir")


def detect_format(path: str) -> str:
    name = path.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".fhir.json", ".fhir")):
        return "fhir"
    if name.endswith(".json"):
        return "json"
    if name.endswith((".837", ".x12", ".edi")):
        return "x12"
    raise ClaimInputError(path, "cannot tell the format from the file name: pass --format json, csv, x12 or fhir")


def sniff_format(text: str) -> str:
    """The format of claim text by its first characters: X12 starts with ISA, FHIR is JSON with
    a resourceType, other JSON is ours, anything else is read as CSV."""
    head = text.lstrip()[:4096]
    if head.startswith("ISA"):
        return "x12"
    if head.startswith(("{", "[")):
        return "fhir" if '"resourceType"' in head else "json"
    return "csv"


def read_text(text: str, fmt: str, source: str) -> Iterator[Claim]:
    """Claims from text in ``fmt`` (one of FORMATS)."""
    readers = {"json": read_json, "csv": read_csv, "x12": iter_837, "fhir": read_fhir}
    if fmt not in readers:
        raise ClaimInputError(source, f"format {fmt!r} is not supported; use one of {', '.join(FORMATS)}")
    yield from readers[fmt](text, source)


def read_path(path: str, fmt: str | None = None) -> Iterator[Claim]:
    """Claims from a file; CSV is read a claim at a time."""
    fmt = fmt or detect_format(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:  # (a byte order mark is dropped)
            if fmt == "csv":
                yield from iter_csv(fh, path)
            else:
                yield from read_text(fh.read(), fmt, path)
    except UnicodeDecodeError as exc:
        raise ClaimInputError(f"{path}:byte {exc.start}", "not UTF-8 text") from None
    except OSError as exc:
        raise ClaimInputError(path, exc.strerror or str(exc)) from None
