"""National Provider Identifiers: ten digits whose last is the Luhn check digit of the other nine
with the prefix 80840 (CMS, NPI standard: the check digit is computed as for an ISO/IEC 7812
card number whose issuer prefix is 80840). Checked for the billing, rendering and referring NPIs
the claim carries; a claim without one is not a finding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl

from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "npi"
TITLE = "NPI check digit"

PREFIX = "80840"  # the ISO card issuer prefix of the NPI (health applications, United States)
ROLES = (("billing_npi", "billing"), ("rendering_npi", "rendering"), ("referring_npi", "referring"))
DIGITS = frozenset("0123456789")


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    for field, role in ROLES:
        value = getattr(claim, field)
        if value is not None:
            kind = problem(value)
            if kind is not None:
                yield finding(role, value, kind)


def check_digit(first_nine: str) -> int:
    """The NPI's tenth digit for its first nine (Luhn over ``PREFIX`` + the nine digits)."""
    total = 0
    for k, ch in enumerate(reversed(PREFIX + first_nine)):  # the check digit will stand right of these
        d = int(ch) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def problem(npi: str) -> str | None:
    """``malformed`` (not ten ASCII digits), ``check_digit`` (wrong last digit) or None."""
    if len(npi) != 10 or not set(npi) <= DIGITS:
        return "malformed"
    return None if check_digit(npi[:9]) == int(npi[9]) else "check_digit"


def finding(role: str, npi: str, kind: str) -> Finding:
    if kind == "malformed":
        return Finding(
            "npi.malformed",
            "deny",
            (),
            f"The {role} NPI {npi} is not ten digits.",
            f"Give the {role} provider's ten-digit NPI as listed in NPPES.",
        )
    return Finding(
        "npi.check_digit",
        "deny",
        (),
        f"The {role} NPI {npi} fails its check digit (Luhn with the 80840 prefix, CMS NPI standard): "
        "it is mistyped or not an NPI.",
        f"Correct the {role} NPI; look the provider up in NPPES.",
    )


# --- the batch form ---------------------------------------------------------------------------------


def problem_expr(npi: pl.Expr) -> pl.Expr:
    """``problem`` of a column of NPIs (null where the NPI is good or missing)."""
    total = pl.lit(0)
    for k in range(9):  # digit k of the NPI stands 9 - k places left of the check digit
        d = npi.str.slice(k, 1).cast(pl.Int64, strict=False) * (2 if (9 - k) % 2 == 1 else 1)
        total = total + pl.when(d > 9).then(d - 9).otherwise(d)
    prefix = sum(
        d - 9 if d > 9 else d
        for d in (int(ch) * (2 if k % 2 == 0 else 1) for k, ch in enumerate(reversed(PREFIX), start=9))
    )
    digit = (10 - (total + prefix) % 10) % 10
    well_formed = npi.str.contains(r"^[0-9]{10}$")
    return (
        pl.when(npi.is_null())
        .then(None)
        .when(~well_formed)
        .then(pl.lit("malformed"))
        .when(digit != npi.str.slice(9, 1).cast(pl.Int64, strict=False))
        .then(pl.lit("check_digit"))
    )


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over the batch engine's claims frame (``billing_npi``, ``rendering_npi``,
    ``referring_npi``): worded once per role and kind, the NPI written in per claim."""
    parts = []
    for field, role in ROLES:
        bad = (
            c.select("cid", npi=pl.col(field))
            .with_columns(kind=problem_expr(pl.col("npi")))
            .filter(pl.col("kind").is_not_null())
        )

        def make(r: dict, text: dict, role: str = role) -> Iterator[Finding]:
            yield finding(role, text["npi"], r["kind"])

        parts.append(
            bc._per_key(
                bad.with_columns(role=pl.lit(role)),
                ["role", "kind"],
                make,
                pl.lit([], dtype=pl.List(pl.Int64)),
                fields=("npi",),
            )
        )
    return pl.concat(parts)
