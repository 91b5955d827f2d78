"""Which release of a file family is in force on a date of service."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property


@dataclass(frozen=True)
class SourceRef:
    """One loaded file: what a fact cites."""

    id: int
    family: str
    release: str
    file: str
    path: str
    layout: str
    store: str
    effective_from: date
    effective_to: date
    sha256: str
    rows: int


@dataclass(frozen=True)
class Release:
    """All files of one family and release (a PTP release may come in several parts)."""

    family: str
    name: str
    effective_from: date
    effective_to: date
    files: tuple[SourceRef, ...]

    @cached_property
    def ids(self) -> tuple[int, ...]:
        return tuple(f.id for f in self.files)

    @property
    def store(self) -> str:
        return self.files[0].store


@dataclass(frozen=True)
class Resolved:
    release: Release
    in_force: bool
    note: str | None


def group(refs: Iterable[SourceRef]) -> dict[str, list[Release]]:
    """Releases per family, oldest first."""
    by_key: dict[tuple[str, str], list[SourceRef]] = {}
    for ref in refs:
        by_key.setdefault((ref.family, ref.release), []).append(ref)
    out: dict[str, list[Release]] = {}
    for (family, name), files in by_key.items():
        out.setdefault(family, []).append(
            Release(
                family,
                name,
                min(f.effective_from for f in files),
                max(f.effective_to for f in files),
                tuple(sorted(files, key=lambda f: f.id)),
            )
        )
    for releases in out.values():
        releases.sort(key=lambda r: (r.effective_from, r.name))
    return out


def _distance(r: Release, day: date) -> int:
    if day < r.effective_from:
        return (r.effective_from - day).days
    return (day - r.effective_to).days


def resolve(releases: list[Release], day: date | None) -> Resolved | None:
    """The release in force on ``day`` (None: the newest).

    When none is loaded for that date: the nearest release of the same calendar year; failing
    that, the latest release before the date; failing that, the earliest after it. Every
    fallback says so in ``note``.
    """
    if not releases:
        return None
    if day is None:
        return Resolved(releases[-1], True, None)
    for r in releases:
        if r.effective_from <= day <= r.effective_to:
            return Resolved(r, True, None)
    family = releases[0].family
    same_year = [r for r in releases if r.effective_from.year == day.year or r.effective_to.year == day.year]
    if same_year:
        best = min(same_year, key=lambda r: (_distance(r, day), r.effective_from))
        why = "the nearest release of the same calendar year"
    else:
        earlier = [r for r in releases if r.effective_to < day]
        best = earlier[-1] if earlier else releases[0]
        why = "the latest earlier release" if earlier else "the earliest release loaded"
    note = (
        f"No {family} release in force on {day.isoformat()} is loaded; using {best.name} "
        f"(effective {best.effective_from.isoformat()} to {best.effective_to.isoformat()}), {why}."
    )
    return Resolved(best, False, note)
