"""Reports of checked claims: a summary, and JSON, CSV and HTML files."""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from medcode.claims.model import CheckedClaim


def summary(results: Iterable[CheckedClaim]) -> dict[str, Any]:
    claims = lines = 0
    by_id: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    total = at_risk = 0.0
    for r in results:
        claims += 1
        lines += len(r.lines)
        by_id.update(f.id for f in r.findings)
        by_severity.update(f.severity for f in r.findings)
        total += r.total_allowed
        at_risk += r.at_risk
    return {"claims": claims, "lines": lines, "findings": dict(sorted(by_id.items())),
            "by_severity": {k: by_severity.get(k, 0) for k in ("deny", "warn", "info")},
            "total_allowed": round(total, 2), "at_risk": round(at_risk, 2)}


def to_json(results: list[CheckedClaim]) -> bytes:
    return orjson.dumps({"summary": summary(results), "claims": results}, option=orjson.OPT_INDENT_2)


CSV_HEADER = ("claim_id", "finding", "severity", "lines", "message", "fix", "file", "release", "row")


def to_csv(results: list[CheckedClaim]) -> str:
    """One row per finding."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(CSV_HEADER)
    for r in results:
        for f in r.findings:
            c = f.citation
            w.writerow((r.id, f.id, f.severity, " ".join(map(str, f.lines)), f.message, f.fix,
                        c.file if c else "", c.release if c else "", c.row if c else ""))
    return out.getvalue()


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
