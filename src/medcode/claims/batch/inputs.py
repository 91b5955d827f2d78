"""Claim files as frames for the batch engine.

Plain CSV (no quotes, printable ASCII) is split by Polars. Every value the per-claim reader
could object to (an empty code, a date it cannot read, units that are not a whole number from 1
to 9,999, a claim field that differs between rows ...) sends the claim to the per-claim reader
and engine, so its problems are reported exactly as they are there. Anything else (quoted CSV,
blank rows, JSON, FHIR, X12) is read by the per-claim readers and turned into frames a chunk of
claims at a time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import polars as pl

from medcode.claims.batch import CLAIM_SCHEMA, LINE_SCHEMA, _split
from medcode.claims.model import Claim
from medcode.claims.readers import MAX_TEXT, NPI_FIELDS, _csv_claim, csv_columns, iter_csv
from medcode.rules import MAX_DIAGNOSES, MAX_LINES

CLAIM_FIELDS = ("date", "place_of_service", "provider", "zip", "locality", "diagnoses", *NPI_FIELDS)
MAX_UNITS = 9999
PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"
Frames = tuple[pl.DataFrame, pl.DataFrame, list[tuple[int, Claim]]]


def fast_claim(claim: Claim) -> bool:
    """Whether the batch engine's joins model the claim (otherwise the per-claim engine checks it)."""
    return (
        not claim.problems
        and claim.date is not None
        and len(claim.lines) <= MAX_LINES
        and len(claim.diagnoses) <= MAX_DIAGNOSES  # else refused
        and all(x.code and type(x.units) is int and 0 < x.units <= MAX_UNITS for x in claim.lines)
    )


def from_claims(claims: Iterable[Claim], start: int = 0) -> Frames:
    """Frames of claims read by the per-claim readers. Lists (diagnoses, pointers) travel as
    joined text, split by Polars: a Python list per row is slow to turn into a frame."""
    ccols: list[list] = [[] for _ in CLAIM_SCHEMA]
    lcols: list[list] = [[] for _ in LINE_SCHEMA]
    slow = []
    for cid, claim in enumerate(claims, start):
        if not fast_claim(claim) or any(not d or SEP in d for d in claim.diagnoses):
            slow.append((cid, claim))
            continue
        for col, value in zip(
            ccols,
            (
                cid,
                claim.id,
                claim.date,
                claim.place_of_service,
                claim.zip_code,
                claim.locality,
                SEP.join(claim.diagnoses),
                claim.billing_npi,
                claim.rendering_npi,
                claim.referring_npi,
            ),
        ):
            col.append(value)
        for x in claim.lines:
            for lcol, lvalue in zip(
                lcols, (cid, x.line, x.code, " ".join(x.modifiers), x.units, " ".join(map(str, x.pointers)), x.date)
            ):
                lcol.append(lvalue)
    claims_frame = pl.DataFrame(dict(zip(CLAIM_SCHEMA, ccols)), schema={**CLAIM_SCHEMA, "dx": pl.String})
    lines_frame = pl.DataFrame(dict(zip(LINE_SCHEMA, lcols)), schema={**LINE_SCHEMA, "ptrs": pl.String})
    return (
        claims_frame.with_columns(dx=_split(pl.col("dx"), SEP)),
        lines_frame.with_columns(ptrs=_split(pl.col("ptrs"), " ").cast(pl.List(pl.Int64))),
        slow,
    )


SEP = "\x1f"  # between diagnoses on their way into a frame


def chunks(claims: Iterable[Claim], lines: int = 100_000) -> Iterator[list[Claim]]:
    """Lists of claims holding about ``lines`` lines each."""
    it = iter(claims)
    while True:
        out, n = [], 0
        for claim in it:
            out.append(claim)
            n += len(claim.lines)
            if n >= lines:
                break
        if not out:
            return
        yield out


def csv_pieces(path: str, *, pieces: int | None = None, size: int = 32 << 20) -> tuple[bytes, list] | None:
    """The header row and (start, end, first line) byte ranges of whole claims, about ``size``
    bytes each (or ``pieces`` of them); None for CSV with quotes, where a newline may sit inside
    a value, or without a claim_id column (the per-claim reader then reads it and reports)."""
    with open(path, "rb") as fh:
        data = fh.read()
    if b'"' in data:
        return None
    header_end = data.find(b"\n")
    if header_end < 0:
        return None
    header = data[:header_end]
    names = [h.strip().lower() for h in header.decode("utf-8", "replace").split(",")]
    if "claim_id" not in names:
        return None
    id_col = names.index("claim_id")
    step = max(1, -(-(len(data) - header_end) // pieces)) if pieces else size
    bounds, start, line = [], header_end + 1, 2
    while start < len(data):
        end = _claim_boundary(data, min(len(data), start + step), id_col)
        bounds.append((start, end, line))
        line += data.count(b"\n", start, end)
        start = end
    return header, bounds


def first_csv_date(path: str) -> date | None:
    """The date of service on the first row of a CSV claim file, when it reads as one."""
    with open(path, "rb") as fh:
        header, row = fh.readline(), fh.readline()
    names = [h.strip().lower() for h in header.decode("utf-8", "replace").split(",")]
    cells = row.decode("utf-8", "replace").split(",")
    if "date" not in names or len(cells) != len(names):
        return None
    try:
        return date.fromisoformat(cells[names.index("date")].strip())
    except ValueError:
        return None


def _claim_boundary(data: bytes, at: int, id_col: int) -> int:
    """The start of the first row at or after ``at`` whose claim id differs from the row before."""
    if at >= len(data):
        return len(data)
    at = data.find(b"\n", at)
    if at < 0:
        return len(data)
    line_start = data.rfind(b"\n", 0, at) + 1
    previous = data[line_start:at].split(b",")[id_col : id_col + 1]
    pos = at + 1
    while pos < len(data):
        nl = data.find(b"\n", pos)
        nl = len(data) if nl < 0 else nl
        if data[pos:nl].split(b",")[id_col : id_col + 1] != previous:
            return pos
        pos = nl + 1
    return len(data)


def piece_frames(path: str, header: bytes, body: bytes, first_line: int) -> Frames:
    """Frames of one piece of a CSV file; rows the fast path cannot take are read by the
    per-claim reader, with the file's line numbers kept (blank lines stand in for the rows before)."""
    frames = csv_body_frames(header, body, path, first_line)
    if frames is None:
        text = header.decode("utf-8") + "\n" * (first_line - 1) + body.decode("utf-8")
        frames = from_claims(iter_csv(io.StringIO(text, newline=""), path))
    return frames


def csv_frames(path: str) -> Frames | None:
    """Frames of a plain CSV file, or None when it needs the per-claim reader (which then also
    gives the errors for a file that cannot be read)."""
    data = Path(path).read_bytes()
    header, _, body = data.partition(b"\n")
    return csv_body_frames(header, body, path, 2)


def csv_body_frames(header_bytes: bytes, data: bytes, path: str, first_line: int) -> Frames | None:
    """Frames of the CSV rows ``data`` (whole claims) whose first row is line ``first_line`` of
    ``path``, under the header row ``header_bytes``; None when the rows need the per-claim reader."""
    if not header_bytes.strip():
        return None
    if b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    # (rows of spaces alone fail the comma count below, or have no claim id)
    if any(ch in data for ch in (b'"', b"\r", b"\n\n")) or data.startswith(b"\n"):
        return None
    try:
        header_text = header_bytes.decode("ascii").rstrip("\r")
    except UnicodeDecodeError:
        return None
    header = next(csv.reader([header_text]))
    col = csv_columns(header, path)
    ncols = len(header)
    nrows = data.count(b"\n") + (not data.endswith(b"\n"))
    # every row has exactly ncols - 1 commas (read_csv refuses a row with more, so a total that
    # matches leaves none with fewer) and printable characters only
    if data.count(b",") != nrows * (ncols - 1) or data.translate(None, PRINTABLE):
        return None
    names = [f"c{i}" for i in range(ncols)]
    try:
        raw = pl.read_csv(
            data,
            has_header=False,
            schema=dict.fromkeys(names, pl.String),
            quote_char=None,
            empty_string_is_null=False,
            truncate_ragged_lines=False,
            raise_if_empty=True,
            row_index_name="n",
            row_index_offset=first_line,
        )
    except (pl.exceptions.PolarsError, ValueError):
        return None
    if raw.height != nrows:  # (a blank row has no claim id: see below)
        return None

    spaces = b" " in data

    def get(name: str) -> pl.Expr:
        if name not in col:
            return pl.lit("")
        value = pl.col(names[col[name]])
        return value.str.strip_chars(" ") if spaces else value

    def day(name: str) -> pl.Expr:
        return pl.col(name).str.strptime(pl.Date, "%Y-%m-%d", strict=False)

    def ok_day(name: str) -> pl.Expr:
        return (pl.col(name) == "") | (pl.col(name).str.contains(r"^\d{4}-\d{2}-\d{2}$") & day(name).is_not_null())

    f = raw.select(
        "n",
        claim_id=get("claim_id"),
        code=get("code").str.to_uppercase(),
        mods=get("modifiers").str.to_uppercase(),
        units=get("units"),
        ptrs=get("pointers"),
        charge=get("charge"),
        line_date=get("line_date"),
        **{name: get(name) for name in CLAIM_FIELDS},
    )
    if f.select((pl.col("claim_id") == "").any()).item():
        return None
    f = f.with_columns(
        cid=((pl.col("claim_id") != pl.col("claim_id").shift(1)).fill_null(True).cum_sum() - 1).cast(pl.Int64)
    )
    # the values the per-claim reader takes: at most four two-character modifiers, pointers of
    # one to three digits (separated by spaces or semicolons), whole units from 1 to 9999, dates
    # as YYYY-MM-DD that exist. Columns with few distinct values are tested once per value.
    rules = {
        "mods": pl.col("mods").str.contains(r"^[ ;]*([A-Z0-9]{2}([ ;]+[A-Z0-9]{2}){0,3})?[ ;]*$"),
        "units": (pl.col("units") == "")
        | (pl.col("units").str.contains(r"^[0-9]{1,4}$") & (pl.col("units").str.to_integer(strict=False) > 0)),
        "ptrs": pl.col("ptrs").str.contains(r"^[ ;]*([0-9]{1,3}([ ;]+[0-9]{1,3})*)?[ ;]*$"),
        "line_date": ok_day("line_date"),
        "date": ok_day("date"),
    }
    # (codes and claim fields longer than the per-claim reader takes, and charges past its limit,
    # go to it too: a charge here has at most 8 digits before the point and 2 after)
    bad = (
        (pl.col("code") == "")
        | (pl.col("code").str.len_bytes() > MAX_TEXT)
        | ~((pl.col("charge") == "") | pl.col("charge").str.contains(r"^[0-9]{1,8}(\.[0-9]{1,2})?$"))
        | pl.any_horizontal(*(pl.col(c).str.len_bytes() > MAX_TEXT for c in CLAIM_FIELDS if c != "diagnoses"))
    )
    for name, rule in rules.items():
        values = f.select(pl.col(name).unique())
        wrong = values.filter(~rule.fill_null(False))[name]
        if wrong.len():
            bad = bad | pl.col(name).is_in(wrong.implode())
    f = f.with_columns(bad=bad.fill_null(True))
    # claims over the limits of one claim (rules.MAX_LINES, MAX_DIAGNOSES) are refused by the per-claim engine
    dx_count = pl.col("diagnoses").str.replace_all(";", " ", literal=True).str.count_matches(r"[^ ]+")
    too_big = dx_count > MAX_DIAGNOSES
    long_claims = f.group_by("cid").len().filter(pl.col("len") > MAX_LINES)["cid"]
    if long_claims.len():
        too_big = too_big | pl.col("cid").is_in(long_claims.implode())
    f = f.with_columns(bad=pl.col("bad") | too_big)
    starts = (pl.col("cid") != pl.col("cid").shift(1)).fill_null(True)
    if f.select(pl.all_horizontal((starts | (pl.col(c) == pl.col(c).shift(1))).all() for c in CLAIM_FIELDS)).item():
        # each claim's rows repeat its fields (the usual file): its first row has them all
        bad_claims = f.filter("bad")["cid"].unique().implode()
        per_claim = f.filter(starts).select(
            "cid", "claim_id", *(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in CLAIM_FIELDS)
        )
        per_claim = per_claim.with_columns(slow=pl.col("cid").is_in(bad_claims) | pl.col("date").is_null())
    else:
        per_claim = f.group_by("cid", maintain_order=True).agg(
            pl.col("claim_id").first(),
            pl.col("bad").any(),
            *[(pl.col(c).filter(pl.col(c) != "").n_unique() > 1).alias(f"{c}_differs") for c in CLAIM_FIELDS],
            *[pl.col(c).filter(pl.col(c) != "").first().alias(c) for c in CLAIM_FIELDS],
        )
        per_claim = per_claim.with_columns(
            slow=pl.col("bad") | pl.any_horizontal(*[f"{c}_differs" for c in CLAIM_FIELDS]) | pl.col("date").is_null()
        )
    any_slow = per_claim["slow"].any()
    fast = per_claim.filter(~pl.col("slow")) if any_slow else per_claim
    fast_rows = f.join(fast.select("cid"), on="cid") if any_slow else f
    seps = _separators(fast_rows.select("mods", "ptrs"), fast.select("diagnoses"))
    claims = fast.select(
        "cid",
        "claim_id",
        cdate=day("date"),
        pos=pl.col("place_of_service"),
        zip=pl.col("zip"),
        locality=pl.col("locality"),
        dx=_words(pl.col("diagnoses").str.to_uppercase(), seps["diagnoses"]).fill_null([]),
        billing_npi="billing_npi",
        rendering_npi="rendering_npi",
        referring_npi="referring_npi",
    )
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    first_row = pl.when(pl.col("cid") != pl.col("cid").shift(1)).then(row).forward_fill().fill_null(0)
    lines = fast_rows.select(
        "cid",
        line=row - first_row + 1,
        code=pl.col("code"),
        mkey=_spaced(pl.col("mods"), seps["mods"]),
        units=pl.when(pl.col("units") == "").then(1).otherwise(pl.col("units").str.to_integer(strict=False)),
        ptrs=_words(pl.col("ptrs"), seps["ptrs"]).cast(pl.List(pl.Int64)),
        ldate=day("line_date"),
    )
    slow = []
    slow_ids = per_claim.filter("slow")["cid"]
    if slow_ids.len():
        grouped: dict[int, list] = {}
        slow_rows = raw.with_columns(cid=f["cid"]).join(slow_ids.to_frame(), on="cid", maintain_order="left")
        for cid, n, *cells_ in slow_rows.select("cid", "n", *names).iter_rows():
            grouped.setdefault(cid, []).append((n, cells_))
        slow = [(cid, _csv_claim(rows_, col, path)) for cid, rows_ in grouped.items()]
    return claims.cast(pl.Schema(CLAIM_SCHEMA)), lines.cast(pl.Schema(LINE_SCHEMA)), slow


def _separators(*frames: pl.DataFrame) -> dict[str, str | None]:
    """For each column of the frames (values separated by spaces or semicolons, as the per-claim
    reader takes them), the separator when every value uses that one alone, singly and only
    between values: a plain split is several times faster than finding the words."""
    out: dict[str, str | None] = {}
    for frame in frames:
        for name in frame.columns:
            column, out[name] = frame[name], None
            for sep, other in ((" ", ";"), (";", " ")):
                if not column.str.contains(f"^{sep}|{sep}$|{sep}{sep}|{other}").any():
                    out[name] = sep
                    break
    return out


def _words(expr: pl.Expr, sep: str | None) -> pl.Expr:
    """The values of a column as lists (see ``_separators``)."""
    if sep is None:
        return expr.str.replace_all(";", " ", literal=True).str.extract_all(r"[^ ]+")
    return _split(expr, sep)


def _spaced(expr: pl.Expr, sep: str | None) -> pl.Expr:
    """The values of a column separated by single spaces (see ``_separators``)."""
    if sep is None:
        return _words(expr, sep).list.join(" ")
    return expr if sep == " " else expr.str.replace_all(sep, " ", literal=True)


def claim_frames(claims: Iterable[Claim], lines: int = 100_000) -> Iterator[Frames]:
    """Frames of claims read by the per-claim readers, about ``lines`` lines at a time."""
    start = 0
    for chunk in chunks(claims, lines):
        yield from_claims(chunk, start)
        start += len(chunk)
