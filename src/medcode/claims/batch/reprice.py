"""Repricing in the batch engine: the fee schedule amount of every line by joins, then the
payment shares and multiple-procedure rules of ``medcode.claims.reprice`` as integer arithmetic
on whole frames (``SCALE``), so that both engines give the same amounts to the cent."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl

from medcode import vocab
from medcode.claims.batch import OUT_CLAIM_SCHEMA, _ids, _split, tables
from medcode.claims.multiple import STANDARD_FIRST, STANDARD_KEPT, STANDARD_REST, Service, multiple_procedures
from medcode.claims.reprice import CONTRACTOR_NOTE, shares
from medcode.kb.models import Locality
from medcode.pricing import WORK_FLOOR_LAST_DAY
from medcode.rules import (
    ALONE_ONLY_STATUSES,
    ASSISTANT_SHARE,
    BILATERAL_SHARES,
    CO_SURGEON_SHARE,
    CONTRACTOR_PRICED_STATUSES,
    MULTIPLE_PROCEDURE_REDUCTION,
    NATIONALLY_PRICED_STATUSES,
)

if TYPE_CHECKING:
    from medcode.claims.batch import BatchChecker

SCALE = 100_000  # amounts are held in 1/100,000 of a cent: every share and halving divides exactly
ASSISTANT = [(m, *share.as_integer_ratio()) for m, share in ASSISTANT_SHARE.items()]
BILATERAL = {value: share.as_integer_ratio() for value, share in BILATERAL_SHARES.items()}
CO_SURGEON = CO_SURGEON_SHARE.as_integer_ratio()
# multiple-procedure indicators priced by joins (none, and the standard rule); days with others by rule
JOINED_INDICATORS = (*(k for k, cut in MULTIPLE_PROCEDURE_REDUCTION.items() if not cut), "2")
KEPT = STANDARD_KEPT.as_integer_ratio()


def reprice(bc: BatchChecker, c: pl.DataFrame, ln: pl.DataFrame, findings: pl.DataFrame) -> tuple[pl.DataFrame, ...]:
    places = vocab.places_of_service()
    pos = pl.DataFrame(
        [(k, v[0]) for k, v in places.items()], schema={"pos2": pl.String, "pos_setting": pl.String}, orient="row"
    )
    c = (
        c.with_columns(pos2=pl.col("pos").str.zfill(2))
        .join(pos, on="pos2", how="left")
        .with_columns(
            setting=pl.col("pos_setting").fill_null("nonfacility"),
            pos_note=pl.when(pl.col("pos").is_not_null() & pl.col("pos_setting").is_null()).then(
                pl.format("place of service {} is unknown: priced at the non-facility rate", pl.col("pos"))
            ),
        )
    )
    # only the columns pricing needs: every join below copies every column
    ln = ln.select(
        "cid",
        "line",
        "code",
        "mkey",
        "units",
        "day",
        "pfs_rid",
        "gpci_rid",
        "zip_rid",
        "loc_rid",
        "mult_proc",
        "bilateral",
        "m50",
        "m62",
        "assistant_mod",
        "want_mod",
    )
    ln = ln.join(c.select("cid", "zip", "locality", "setting"), on="cid")
    ln = _localities(bc, ln)
    denied = (
        findings.filter((pl.col("sev") == "deny") & (pl.col("lines").list.len() > 0))
        .select(
            "cid",
            pl.when(pl.col("fid").str.starts_with("ptp."))
            .then(pl.col("lines").list.head(1))
            .otherwise(pl.col("lines"))
            .alias("line"),
        )
        .explode("line")
        .unique()
        .with_columns(denied=pl.lit(True))
    )
    ln = ln.join(denied, on=["cid", "line"], how="left").with_columns(pl.col("denied").fill_null(False))
    ln = _rates(bc, ln).select(  # the rate found, the rest need not travel through the joins below
        "cid",
        "line",
        "code",
        "mkey",
        "want_mod",
        "units",
        "day",
        "setting",
        "mac",
        "loc",
        "loc_key",
        "loc_name",
        "loc_note",
        "denied",
        "rate_c",
        "rstatus",
        "mult_proc",
        "bilateral",
        "m50",
        "m62",
        "assistant_mod",
    )
    ln = _unpriced(ln, findings)
    ln = _amounts(ln)
    ln = _multiple_procedures(bc, ln)
    rounded = (pl.col("amount") + SCALE // 2) // SCALE
    ln = ln.with_columns(cents=rounded).with_columns(
        allowed=pl.when(pl.col("amount").is_null())
        .then(None)
        .when(pl.col("denied"))
        .then(0.0)
        .otherwise(_dollars(pl.col("cents"), ln.height))
    )
    totals = ln.group_by("cid").agg(  # the sums of the lines' whole cents
        total=pl.col("cents").filter(~pl.col("denied")).sum(),
        risk=pl.col("cents").filter(pl.col("denied")).sum(),
        notes=pl.col("loc_note").drop_nulls().unique(maintain_order=True),
        first_loc=pl.col("loc_key").drop_nulls().first(),
        first_name=pl.col("loc_name").drop_nulls().first(),
    )
    claims = c.join(totals, on="cid", how="left").with_columns(
        total_allowed=_dollars(pl.col("total").fill_null(0), c.height),
        at_risk=_dollars(pl.col("risk").fill_null(0), c.height),
        locality=pl.col("first_loc"),
        notices=pl.concat_str(
            pl.when(pl.col("first_loc").is_not_null()).then(
                pl.format("locality {} {}, {} rates", "first_loc", "first_name", "setting")
            ),
            pl.col("pos_note"),
            pl.when(pl.col("notes").list.len() > 0).then(pl.col("notes").list.join(ADJ_SEP)),
            separator=ADJ_SEP,
            ignore_nulls=True,
        ),
    )
    claims = claims.with_columns(notices=_split(pl.col("notices"), ADJ_SEP))
    lines = ln.select(
        "cid",
        "line",
        "code",
        _split(pl.col("mkey"), " ").alias("modifiers"),
        pl.col("units").cast(pl.Float64),
        "setting",
        _dollars(pl.col("rate_c"), ln.height).alias("rate"),
        _split(pl.col("adj"), ADJ_SEP).alias("adjustments"),
        "allowed",
        "denied",
    )
    return claims.select(list(OUT_CLAIM_SCHEMA)).sort("cid"), lines.sort("cid", "line")


def _localities(bc: BatchChecker, ln: pl.DataFrame) -> pl.DataFrame:
    """The payment locality of each line, found once per ZIP (or locality) and releases, and
    remembered for the later pieces of the file."""
    keys = ["zip", "locality", "zip_rid", "gpci_rid", "loc_rid"]
    with bc._lock:
        known = _known_places(bc, ln, keys)
    return ln.join(known, on=keys, how="left", nulls_equal=True)


def _known_places(bc: BatchChecker, ln: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    uniq = ln.unique(keys, keep="first", maintain_order=True).select(*keys, "day")
    known = bc._kept.get("frame")
    if known is not None:
        uniq = uniq.join(known, on=keys, how="anti", nulls_equal=True)
    # a plain ZIP code in the ZIP and GPCI files by joins; anything else by the pricer
    plain = uniq.filter(
        pl.col("zip").str.contains(r"^\d{5}(-?\d{4})?$")
        & pl.col("zip_rid").is_not_null()
        & pl.col("gpci_rid").is_not_null()
    )
    joined = (
        plain.with_columns(zip5=pl.col("zip").str.slice(0, 5))
        .join(tables.zip_localities(bc.kb, _ids(plain, "zip_rid")), on=["zip_rid", "zip5"])
        .join(tables.locality_names(bc.kb, _ids(plain, "gpci_rid")), on=["gpci_rid", "mac", "loc"])
        .select(
            *keys,
            "mac",
            "loc",
            loc_key=pl.format("{}-{}", "mac", "loc"),
            loc_name=pl.col("name").str.strip_chars_end("*"),
            loc_note=pl.lit(None, dtype=pl.String),
        )
    )
    rows = []
    for r in uniq.join(joined, on=keys, how="anti", nulls_equal=True).iter_rows(named=True):
        loc, note = bc.pricer.locality(r["zip"], r["locality"], r["day"])
        rows.append(
            (
                *(r[k] for k in keys),
                loc.mac if loc else None,
                loc.locality if loc else None,
                f"{loc.mac}-{loc.locality}" if loc else None,
                loc.name if loc else None,
                note or None,
            )
        )
    found = pl.DataFrame(
        rows,
        schema={
            **{k: ln.schema[k] for k in keys},
            "mac": pl.String,
            "loc": pl.String,
            "loc_key": pl.String,
            "loc_name": pl.String,
            "loc_note": pl.String,
        },
        orient="row",
    )
    found = pl.concat([joined.cast(found.schema), found])
    known = found if known is None else pl.concat([known, found])
    bc._kept["frame"] = known
    return known


def _rates(bc: BatchChecker, ln: pl.DataFrame) -> pl.DataFrame:
    """``rate_c``: the fee schedule amount for one unit in cents, in the line's locality and
    setting (null when it has none)."""
    rvus = tables.rvus(bc.kb, _ids(ln, "pfs_rid")).drop("pctc", "endo_base", "mult_proc_row")  # the rule's (Pricer)
    with_mod = rvus.select("pfs_rid", "code", want_mod="pfs_mod").with_columns(own=pl.lit(True))
    ln = (
        ln.join(with_mod, on=["pfs_rid", "code", "want_mod"], how="left")
        .with_columns(rmod=pl.when(pl.col("own")).then(pl.col("want_mod")).otherwise(pl.lit("")))
        .join(rvus.rename({"pfs_mod": "rmod", "status": "rstatus"}), on=["pfs_rid", "code", "rmod"], how="left")
        .join(tables.gpcis(bc.kb, _ids(ln, "gpci_rid")), on=["gpci_rid", "mac", "loc"], how="left")
    )
    floor = pl.col("pw").is_null() | (pl.col("day") <= WORK_FLOOR_LAST_DAY)
    ln = ln.with_columns(gw=pl.when(floor).then(pl.col("pw_floor")).otherwise(pl.col("pw")))
    ints = {
        f"{c}_i": tables.scaled(c, d)
        for c, d in (
            ("work", 2),
            ("pe_nf", 2),
            ("pe_f", 2),
            ("mp", 2),
            ("gw", 3),
            ("pe_g", 3),
            ("mp_g", 3),
            ("cf", 4),
            ("opps_pe_nf", 2),
            ("opps_pe_f", 2),
            ("opps_mp", 2),
        )
    }
    ln = ln.with_columns(**ints)
    out = []
    # the OPPS imaging cap: the same formula with the row's OPPS PE and MP RVUs, where it has them
    has_opps = pl.any_horizontal(pl.col(c).fill_null(0) != 0 for c in ("opps_pe_nf", "opps_pe_f", "opps_mp"))
    for setting, pe, na in (("nonfacility", "pe_nf", "pe_nf_na"), ("facility", "pe_f", "pe_f_na")):
        cents = _cents(pl.col(f"{pe}_i"), pl.col("mp_i"))
        opps = _cents(pl.col(f"opps_{pe}_i").fill_null(0), pl.col("opps_mp_i").fill_null(0))
        capped = pl.when(has_opps & (opps < cents)).then(opps).otherwise(cents)
        payable = (
            pl.col("rstatus").is_in(list(NATIONALLY_PRICED_STATUSES))
            & (pl.col(na) != "NA")
            & pl.col("gw").is_not_null()
        )
        out.append(pl.when(payable).then(capped).otherwise(None).alias(f"rate_{setting}"))
    ln = ln.with_columns(out)
    exact = ~pl.any_horizontal(
        *(
            pl.col(c).is_not_null() & pl.col(f"{c}_i").is_null()
            for c in ("work", "pe_nf", "pe_f", "mp", "gw", "pe_g", "mp_g", "cf", "opps_pe_nf", "opps_pe_f", "opps_mp")
        )
    )
    ln = ln.with_columns(
        rate_c=pl.when(pl.col("mac").is_null())
        .then(None)
        .when(pl.col("setting") == "facility")
        .then(pl.col("rate_facility"))
        .otherwise(pl.col("rate_nonfacility")),
        exact=exact.fill_null(True),
    )
    inexact = ln.filter(~pl.col("exact") & pl.col("mac").is_not_null())
    if inexact.height:  # more digits than the integer scales hold: the per-claim pricer, per key
        ln = _rates_by_pricer(bc, ln, inexact)
    return ln


def _cents(pe: pl.Expr, mp: pl.Expr) -> pl.Expr:
    """[(work x work GPCI) + (PE x PE GPCI) + (MP x MP GPCI)] x CF in cents, rounded half up, from
    the integer columns of ``_rates``."""
    v = (pl.col("work_i") * pl.col("gw_i") + pe * pl.col("pe_g_i") + mp * pl.col("mp_g_i")) * pl.col("cf_i")
    return (v + 5_000_000) // 10_000_000


def _rates_by_pricer(bc: BatchChecker, ln: pl.DataFrame, inexact: pl.DataFrame) -> pl.DataFrame:
    keys = ["code", "want_mod", "mac", "loc", "day", "setting"]
    rows = []
    for r in inexact.unique(keys).iter_rows(named=True):
        rate = bc.pricer.rate(r["code"], r["want_mod"], Locality(r["mac"], r["loc"], "", ""), r["day"], r["setting"])
        rows.append((*(r[k] for k in keys), None if rate is None else round(rate * 100)))
    fixed = pl.DataFrame(rows, schema={**{k: ln.schema[k] for k in keys}, "rate_fixed": pl.Int64}, orient="row")
    return ln.join(fixed, on=keys, how="left").with_columns(
        rate_c=pl.when(pl.col("exact")).then(pl.col("rate_c")).otherwise(pl.col("rate_fixed"))
    )


def _dollars(cents: pl.Expr, height: int) -> pl.Expr:
    """Whole cents as the float Python gets for the same decimal, in a frame of ``height`` rows.
    A division of two floats is exact to the last bit, but Polars turns a division by a literal
    into a multiplication by 0.01, which is a different float for many amounts: so divide by a
    column of 100.0."""
    return cents.cast(pl.Float64) / pl.lit(pl.Series([100.0]).extend_constant(100.0, max(height - 1, 0)))


ADJ_SEP = "\x1f"  # adjustments are kept as one string while pricing (lists are slow to build), split at the end


def _unpriced(ln: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """No rate for the lines dated before the oldest fee schedule (``validity.no_release``), as the
    per-claim pricer leaves them (as lines without a locality)."""
    early = findings.filter(pl.col("fid") == "validity.no_release")
    if early.is_empty():
        return ln
    keys = early.select("cid", line=pl.col("lines")).explode("line").unique().with_columns(_early=pl.lit(True))
    gone = pl.col("_early").fill_null(False)
    return (
        ln.join(keys, on=["cid", "line"], how="left", maintain_order="left")
        .with_columns(
            rate_c=pl.when(gone).then(None).otherwise(pl.col("rate_c")),
            mac=pl.when(gone).then(None).otherwise(pl.col("mac")),
        )
        .drop("_early")
    )


def _amounts(ln: pl.DataFrame) -> pl.DataFrame:
    """``per_unit`` and ``amount`` (in 1/SCALE cents) after the bilateral, assistant and
    co-surgeon shares, with the adjustments named as the per-claim pricer names them."""
    ln = ln.with_columns(_bil=pl.when(pl.col("m50")).then(pl.col("bilateral")).otherwise(None))
    assistant, co = pl.col("assistant_mod"), pl.col("m62")
    p = pl.col("rate_c") * SCALE
    for value, (num, den) in BILATERAL.items():
        p = pl.when(pl.col("_bil") == value).then(p * num // den).otherwise(p)
    for mod, num, den in ASSISTANT:
        p = pl.when(assistant == mod).then(p * num // den).otherwise(p)
    p = pl.when(co).then(p * CO_SURGEON[0] // CO_SURGEON[1]).otherwise(p)
    share = {m: shares([m], None)[1][0] for m, *_ in ASSISTANT}
    notes = pl.concat_str(
        pl.col("_bil").replace_strict(
            {v: shares(["50"], v)[1][0] for v in BILATERAL}, default=None, return_dtype=pl.String
        ),
        assistant.replace_strict(share, default=None, return_dtype=pl.String),
        pl.when(co).then(pl.lit(shares(["62"], None)[1][0])),
        separator=ADJ_SEP,
        ignore_nulls=True,
    )
    priced = pl.col("rate_c").is_not_null()
    ln = ln.with_columns(per_unit=p).with_columns(
        amount=pl.col("per_unit") * pl.col("units"),
        adj=pl.when(pl.col("mac").is_null())
        .then(pl.lit(""))
        .when(~priced & pl.col("rstatus").is_in(list(CONTRACTOR_PRICED_STATUSES)))
        .then(pl.format(CONTRACTOR_NOTE, "rstatus"))
        .when(~priced)
        .then(pl.format("no {} fee schedule amount", "setting"))
        .otherwise(notes),
    )
    return ln.drop("_bil")


def _multiple_procedures(bc: BatchChecker, ln: pl.DataFrame) -> pl.DataFrame:
    """The multiple-procedure rules: days whose priced lines have only indicators 0, 2 and 9 by
    joins (``_standard``); the others line by line with the per-claim engine's
    ``multiple_procedures`` (therapy, imaging, endoscopy lines are a small part of a file)."""
    eligible = (pl.col("amount").is_not_null() & (pl.col("amount") != 0) & ~pl.col("denied")).fill_null(False)
    by_rule = (
        ln.filter(eligible)
        .group_by("cid", "day")
        .agg(
            units=pl.col("units").sum(),
            other=(
                (~pl.col("mult_proc").fill_null("").is_in(JOINED_INDICATORS))
                | pl.col("rstatus").is_in(list(ALONE_ONLY_STATUSES))
            ).any(),
        )
        .filter(pl.col("other") & (pl.col("units") > 1))
        .select("cid", "day", by_rule=pl.lit(True))
    )
    if by_rule.is_empty():
        return _standard(ln)
    ln = ln.join(by_rule, on=["cid", "day"], how="left").with_columns(pl.col("by_rule").fill_null(False))
    return pl.concat(
        [
            _standard(ln.filter(~pl.col("by_rule")).drop("by_rule")),
            _by_rule(bc, ln.filter(pl.col("by_rule")).drop("by_rule")),
        ],
        how="diagonal_relaxed",
    )


def _by_rule(bc: BatchChecker, ln: pl.DataFrame) -> pl.DataFrame:
    """``multiple_procedures`` over each claim's day, on the amounts ``_amounts`` found."""
    days: dict[tuple, list[Service]] = {}
    for r in ln.iter_rows(named=True):
        if r["amount"] is None or r["amount"] == 0 or r["denied"]:
            continue
        parts = bc.pricer.parts(r["code"], r["want_mod"], Locality(r["mac"], r["loc"], "", ""), r["day"], r["setting"])
        share, _ = shares(r["mkey"].split(), r["bilateral"])
        days.setdefault((r["cid"], r["day"]), []).append(
            Service(
                r["line"],
                r["mult_proc"] or "",
                Decimal(r["units"]),
                Decimal(r["amount"]) / (100 * SCALE),
                share,
                parts,
                r["code"],
            )
        )
    changed = []
    for (cid, _), services in days.items():
        for line, (amount, notes) in multiple_procedures(services).items():
            changed.append((cid, line, int(amount * 100 * SCALE), ADJ_SEP.join(notes)))
    found = pl.DataFrame(
        changed, schema={"cid": pl.Int64, "line": pl.Int64, "_amount": pl.Int64, "_adj": pl.String}, orient="row"
    )
    return (
        ln.join(found, on=["cid", "line"], how="left")
        .with_columns(
            amount=pl.coalesce("_amount", "amount"),
            adj=pl.when(pl.col("_adj").is_null())
            .then(pl.col("adj"))
            .otherwise(
                pl.concat_str(
                    pl.when(pl.col("adj") != "").then(pl.col("adj")), "_adj", separator=ADJ_SEP, ignore_nulls=True
                )
            ),
        )
        .drop("_amount", "_adj")
    )


def _standard(ln: pl.DataFrame) -> pl.DataFrame:
    """Indicator 2: the highest amount per unit of the day at 100%, the rest (and further units)
    at 50%; a single one-unit procedure is left alone."""
    eligible = (
        (pl.col("mult_proc") == "2") & pl.col("amount").is_not_null() & (pl.col("amount") != 0) & ~pl.col("denied")
    ).fill_null(False)
    # sorted by claim and day, a row's rank is its distance from the first row of its day
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    starts = ((pl.col("cid") != pl.col("cid").shift(1)) | (pl.col("day") != pl.col("day").shift(1))).fill_null(True)
    ranked = (
        ln.filter(eligible)
        .select("cid", "line", "day", "per_unit", "units")
        .sort(["cid", "day", "per_unit", "line"], descending=[False, False, True, False])
        .with_columns(start=starts)
        .with_columns(
            rank=row - pl.when("start").then(row).forward_fill(),
            alone=pl.col("start") & pl.col("start").shift(-1).fill_null(True),
        )
        .filter(~(pl.col("alone") & (pl.col("units") <= 1)))
        .select("cid", "line", "rank")
    )
    ln = ln.join(ranked, on=["cid", "line"], how="left")
    first = pl.col("rank") == 0
    return ln.with_columns(
        amount=pl.when(pl.col("rank").is_null())
        .then(pl.col("amount"))
        .when(first)
        .then(pl.col("per_unit") + (pl.col("amount") - pl.col("per_unit")) * KEPT[0] // KEPT[1])
        .otherwise(pl.col("amount") * KEPT[0] // KEPT[1]),
        adj=pl.when(pl.col("rank").is_null())
        .then(pl.col("adj"))
        .otherwise(
            pl.concat_str(
                pl.when(pl.col("adj") != "").then(pl.col("adj")),
                pl.when(first).then(pl.lit(STANDARD_FIRST)).otherwise(pl.lit(STANDARD_REST)),
                separator=ADJ_SEP,
                ignore_nulls=True,
            )
        ),
    )
