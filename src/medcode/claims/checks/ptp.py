"""NCCI procedure-to-procedure edits between lines of the same date.

Lines are grouped first by (date, code, the PTP-associated modifiers they carry): an edit is
looked up and worded once per pair of groups, then given to every pair of their lines, so a
claim with many lines of few codes costs as much as its distinct groups."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from medcode import rules
from medcode.claims.batch import tables
from medcode.claims.batch.frames import FINDING_SCHEMA, _is_em
from medcode.claims.facts import Facts
from medcode.claims.model import Claim, Finding, Line
from medcode.kb import ncci
from medcode.pricing import citation

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

ID = "ptp"
TITLE = "NCCI procedure-to-procedure edits"

NCCI_MODIFIERS = rules.PTP_MODIFIERS


def check(facts: Facts, claim: Claim) -> Iterator[Finding]:
    groups: dict[tuple, list[Line]] = {}
    for x in claim.lines:
        if x.code:
            key = (claim.day_of(x), x.code, tuple(sorted(set(x.modifiers) & NCCI_MODIFIERS)))
            groups.setdefault(key, []).append(x)
    for (day, code_a, mods_a), lines_a in groups.items():
        for (day_b, code_b, mods_b), lines_b in groups.items():
            if day_b != day or code_b == code_a:
                continue
            edit = facts.ptp(code_a, code_b, day)  # a is column 1, b is column 2 (the code denied)
            if edit is None:
                continue
            found = pair_finding(Line(0, code_a, mods_a), Line(0, code_b, mods_b), edit)
            for a in lines_a:
                for b in lines_b:
                    yield replace(found, lines=(b.line, a.line))


def pair_finding(a: Line, b: Line, edit: dict, em: tuple[bool, bool] | None = None) -> Finding:
    """The finding for an edit in force between column 1 line ``a`` and column 2 line ``b``
    (``em``: whether each code is an E/M service, when the codes are stand-ins in the words)."""
    pair = f"{a.code} (column 1) and {b.code} (column 2)"
    if edit["modifier"] == 9:
        return Finding(
            "ptp.not_applicable",
            "info",
            (b.line, a.line),
            f"{pair}: the edit no longer applies (modifier indicator 9).",
            "Nothing to do.",
            edit["citation"],
        )
    if edit["modifier"] == 0:
        return Finding(
            "ptp.bundled",
            "deny",
            (b.line, a.line),
            f"{pair} are not paid together on the same day and no modifier bypasses it "
            f"(modifier indicator 0; {edit['rationale']}). {b.code} is denied.",
            f"Remove {b.code}, or bill it on its own claim only if it was a separate encounter on another date.",
            edit["citation"],
        )
    em_a, em_b = em if em is not None else (rules.is_em(a.code), rules.is_em(b.code))
    used, reasons = rules.ptp_bypass(a.modifiers, em_a, b.modifiers, em_b)
    if used:
        return Finding(
            "ptp.bypassed",
            "info",
            (b.line, a.line),
            f"{pair}: modifier{'s' * (len(used) > 1)} {', '.join(used)} "
            f"bypass{'es' * (len(used) == 1)} the edit (indicator 1).",
            "Keep documentation that the services were distinct.",
            edit["citation"],
        )
    why = "".join(f"; {r}" for r in reasons)
    if em_a or em_b:
        visit = b.code if em_b else a.code
        fix = (
            f"If {visit} was a significant, separately identifiable E/M service, add 25 to {visit} (57 if the visit "
            "was the decision for major surgery); 59 and XE/XP/XS/XU are not used with E/M services. "
            f"Otherwise remove {b.code}."
        )
    else:
        fix = (
            f"If {b.code} was a distinct service (another site, session or encounter), add 59 or XE/XP/XS/XU "
            "to it, or anatomic modifiers on both lines that show the different sites; otherwise remove it."
        )
    return Finding(
        "ptp.modifier_required",
        "deny",
        (b.line, a.line),
        f"{pair} are bundled unless a modifier shows they were distinct (modifier "
        f"indicator 1; {edit['rationale']}{why}). {b.code} is denied as billed.",
        fix,
        edit["citation"],
    )


# --- the batch form: the same check over whole files (medcode.claims.batch) --------------------


def batch(bc: BatchChecker, ln: pl.DataFrame, c: pl.DataFrame) -> pl.DataFrame:
    """``check`` over whole files: groups of lines joined by claim and day, then with the PTP edits
    in force, then expanded to pairs of their lines; worded once per edit kind and modifiers."""
    kb = bc.kb
    releases = kb.releases.get("ptp_practitioner", [])
    # each line's NCCI-associated modifiers (sorted text) by a small number, so that pairs carry numbers only
    texts = ln["ncci"].unique().sort().to_list()
    side = ln.filter(pl.col("ptp_ix").is_not_null()).select(
        "cid",
        "day",
        "ptp_ix",
        "line",
        "code",
        t=pl.col("ncci").replace_strict({t: i for i, t in enumerate(texts)}, return_dtype=pl.Int64),
    )
    on = pl.col("day").dt.year() * 10000 + pl.col("day").dt.month() * 100 + pl.col("day").dt.day()
    parts = []
    for ix in side["ptp_ix"].unique().to_list():
        codes, edits = tables.ptp(kb, releases[ix].store)
        numbered = side.filter(pl.col("ptp_ix") == ix).join(codes, on="code").drop("code")
        if numbered.is_empty():  # no code of these lines is in the PTP file (an unknown or new code)
            continue
        # lines grouped by (claim, day, code, NCCI modifiers): pairs of groups with one integer
        # key each are joined with the edits, then expanded to pairs of their lines
        groups = numbered.group_by("cid", "day", "ix", "t").agg(pl.col("line"))
        pairs = (
            groups.join(groups.select("cid", "day", line_b="line", ix_b="ix", t_b="t"), on=["cid", "day"])
            .filter(pl.col("ix") != pl.col("ix_b"))
            .select(
                "cid",
                "day",
                "line",
                "line_b",
                "ix",
                "ix_b",
                "t",
                "t_b",
                key=pl.col("ix") * (1 << tables.PTP_SHIFT) + pl.col("ix_b"),
            )
        )
        first_day: date = numbered["day"].min()  # type: ignore[assignment]  # a Date column's minimum
        hit = (
            pairs.join(bc._live_edits(ix, edits, first_day), on="key")
            .filter(ncci.in_force_expr(on))
            .sort("ptp_row")
            .unique(["cid", "day", "ix", "t", "ix_b", "t_b"], keep="first", maintain_order=True)
            .explode("line")
            .explode("line_b")
            .with_columns(ptp_ix=pl.lit(ix, dtype=pl.Int64))
        )
        names = codes["code"]  # (ix is the row number)
        parts.append(hit.with_columns(code=names.gather(hit["ix"]), code_b=names.gather(hit["ix_b"])))
    if not parts:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    hits = pl.concat(parts)
    # the modifiers only count where the indicator is 1 (pair_finding decides which do)
    named = pl.DataFrame({"t": range(len(texts)), "ncci": texts}, schema={"t": pl.Int64, "ncci": pl.String})
    one = pl.col("modifier") == 1
    hits = (
        hits.join(named, on="t", how="left")
        .join(named.rename({"t": "t_b", "ncci": "ncci_b"}), on="t_b", how="left")
        .with_columns(
            ncci=pl.when(one).then(pl.col("ncci")).otherwise(pl.lit("")),
            ncci_b=pl.when(one).then(pl.col("ncci_b")).otherwise(pl.lit("")),
            em_a=_is_em(pl.col("code")),
            em_b=_is_em(pl.col("code_b")),
        )
    )

    def make(r: dict, text: dict) -> Iterator[Finding]:
        release = releases[r["ptp_ix"]]
        a, b = text["code"], text["code_b"]
        edit = {
            "modifier": r["modifier"],
            "citation": citation(release.files[0], row=f"{a}/{b}"),
            "rationale": kb.ptp_rationales(release.store).get(r["rationale_id"], ""),
        }
        yield pair_finding(
            Line(0, a, tuple(r["ncci"].split())), Line(0, b, tuple(r["ncci_b"].split())), edit, (r["em_a"], r["em_b"])
        )

    return bc.per_key(
        hits,
        ["ptp_ix", "modifier", "rationale_id", "ncci", "ncci_b", "em_a", "em_b"],
        make,
        pl.concat_arr("line_b", "line").arr.to_list(),
        fields=("code", "code_b"),
    )
