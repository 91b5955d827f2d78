"""Charts drawn by the server as SVG: readable without JavaScript, labelled for screen readers."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import escape

from medcode.kb.models import Price, YearChange

INK, MUTED, BAR, MARK, GRID = "#1b1f24", "#5b6470", "#8fb3d9", "#1f4e8c", "#d8dde3"
STACK = (
    ("work", "Work", "#1f4e8c"),
    ("pe_nonfacility", "Practice expense (office)", "#5d8fc9"),
    ("mp", "Malpractice", "#b9cde6"),
)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * step:
            return m * step
    return 10 * step


def _money(v: float) -> str:
    return f"${v:,.2f}"


def locality_bars(prices: Sequence[Price], national: float | None, chosen: str | None) -> str:
    """Office payment in every locality, highest first, as vertical bars; the national amount as
    a dashed line and the chosen locality (``MAC-LOC``) darker."""
    rows = [p for p in prices if p.nonfacility is not None]
    if not rows:
        return ""
    w, h, left, right, top, bottom = 720, 260, 64, 12, 24, 36
    top_value = _nice_max(max(p.nonfacility or 0 for p in rows))
    inner_w, inner_h = w - left - right, h - top - bottom
    bw = inner_w / len(rows)

    def y(v: float) -> float:
        return top + inner_h * (1 - v / top_value)

    hi, lo = rows[0], rows[-1]
    label = (
        f"Office payment by locality: from {_money(lo.nonfacility or 0)} in {lo.locality.name} to "
        f"{_money(hi.nonfacility or 0)} in {hi.locality.name}"
    )
    out = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="loc-chart-t" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="loc-chart-t">{escape(label)}</title>',
    ]
    for i in range(5):
        v = top_value * i / 4
        out.append(
            f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="{MUTED}">{_money(v)}</text>'
        )
    for i, p in enumerate(rows):
        v = p.nonfacility or 0
        key = p.locality.key
        fill = MARK if key == chosen else BAR
        out.append(
            f'<rect x="{left + i * bw + 0.5:.1f}" y="{y(v):.1f}" width="{max(bw - 1, 1):.1f}" '
            f'height="{top + inner_h - y(v):.1f}" fill="{fill}"><title>{escape(p.locality.name)}, '
            f"{escape(p.locality.state)}: {_money(v)}</title></rect>"
        )
    if national is not None:
        out.append(
            f'<line x1="{left}" x2="{w - right}" y1="{y(national):.1f}" y2="{y(national):.1f}" '
            f'stroke="{INK}" stroke-dasharray="4 3"/><text x="{w - right}" y="{y(national) - 4:.1f}" '
            f'text-anchor="end" fill="{INK}">national {_money(national)}</text>'
        )
    out.append(
        f'<text x="{left}" y="{h - 20}" fill="{MUTED}">{escape(hi.locality.name)} (highest)</text>'
        f'<text x="{w - right}" y="{h - 20}" text-anchor="end" fill="{MUTED}">{escape(lo.locality.name)} '
        f"(lowest)</text>"
    )
    picked = next((p for p in rows if p.locality.key == chosen), None)
    if picked is not None:
        out.append(
            f'<text x="{left + inner_w / 2:.1f}" y="{h - 4}" text-anchor="middle" fill="{MARK}">'
            f"{escape(picked.locality.name)}: {_money(picked.nonfacility or 0)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def rvu_history(history: Sequence[YearChange]) -> str:
    """Work, practice expense (office) and malpractice RVUs of each release as stacked bars, with
    the total and the national office payment."""
    rows = [x for x in history if x.rvu.total_nonfacility is not None]
    if not rows:
        return ""
    w, left, right, row_h, top = 720, 80, 190, 30, 30
    h = top + row_h * len(rows) + 10
    top_value = _nice_max(max((x.rvu.total_nonfacility or 0) for x in rows))
    inner = w - left - right
    label = "RVUs by release: " + "; ".join(f"{x.release} {x.rvu.total_nonfacility}" for x in rows)
    out = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="rvu-chart-t" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="rvu-chart-t">{escape(label)}</title>',
    ]
    x0 = left
    for _, name, color in STACK:
        out.append(
            f'<rect x="{x0}" y="6" width="10" height="10" fill="{color}"/>'
            f'<text x="{x0 + 14}" y="15" fill="{INK}">{name}</text>'
        )
        x0 += 14 + 7 * len(name) + 16
    for i, x in enumerate(rows):
        yy = top + i * row_h
        out.append(f'<text x="{left - 8}" y="{yy + 15}" text-anchor="end" fill="{INK}">{escape(x.release)}</text>')
        pos = float(left)
        for attr, name, color in STACK:
            v = getattr(x.rvu, attr) or 0
            width = inner * v / top_value
            out.append(
                f'<rect x="{pos:.1f}" y="{yy}" width="{width:.1f}" height="{row_h - 8}" fill="{color}">'
                f"<title>{escape(x.release)} {name}: {v}</title></rect>"
            )
            pos += width
        pay = x.payment.nonfacility
        out.append(
            f'<text x="{pos + 6:.1f}" y="{yy + 15}" fill="{INK}">{x.rvu.total_nonfacility} RVUs'
            f"{f' · {_money(pay)}' if pay is not None else ''}</text>"
        )
    out.append("</svg>")
    return "".join(out)
