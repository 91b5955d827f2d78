"""Reports of checked claims: a summary, and JSON, CSV and HTML files."""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from collections.abc import Iterable
from typing import IO, Any

import orjson

from medcode.claims.model import CheckedClaim


class Summary:
    """Totals over checked claims, added a batch at a time."""

    def __init__(self) -> None:
        self.claims = self.lines = 0
        self.by_id: Counter[str] = Counter()
        self.by_severity: Counter[str] = Counter()
        self.total = self.at_risk = 0.0

    def add(self, results: Iterable[CheckedClaim]) -> None:
        for r in results:
            self.claims += 1
            self.lines += len(r.lines)
            self.by_id.update(f.id for f in r.findings)
            self.by_severity.update(f.severity for f in r.findings)
            self.total += r.total_allowed
            self.at_risk += r.at_risk

    def add_summary(self, s: dict[str, Any]) -> None:
        """Adds a summary made elsewhere (the batch engine's, from its frames)."""
        self.claims += s["claims"]
        self.lines += s["lines"]
        self.by_id.update(s["findings"])
        self.by_severity.update(s["by_severity"])
        self.total += s["total_allowed"]
        self.at_risk += s["at_risk"]

    def as_dict(self) -> dict[str, Any]:
        return {"claims": self.claims, "lines": self.lines, "findings": dict(sorted(self.by_id.items())),
                "by_severity": {k: self.by_severity.get(k, 0) for k in ("deny", "warn", "info")},
                "total_allowed": round(self.total, 2), "at_risk": round(self.at_risk, 2)}


def summary(results: Iterable[CheckedClaim]) -> dict[str, Any]:
    s = Summary()
    s.add(results)
    return s.as_dict()


def to_json(results: list[CheckedClaim]) -> bytes:
    return orjson.dumps({"summary": summary(results), "claims": results}, option=orjson.OPT_INDENT_2)


class JsonWriter:
    """The JSON report written as claims come, for files of any size: ``{"claims": [...],
    "summary": {...}}`` (the same keys as ``to_json``; the summary comes last)."""

    def __init__(self, out: IO[bytes]):
        self.out, self.first = out, True
        out.write(b'{"claims": [')

    def write(self, results: Iterable[CheckedClaim]) -> None:
        for r in results:
            self.out.write(b"\n" if self.first else b",\n")
            self.out.write(orjson.dumps(r))
            self.first = False

    def close(self, summary: dict[str, Any]) -> None:
        self.out.write(b'\n],\n"summary": ' + orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"}\n")


class CsvWriter:
    """One row per finding, written as claims come."""

    def __init__(self, out: IO[bytes]):
        self.out = io.TextIOWrapper(out, encoding="utf-8", newline="")
        self.w = csv.writer(self.out)
        self.w.writerow(CSV_HEADER)

    def write(self, results: Iterable[CheckedClaim]) -> None:
        for r in results:
            for f in r.findings:
                c = f.citation
                self.w.writerow((r.id, f.id, f.severity, " ".join(map(str, f.lines)), f.message, f.fix,
                                 c.file if c else "", c.release if c else "", c.row if c else ""))

    def close(self, summary: dict[str, Any]) -> None:
        self.out.flush()
        self.out.detach()


class HtmlWriter:
    """The HTML report (held until the end: it is meant for a person, not for millions of lines)."""

    def __init__(self, out: IO[bytes]):
        self.out, self.results = out, []

    def write(self, results: Iterable[CheckedClaim]) -> None:
        self.results.extend(results)

    def close(self, summary: dict[str, Any]) -> None:
        self.out.write(to_html(self.results).encode())


WRITERS = {".json": JsonWriter, ".csv": CsvWriter, ".html": HtmlWriter}


CSV_HEADER = ("claim_id", "finding", "severity", "lines", "message", "fix", "file", "release", "row")


def to_csv(results: list[CheckedClaim]) -> str:
    """One row per finding."""
    out = io.BytesIO()
    w = CsvWriter(out)
    w.write(results)
    w.close({})
    return out.getvalue().decode()


def to_html(results: list[CheckedClaim]) -> str:
    s = summary(results)
    e = html.escape
    parts = ["<!doctype html><html lang=en><meta charset=utf-8><title>medcode claim check</title>",
             "<style>body{font-family:sans-serif;margin:2rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
             "td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}"
             ".deny{color:#a00}.warn{color:#a60}.info{color:#555}</style>",
             f"<h1>Claim check</h1><p>{s['claims']} claims, {s['lines']} lines; "
             f"{s['by_severity']['deny']} deny, {s['by_severity']['warn']} warn, {s['by_severity']['info']} info "
             f"findings; allowed ${s['total_allowed']:,.2f}, at risk ${s['at_risk']:,.2f}.</p>"]
    for r in results:
        parts.append(f"<h2>Claim {e(r.id)}</h2><table><tr><th>line<th>code<th>modifiers<th>units<th>allowed"
                     "<th>adjustments")
        for x in r.lines:
            allowed = "" if x.allowed is None else f"{x.allowed:,.2f}" + (" (denied)" if x.denied else "")
            parts.append(f"<tr><td>{x.line}<td>{e(x.code)}<td>{e(' '.join(x.modifiers))}<td>"
                         f"{'' if x.units is None else f'{x.units:g}'}<td>{allowed}<td>{e('; '.join(x.adjustments))}")
        parts.append(f"</table><p>Total allowed ${r.total_allowed:,.2f}</p>")
        if r.findings:
            parts.append("<table><tr><th>finding<th>severity<th>lines<th>message<th>fix<th>source")
            for f in r.findings:
                src = f"{f.citation.file} ({f.citation.release}) {f.citation.row or ''}" if f.citation else ""
                parts.append(f"<tr class={f.severity}><td>{e(f.id)}<td>{f.severity}<td>{e(' '.join(map(str, f.lines)))}"
                             f"<td>{e(f.message)}<td>{e(f.fix)}<td>{e(src)}")
            parts.append("</table>")
    parts.append("</html>")
    return "".join(parts)
