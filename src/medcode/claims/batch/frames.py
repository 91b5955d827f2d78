"""The frames of the batch engine: the schemas of its input and output, the result of a check
(``BatchResult``), and helpers the check modules' batch forms share. No check and no rule lives
here (they are in ``medcode.claims.checks`` and ``medcode.rules``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import polars as pl

from medcode import rules
from medcode.claims.model import CheckedClaim, Finding, PricedLine
from medcode.kb.models import Citation

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

# a frame's columns and their types (annotated: Polars types mix classes and instances)
Schema = dict[str, "PolarsDataType"]

CLAIM_SCHEMA: Schema = {
    "cid": pl.Int64,
    "claim_id": pl.String,
    "cdate": pl.Date,
    "pos": pl.String,
    "zip": pl.String,
    "locality": pl.String,
    "dx": pl.List(pl.String),
    "billing_npi": pl.String,
    "rendering_npi": pl.String,
    "referring_npi": pl.String,
}
LINE_SCHEMA: Schema = {
    "cid": pl.Int64,
    "line": pl.Int64,
    "code": pl.String,
    "mkey": pl.String,  # modifiers, space-separated
    "units": pl.Int64,
    "ptrs": pl.List(pl.Int64),
    "ldate": pl.Date,
}
FOUND_SCHEMA: Schema = {
    "fid": pl.String,
    "sev": pl.String,
    "msg": pl.String,
    "fix": pl.String,
    "cite": pl.Int64,
    "cite_row": pl.String,
    "cite_line": pl.Int64,
}  # cite: index of the citation without row and line
FINDING_SCHEMA: Schema = {"cid": pl.Int64, "lines": pl.List(pl.Int64), **FOUND_SCHEMA}
OUT_LINE_SCHEMA: Schema = {
    "cid": pl.Int64,
    "line": pl.Int64,
    "code": pl.String,
    "modifiers": pl.List(pl.String),
    "units": pl.Float64,
    "setting": pl.String,
    "rate": pl.Float64,
    "adjustments": pl.List(pl.String),
    "allowed": pl.Float64,
    "denied": pl.Boolean,
}
OUT_CLAIM_SCHEMA: Schema = {
    "cid": pl.Int64,
    "claim_id": pl.String,
    "total_allowed": pl.Float64,
    "at_risk": pl.Float64,
    "locality": pl.String,
    "notices": pl.List(pl.String),
}
SEVERITY_RANK = rules.SEVERITY_ORDER


@dataclass
class BatchResult:
    """Checked claims as three frames (claims, lines, findings) and the citations they index."""

    claims: pl.DataFrame
    lines: pl.DataFrame
    findings: pl.DataFrame
    cites: list[Citation]

    def __len__(self) -> int:
        return self.claims.height

    def summary(self) -> dict[str, Any]:
        """As ``report.summary`` of the same claims, from the frames."""
        f = self.findings
        by_id = dict(f.group_by("fid").len().iter_rows())
        by_sev = dict(f.group_by("sev").len().iter_rows())
        return {
            "claims": self.claims.height,
            "lines": self.lines.height,
            "findings": dict(sorted(by_id.items())),
            "by_severity": {k: by_sev.get(k, 0) for k in ("deny", "warn", "info")},
            "total_allowed": round(self.claims["total_allowed"].sum(), 2),
            "at_risk": round(self.claims["at_risk"].sum(), 2),
        }

    def to_checked(self) -> list[CheckedClaim]:
        """The results as ``CheckedClaim`` objects, as the per-claim engine returns them."""
        lines: dict[int, list[PricedLine]] = {}
        for r in self.lines.iter_rows(named=True):
            u = r["units"]
            lines.setdefault(r["cid"], []).append(
                PricedLine(
                    r["line"],
                    r["code"],
                    tuple(r["modifiers"]),
                    int(u) if u is not None and u.is_integer() else u,
                    r["setting"],
                    r["rate"],
                    tuple(r["adjustments"]),
                    r["allowed"],
                    r["denied"],
                )
            )
        found: dict[int, list[Finding]] = {}
        for r in self.findings.iter_rows(named=True):
            found.setdefault(r["cid"], []).append(
                Finding(
                    r["fid"],
                    r["sev"],
                    tuple(r["lines"]),
                    r["msg"],
                    r["fix"],
                    None
                    if r["cite"] is None
                    else replace(self.cites[r["cite"]], row=r["cite_row"], line=r["cite_line"]),
                )
            )
        return [
            CheckedClaim(
                c["claim_id"],
                tuple(found.get(c["cid"], ())),
                tuple(lines.get(c["cid"], ())),
                c["total_allowed"],
                c["at_risk"],
                c["locality"],
                tuple(c["notices"]),
            )
            for c in self.claims.iter_rows(named=True)
        ]


Cite = Callable[[Citation | None], tuple[int | None, str | None, int | None]]


def checked_frames(results: Iterable[tuple[int, CheckedClaim]], cite: Cite) -> tuple[pl.DataFrame, ...]:
    """(claims, lines, findings) frames of checked claims numbered ``cid``, as the batch engine
    makes them; ``cite`` gives a citation's (index, row, line)."""
    results = list(results)
    claims = pl.DataFrame(
        [(cid, r.id, r.total_allowed, r.at_risk, r.locality, list(r.notices)) for cid, r in results],
        schema=OUT_CLAIM_SCHEMA,
        orient="row",
    )
    lines = pl.DataFrame(
        [
            (
                cid,
                x.line,
                x.code,
                list(x.modifiers),
                None if x.units is None else float(x.units),
                x.setting,
                x.rate,
                list(x.adjustments),
                x.allowed,
                x.denied,
            )  # fmt: skip
            for cid, r in results
            for x in r.lines
        ],
        schema=OUT_LINE_SCHEMA,
        orient="row",
    )
    found = pl.DataFrame(
        [
            (cid, list(f.lines), f.id, f.severity, f.message, f.fix, *cite(f.citation))
            for cid, r in results
            for f in r.findings
        ],  # fmt: skip
        schema=FINDING_SCHEMA,
        orient="row",
    )
    return claims, lines, found


def merge(results: list[BatchResult]) -> BatchResult:
    """One result from results with their own citation lists (pieces checked apart)."""
    cites: list[Citation] = []
    index: dict[Citation, int] = {}
    parts = []
    for r in results:
        remap = {}
        for i, c in enumerate(r.cites):
            if c not in index:
                index[c] = len(cites)
                cites.append(c)
            remap[i] = index[c]
        parts.append(r.findings.with_columns(pl.col("cite").replace_strict(remap, default=None, return_dtype=pl.Int64)))
    return _result([(r.claims, r.lines, found) for r, found in zip(results, parts)], cites)


def _result(parts: list[tuple[pl.DataFrame, ...]], cites: list[Citation]) -> BatchResult:
    """(claims, lines, findings) frames of pieces as one result, in claim, line and finding order."""
    if not parts:
        return BatchResult(
            pl.DataFrame(schema=OUT_CLAIM_SCHEMA),
            pl.DataFrame(schema=OUT_LINE_SCHEMA),
            pl.DataFrame(schema=FINDING_SCHEMA),
            cites,
        )
    if len(parts) == 1:  # its claims and lines are in order already
        return BatchResult(parts[0][0], parts[0][1], _order(parts[0][2]), cites)
    return BatchResult(
        pl.concat([p[0] for p in parts]).sort("cid"),
        pl.concat([p[1] for p in parts]).sort("cid", "line"),
        _order(pl.concat([p[2] for p in parts])),
        cites,
    )


def _is_em(code: pl.Expr) -> pl.Expr:
    """``rules.is_em`` of a column of codes."""
    return (
        code.str.contains(r"^[0-9]{5}$") & code.str.to_integer(strict=False).is_between(rules.EM_FIRST, rules.EM_LAST)
    ).fill_null(False)


def _split(text: pl.Expr, sep: str) -> pl.Expr:
    """Text as a list of its ``sep``-separated parts, the empty text as the empty list."""
    return pl.when(text == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(text.str.split(sep))


def _ids(df: pl.DataFrame, col: str) -> list[int]:
    return df[col].drop_nulls().unique().to_list()


def _dx(c: pl.DataFrame) -> pl.DataFrame:
    """One row per diagnosis of each claim, with its 1-based position."""
    return (
        c.select("cid", "cdate", "icd_rid", "dx", i=pl.int_ranges(1, pl.col("dx").list.len() + 1))
        .explode("dx", "i")
        .filter(pl.col("dx").is_not_null())
        .with_columns(compact=pl.col("dx").str.replace_all(".", "", literal=True))
    )


def _order(findings: pl.DataFrame) -> pl.DataFrame:
    """The per-claim engine's order: severity, first line, id, lines, message."""
    lines = pl.col("lines")
    # lines compare as tuples do: element by element, a shorter list first where it is a prefix
    # (-1 for a missing element); findings name one to four lines but for MUE days
    if (findings.select(lines.list.len().max()).item() or 0) <= 4:
        by = [lines.list.get(k, null_on_oob=True).fill_null(-1).alias(f"_l{k}") for k in range(1, 4)]
    else:
        by = [lines.cast(pl.List(pl.String)).list.eval(pl.element().str.zfill(9)).list.join(" ").alias("_l1")]
    return (
        findings.with_columns(
            pl.col("sev").replace_strict(SEVERITY_RANK, return_dtype=pl.Int8).alias("_sev"),
            lines.list.first().fill_null(0).alias("_first"),
            *by,
        )
        .sort("cid", "_sev", "_first", "fid", *(e.meta.output_name() for e in by), "msg")
        .drop("_sev", "_first", *(e.meta.output_name() for e in by))
    )
