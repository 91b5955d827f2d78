"""837P files as frames for the batch engine, in bulk: Polars splits the segments of a chunk
(``claims.x12_segments``) and builds the claim and line columns from them, with no Python
object per segment. A claim whose values the per-claim reader could object to or read
differently (any problem it would report, more than one SV1 in an LX loop, a date it cannot
read, a code that is not plain ...) is read by that reader from its own segments, with the
state (billing provider ZIP and NPI, last NM1) it would have there, so its problems and
positions are exactly the per-claim reader's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import polars as pl

from medcode.claims.batch import CLAIM_SCHEMA as _CLAIM_SCHEMA
from medcode.claims.batch import LINE_SCHEMA as _LINE_SCHEMA
from medcode.claims.batch.inputs import Frames
from medcode.claims.model import Claim
from medcode.claims.readers import MAX_TEXT, ClaimInputError
from medcode.claims.x12 import ReadState, read_segments
from medcode.claims.x12_envelope import Envelope
from medcode.claims.x12_segments import (
    ENVELOPE,
    Delimiters,
    delimiters,
    elements,
    raise_first,
    split_segments,
    syntax_errors,
)
from medcode.rules import MAX_DIAGNOSES, MAX_LINES

CLAIM_SCHEMA: Any = _CLAIM_SCHEMA
LINE_SCHEMA: Any = _LINE_SCHEMA
READ = ["CLM", "NM1", "N4", "HI", "LX", "SV1", "DTP", "SE", "GE", "IEA"]  # the segments the reader reads
CHUNK_CHARS = 12 << 20  # about 80,000 lines of a usual 837P
NPI_COLUMNS = ("billing_npi", "rendering_npi", "referring_npi")  # (carried when the batch engine takes them)


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise ClaimInputError(f"{path}:byte {exc.start}", "not UTF-8 text") from None
    except OSError as exc:
        raise ClaimInputError(path, exc.strerror or str(exc)) from None


def x12_frames(path: str, chunk_chars: int = CHUNK_CHARS) -> Iterator[Frames]:
    """Frames of an 837P file a chunk at a time, read from the file as they are needed;
    ``ClaimInputError`` as the per-claim reader raises it for a file that is not readable as 837P."""
    d, chunks = file_chunks(path, chunk_chars)
    envelope = Envelope()
    state = ReadState()
    first, cid = 1, 0
    for chunk in chunks:
        f = split_segments(chunk, d, first)
        first += f.height
        errors = syntax_errors(f, d, envelope.open_set)
        envelope.feed(f.filter(pl.col("id").is_in(list(ENVELOPE))).select("n", "id", elements(d)).rows())
        raise_first(errors + envelope.errors, path)
        claims, lines, slow, count = chunk_frames(f, d, path, state, cid)
        cid += count
        yield claims, lines, slow
    envelope.finish()
    raise_first(envelope.errors, path)


def file_chunks(path: str, size: int) -> tuple[Delimiters, Iterator[str]]:
    """The file's delimiters and its text in pieces of about ``size`` characters that end before
    a CLM segment (see ``x12_segments.chunk_texts``), read a piece at a time."""
    try:
        fh = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed by the pieces)
        head = fh.read(size).lstrip()
        while len(head) < 4096:  # (enough for ISA and GS, whatever the size asked)
            more = fh.read(size)
            if not more:
                break
            head += more
    except UnicodeDecodeError:
        read_text(path)  # (the same error, with its byte, as the per-claim reader gives)
        raise
    except OSError as exc:
        raise ClaimInputError(path, exc.strerror or str(exc)) from None
    try:
        d = delimiters(head, path)
    except ClaimInputError:
        fh.close()
        raise
    cut = re.compile(re.escape(d.segment) + r"[\r\n ]*(?=CLM" + re.escape(d.element) + ")")

    def pieces() -> Iterator[str]:
        buf = head
        with fh:
            while True:
                m = cut.search(buf, size) if len(buf) > size else None
                if m:
                    yield buf[: m.end()]
                    buf = buf[m.end() :]
                    continue
                try:
                    more = fh.read(size)
                except UnicodeDecodeError:
                    read_text(path)
                    raise
                if not more:
                    break
                buf += more
        if buf:
            yield buf

    return d, pieces()


def _get(i: int) -> pl.Expr:
    return pl.col("el").list.get(i, null_on_oob=True).fill_null("")


def chunk_frames(
    f: pl.DataFrame, d: Delimiters, path: str, state: ReadState, start: int
) -> tuple[pl.DataFrame, pl.DataFrame, list[tuple[int, Claim]], int]:
    """(claims, lines, slow claims, number of claims) of the segments ``f``, claim ids from
    ``start``; ``state`` is moved on to the end of the segments. Segments are split into their
    elements only where a value is read (CLM, NM1, N4, HI, SV1, DTP)."""
    sid = pl.col("id")
    comp = d.component
    el = elements(d).alias("el")
    opened = pl.when(sid == "CLM").then(True).when(sid.is_in(["SE", "GE", "IEA"])).then(False)
    w = f.filter(sid.is_in(READ)).with_columns(
        claim=(sid == "CLM").cum_sum().cast(pl.Int64),
        inside=opened.forward_fill().fill_null(False),
        line=(sid == "LX").cum_sum().cast(pl.Int64),
    )
    w = w.with_columns(line=pl.col("line") - pl.col("line").first().over("claim"))
    # what the reader carries: the last NM1's entity, the billing provider's ZIP and NPI
    ctx = w.filter(sid.is_in(["NM1", "N4"])).select("n", "id", "claim", "inside", "line", el)
    ctx = ctx.with_columns(who=pl.when(sid == "NM1").then(_get(1)).forward_fill().fill_null(state.last_nm1))
    ctx = ctx.with_columns(
        bzip=pl.when((sid == "N4") & (pl.col("who") == "85"))
        .then(_get(3).str.slice(0, 5))
        .forward_fill()
        .fill_null(state.billing_zip or ""),
        bnpi=pl.when((sid == "NM1") & (pl.col("who") == "85"))
        .then(_get(9))
        .forward_fill()
        .fill_null(state.billing_npi or ""),
    )
    end_state = replace(state)
    if ctx.height:
        last = ctx.row(ctx.height - 1, named=True)
        end_state = ReadState(last["bzip"] or None, last["bnpi"] or None, last["who"])
    c = w.filter("inside")
    heads = (
        c.filter(sid == "CLM")
        .select("claim", "n", el)
        .select("claim", "n", claim_id=_get(1), pos=_get(5).str.split(comp).list.first())
    )
    if not heads.height:
        state.billing_zip, state.billing_npi, state.last_nm1 = (
            end_state.billing_zip,
            end_state.billing_npi,
            end_state.last_nm1,
        )
        return (pl.DataFrame(schema=CLAIM_SCHEMA), pl.DataFrame(schema=LINE_SCHEMA), [], 0)
    # claim fields: the CLM row; the ZIP of the last N4 after NM1*77, else the billing provider's
    # at the claim's end (as the per-claim reader finishes a claim there)
    ends = c.group_by("claim").agg(last_n=pl.col("n").last())
    at_end = (
        ends.sort("last_n")
        .join_asof(ctx.select("n", "bzip", "bnpi"), left_on="last_n", right_on="n", strategy="backward")
        .select("claim", "bzip", "bnpi")
    )
    facility = (
        ctx.filter(pl.col("inside") & (sid == "N4") & (pl.col("who") == "77"))
        .group_by("claim")
        .agg(fzip=_get(3).str.slice(0, 5).last())
    )
    npis = (
        ctx.filter(pl.col("inside") & (sid == "NM1") & pl.col("who").is_in(["82", "DN"]) & (pl.col("line") == 0))
        .group_by("claim")
        .agg(
            rendering_npi=_get(9).filter(pl.col("who") == "82").last(),
            referring_npi=_get(9).filter(pl.col("who") == "DN").last(),
        )
    )
    # diagnoses: every HI element ABK:code or ABF:code (anything else is a problem there)
    hi = (
        c.filter(sid == "HI")
        .select("claim", el)
        .select("claim", e=pl.col("el").list.slice(1))
        .explode("e")
        .filter(pl.col("e").is_not_null())
        .with_columns(parts=pl.col("e").str.split(comp))
    )
    hi = hi.with_columns(
        q=pl.col("parts").list.first(), dx=pl.col("parts").list.get(1, null_on_oob=True).str.to_uppercase()
    )
    dx = hi.group_by("claim", maintain_order=True).agg(
        pl.col("dx"),
        dx_bad=(
            ~pl.col("q").is_in(["ABK", "ABF"]) | pl.col("dx").is_null() | ~pl.col("dx").str.contains(r"^[ -~]+$")
        ).any(),
    )
    # lines: one SV1 per LX loop, read as the plain-line shortcut of the per-claim reader takes them
    sv = (
        c.filter(sid == "SV1")
        .select("claim", "line", el)
        .select("claim", "line", proc=_get(1).str.split(comp), charge=_get(2), units=_get(4), ptrs=_get(7))
    )
    sv = sv.with_columns(
        q=pl.col("proc").list.first(),
        code=pl.col("proc").list.get(1, null_on_oob=True).fill_null(""),
        mods=pl.col("proc").list.slice(2, 4).list.eval(pl.element().filter(pl.element() != "")),
        units=pl.when(pl.col("units") == "").then(pl.lit("1")).otherwise("units"),
    )
    sv = sv.with_columns(
        mkey=pl.col("mods").list.join(" "),
        plist=pl.when(pl.col("ptrs") == "")
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(pl.col("ptrs").str.split(comp)),
    )
    # (codes of printable ASCII without spaces, and modifiers, in capitals as the reader writes them)
    sv_bad = (
        (pl.col("line") == 0)
        | ~pl.col("q").is_in(["HC", "WK"])
        | ~pl.col("code").str.contains(f"^[!-~]{{1,{MAX_TEXT}}}$")
        | ~pl.col("mkey").str.contains(r"^([A-Za-z0-9]{2}( [A-Za-z0-9]{2}){0,3})?$")
        | ~pl.col("units").str.contains(r"^[0-9]{1,4}$")
        | (pl.col("units").str.to_integer(strict=False) <= 0)
        | ~pl.col("plist").list.eval(pl.element().str.contains(r"^[0-9]{1,3}$")).list.all()
        | ~((pl.col("charge") == "") | pl.col("charge").str.contains(r"^[0-9]{1,8}(\.[0-9]{1,2})?$"))
    )
    sv = sv.with_columns(bad=sv_bad.fill_null(True))
    lx = c.filter(sid == "LX").group_by("claim").agg(lines=pl.len())
    per_line = sv.group_by("claim", "line").agg(pl.len().alias("sv1s"))
    dates = (
        c.filter(sid == "DTP")
        .select("claim", "line", el)
        .filter(_get(1) == "472")
        .select(
            "claim",
            "line",
            value=pl.when(_get(2) == "RD8").then(_get(3).str.split("-").list.first()).otherwise(_get(3)),
        )
    )
    dates = dates.with_columns(
        day=pl.when(pl.col("value").str.contains(r"^[0-9]{8}$")).then(
            pl.col("value").str.strptime(pl.Date, "%Y%m%d", strict=False)
        )
    )
    date_bad = dates.group_by("claim").agg(date_bad=pl.col("day").is_null().any())
    line_days = dates.filter(pl.col("line") > 0).group_by("claim", "line").agg(ldate=pl.col("day").last())
    sv_claims = sv.group_by("claim").agg(sv_bad=pl.col("bad").any(), sv1s=pl.len())
    multi = per_line.filter(pl.col("sv1s") != 1).select("claim").unique().with_columns(multi=pl.lit(True))
    lines = sv.select(
        "claim", "line", pl.col("code").str.to_uppercase(), pl.col("mkey").str.to_uppercase(), "units", "plist"
    ).join(line_days, on=["claim", "line"], how="left")
    cdays = lines.group_by("claim").agg(cdate=pl.col("ldate").min())
    claims = (
        heads.join(at_end, on="claim", how="left")
        .join(facility, on="claim", how="left")
        .join(npis, on="claim", how="left")
        .join(dx, on="claim", how="left")
        .join(lx, on="claim", how="left")
        .join(sv_claims, on="claim", how="left")
        .join(date_bad, on="claim", how="left")
        .join(multi, on="claim", how="left")
        .join(cdays, on="claim", how="left")
        .sort("claim")
    )
    bzip, bnpi = pl.col("bzip").fill_null(state.billing_zip or ""), pl.col("bnpi").fill_null(state.billing_npi or "")
    claims = claims.with_columns(
        cid=pl.col("claim") - 1 + start,
        zip=pl.when(pl.col("fzip").fill_null("") != "").then("fzip").otherwise(pl.when(bzip != "").then(bzip)),
        billing_npi=pl.when(bnpi != "").then(bnpi),
        pos=pl.when(pl.col("pos") != "").then("pos"),
        slow=(pl.col("claim_id") == "")
        | pl.col("lines").is_null()
        | (pl.col("lines") != pl.col("sv1s"))
        | pl.col("sv_bad").fill_null(True)
        | pl.col("date_bad").fill_null(False)
        | pl.col("dx_bad").fill_null(False)
        | pl.col("multi").fill_null(False)
        | pl.col("cdate").is_null()
        | (pl.col("lines").fill_null(0) > MAX_LINES)
        | (pl.col("dx").list.len().fill_null(0) > MAX_DIAGNOSES),
    )
    slow_ids = claims.filter("slow")
    slow: list[tuple[int, Claim]] = []
    if slow_ids.height:
        slow = _slow_claims(f, ctx, slow_ids, d, path, state)
    fast = claims.filter(~pl.col("slow"))
    extra = [name for name in NPI_COLUMNS if name in CLAIM_SCHEMA]
    claim_frame = fast.select(
        "cid",
        "claim_id",
        "cdate",
        "pos",
        "zip",
        pl.lit(None, pl.String).alias("locality"),
        pl.col("dx").fill_null([]),
        *extra,
    )
    line_frame = (
        lines.join(fast.select("claim", "cid"), on="claim")
        .select(
            "cid",
            "line",
            "code",
            "mkey",
            units=pl.col("units").str.to_integer(),
            ptrs=pl.col("plist").cast(pl.List(pl.Int64)),
            ldate="ldate",
        )
        .sort("cid", "line")
    )
    state.billing_zip, state.billing_npi, state.last_nm1 = (
        end_state.billing_zip,
        end_state.billing_npi,
        end_state.last_nm1,
    )
    return claim_frame.cast(CLAIM_SCHEMA), line_frame.cast(LINE_SCHEMA), slow, heads.height


def _slow_claims(
    f: pl.DataFrame, ctx: pl.DataFrame, slow_ids: pl.DataFrame, d: Delimiters, path: str, state: ReadState
) -> list[tuple[int, Claim]]:
    """The claims ``slow_ids`` read by the per-claim reader from their segments (CLM up to the
    next CLM, SE, GE or IEA), each with the reader's state at its CLM."""
    sid = pl.col("id")
    marker = pl.when(sid == "CLM").then(pl.col("n")).when(sid.is_in(["SE", "GE", "IEA"])).then(0)
    rows = (
        f.select("n", "seg", clm=marker.forward_fill())
        .join(slow_ids.select(clm="n"), on="clm")
        .select("clm", "n", "seg")
        .sort("n")
    )
    grouped: dict[int, list[tuple[int, str]]] = {}
    for clm, n, seg in rows.iter_rows():
        grouped.setdefault(clm, []).append((n, seg))
    starts = (
        slow_ids.select("cid", "n")
        .sort("n")
        .join_asof(
            ctx.select(ctx_n="n", bzip="bzip", bnpi="bnpi", who="who"),
            left_on="n",
            right_on="ctx_n",
            strategy="backward",
        )
    )
    out = []
    for cid, n, _, bzip, bnpi, who in starts.iter_rows():
        at = replace(state) if bzip is None else ReadState(bzip or None, bnpi or None, who or "")
        for claim in read_segments(grouped[n], d, path, at):
            out.append((cid, claim))
    return sorted(out, key=lambda x: x[0])
