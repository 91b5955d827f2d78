"""Rendering for people in a terminal (rich tables and progress bars), used by the CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from medcode import rules
from medcode.kb.models import DiagnosisCode, Payment, Price, ProcedureCode
from medcode.kb.releases import SourceRef


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader stopped (``| head``): stop writing and let the command end quietly (medcode.cli.main)."""
        self.quiet = True
        raise BrokenPipeError


console = _Console(highlight=False)  # no automatic colouring of numbers and words: plain and fast


INDICATORS = rules.INDICATOR_NAMES


def _money(v: float | None) -> str:
    return "n/a" if v is None else f"${v:,.2f}"


def ingest_progress(quiet: bool = False) -> tuple[Any, Callable[[Any], None], Callable[[Any], None]]:
    """(progress callback, plan callback, finish callback) for ``ingest``."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<58}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:>10} rows"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )
    tasks: dict[int, TaskID] = {}
    names: dict[int, str] = {}

    def on_plan(planned: list[Any]) -> None:
        progress.start()
        for pf in planned:
            names[pf.id] = f"{pf.source.family} {pf.source.release} {pf.source.path.name}"[:58]
            tasks[pf.id] = progress.add_task(names[pf.id], total=1, rows=0, start=False)

    def on_event(event: str, file_id: int, rows: int) -> None:
        task = tasks.get(file_id)
        if task is None:
            return
        if event == "start":
            progress.start_task(task)
            progress.update(task, total=None)
        elif event == "rows":
            progress.update(task, rows=f"{rows:,}")
        elif event == "done":
            progress.update(task, total=1, completed=1, rows=f"{rows:,}")

    def finish(summary: Any) -> None:
        progress.stop()
        if summary is None or quiet:
            return
        table = Table(title="Knowledge base built", show_lines=False)
        for col in ("family", "releases", "files", "rows"):
            table.add_column(col, justify="right" if col != "family" else "left")
        fam: dict[str, list[Any]] = {}
        for pf, res in summary.files:
            fam.setdefault(pf.source.family, []).append((pf, res))
        for name, items in sorted(fam.items()):
            table.add_row(
                name,
                ", ".join(sorted({pf.source.release for pf, _ in items})),
                str(len(items)),
                f"{sum(r.rows for _, r in items):,}",
            )
        console.print(table)
        console.print(
            f"{len(summary.files)} files, {sum(r.rows for _, r in summary.files):,} rows, "
            f"{summary.size_bytes / 1e6:,.0f} MB in {summary.seconds:.1f} s -> {summary.build}"
        )

    return on_event, on_plan, finish


def print_code(page: ProcedureCode | DiagnosisCode) -> None:
    if isinstance(page, DiagnosisCode):
        _print_diagnosis(page)
    else:
        _print_procedure(page)


def _num(v: float | None) -> str:
    return "n/a" if v is None else str(v)


def _signed(v: float | None, suffix: str = "") -> str:
    """A change: +0.40, -1.20 (+1.2% with suffix %); n/a for None."""
    if v is None:
        return "n/a"
    return f"{v:+.1f}{suffix}" if suffix else f"{v:+,.2f}"


def _facts_of(p: ProcedureCode) -> list[tuple[str, str]]:
    """(label, text): global period, indicators, endoscopic base, add-on, MUE."""
    facts: list[tuple[str, str]] = []
    if p.global_period:
        facts.append(("Global period", f"{p.global_period.code}: {p.global_period.meaning or ''}"))
    if p.global_shares:
        shares = p.global_shares.percents()
        facts.append(
            ("Global package shares", "; ".join(f"{rules.GLOBAL_SHARE_NAMES[k]} {v}" for k, v in shares.items()))
        )
    for name, ind in p.indicators.items():
        facts.append((INDICATORS.get(name, name), f"{ind.code}: {ind.meaning or 'no meaning on file'}"))
    if p.endoscopic_base:
        facts.append(("Endoscopic base", f"{p.endoscopic_base.code} {p.endoscopic_base.description}"))
    if p.addon:
        facts.append(
            (
                "Add-on",
                f"type {p.addon.type}: {p.addon.type_meaning or ''} Primary codes "
                f"({len(p.addon.primary_codes)}): {' '.join(p.addon.primary_codes)}",
            )
        )
    if p.addon_codes:
        facts.append(("Add-on codes", " ".join(p.addon_codes)))
    if p.mue:
        facts.append(
            ("MUE", f"{p.mue.units} unit(s), MAI {p.mue.mai}: {p.mue.mai_meaning or ''} Rationale: {p.mue.rationale}")
        )
    return facts


def _print_lines(lines: list[tuple[str, str]], title: str = "") -> None:
    """``label: text`` lines, the label in bold, in one write (rich tables cost milliseconds each)."""
    if lines:
        console.print(
            "\n".join(
                ([f"[bold]{escape(title)}[/bold]"] if title else [])
                + [f"[bold]{escape(label)}[/bold]: {escape(text)}" for label, text in lines]
            )
        )


def _paid(pay: Payment | None, setting: str) -> str:
    """A national amount, or why there is none (``Payment.note``: contractor priced), or n/a."""
    value = getattr(pay, setting) if pay is not None else None
    note = pay.note if pay is not None else None
    return escape(note) if value is None and note else _money(value)


def _print_rvus(p: ProcedureCode) -> None:
    """The code's RVUs and national payment, and those of every row with a modifier (26, TC, 53)."""
    if p.rvu is None and not p.modifiers:
        return
    if p.rvu is None:
        console.print(escape(f"No fee schedule row without a modifier in {p.release}; the rows with one:"))
    t = Table(title="RVUs and national payment")
    for col in ("", "status", "work", "PE", "MP", "total", "payment"):
        t.add_column(col, justify="left" if col in ("", "status") else "right")
    rows = [("", p.status.code if p.status else "", p.rvu, p.payment)] if p.rvu is not None else []
    rows += [(f"-{m.modifier} ", m.status, m.rvu, m.payment) for m in p.modifiers]
    for label, status, rvu, pay in rows:
        t.add_row(
            escape(label + "non-facility"),
            escape(status),
            _num(rvu.work),
            _num(rvu.pe_nonfacility),
            _num(rvu.mp),
            _num(rvu.total_nonfacility),
            _paid(pay, "nonfacility"),
        )
        t.add_row(
            escape(label + "facility"),
            escape(status),
            _num(rvu.work),
            _num(rvu.pe_facility),
            _num(rvu.mp),
            _num(rvu.total_facility),
            _paid(pay, "facility"),
        )
    console.print(t)
    if p.rvu is not None:
        console.print(f"Conversion factor {_num(p.conversion_factor)}")
    _print_modifier_rows(p)


def _print_modifier_rows(p: ProcedureCode) -> None:
    """What each row with a modifier says that the code's own row does not."""
    lines: list[tuple[str, str]] = []
    for m in p.modifiers:
        row = f"{p.code}-{m.modifier}"
        if p.status is None or m.status != p.status.code:
            lines.append((row, f"status {m.status}: {m.status_meaning or 'no meaning on file'}"))
        for name, ind in m.indicators.items():
            if p.indicators.get(name) != ind:
                lines.append((row, f"{INDICATORS.get(name, name)} {ind.code}: {ind.meaning or 'no meaning on file'}"))
        if m.global_period and m.global_period != p.global_period:
            lines.append((row, f"global period {m.global_period.code}: {m.global_period.meaning or ''}"))
        if m.endoscopic_base != p.endoscopic_base and m.endoscopic_base is not None:
            lines.append((row, f"endoscopic base {m.endoscopic_base.code} {m.endoscopic_base.description}"))
        if m.conversion_factor != p.conversion_factor:
            lines.append((row, f"conversion factor {_num(m.conversion_factor)}"))
    _print_lines(lines)


def _parts(p: ProcedureCode) -> list[str]:
    """The other fee schedules, a line each: ASC, OPPS cap, lab, DMEPOS and ASP."""
    out = []
    if p.asc:
        a = p.asc
        if a.get("excluded"):
            text = f"{a.get('release')}: excluded from the ASC covered procedures list"
        else:
            text = (
                f"{a.get('release')}: {_money(a.get('rate'))}, payment indicator {a.get('payment_indicator')}: "
                f"{a.get('payment_indicator_meaning') or 'no meaning on file'}"
            )
        out.append(f"ASC {text}")
    if p.opps_cap:
        rows = p.opps_cap.get("by_modifier") or []
        shown = "; ".join(", ".join(f"{k} {v}" for k, v in r.items()) for r in rows) if rows else "present"
        out.append(f"OPPS cap {p.opps_cap.get('release', '')}: {shown}")
    if p.lab:
        rates = ", ".join(
            f"{r.get('modifier') or 'no modifier'} {_money(r.get('rate'))}" for r in p.lab.get("rates") or []
        )
        out.append(f"Clinical lab fee schedule {p.lab.get('release', '')}: {rates}")
    if p.dmepos:
        out.append(
            f"DMEPOS {p.dmepos.get('release', '')}: fee schedule amounts for "
            f"{len(p.dmepos.get('fees') or [])} modifier combination(s)"
        )
    if p.asp:
        out.append(
            f"ASP {p.asp.get('release', '')}: payment limit {_money(p.asp.get('payment_limit'))} "
            f"per {p.asp.get('dosage')}"
        )
    return out


def _print_procedure(p: ProcedureCode) -> None:
    head = [f"[bold]{escape(p.code)}[/bold] ({p.system}) {escape(p.description)}"]
    if p.plain_description and p.plain_description != p.description:
        head.append(escape(f"In plain words: {p.plain_description}"))
    if p.long_description:
        head.append(escape(p.long_description))
    if p.status:
        head.append(
            escape(
                f"Status {p.status.code}: {p.status.meaning or 'no meaning on file'}   "
                f"release {p.release}, date {p.date}"
            )
        )
    elif p.release:
        head.append(escape(f"Release {p.release}, date {p.date}"))
    console.print("\n".join(head + [f"[bold]{escape(label)}[/bold]: {escape(text)}" for label, text in _facts_of(p)]))
    _print_rvus(p)
    tail = []
    if p.previous_year:
        y = p.previous_year
        pct = f", {_signed(y.change_nonfacility_pct, '%')}" if y.change_nonfacility_pct is not None else ""
        tail.append(
            escape(
                f"Previous year ({y.release}): {_paid(y.payment, 'nonfacility')} non-facility, "
                f"{_paid(y.payment, 'facility')} facility; change {_signed(y.change_nonfacility)}{pct} "
                f"non-facility, {_signed(y.change_facility)} facility"
            )
        )
    if tail:
        console.print("\n".join(tail))
        tail = []
    if p.price:
        print_price(p.price)
    if p.ptp:
        total = p.ptp.column_1_count + p.ptp.column_2_count
        every = f" (all of them: medcode ptp {p.code})" if total else ""
        tail.append(
            escape(
                f"NCCI PTP ({p.ptp.release}): column 1 in {p.ptp.column_1_count} active edits, "
                f"column 2 in {p.ptp.column_2_count}{every}"
            )
        )
    tail += [escape(line) for line in _parts(p)]
    tail += [f"[yellow]Note:[/yellow] {escape(n)}" for n in p.notices]
    if tail:
        console.print("\n".join(tail))
    _print_sources(p.sources)


def print_ptp(page: Any) -> None:
    if page.release is None:
        console.print("No NCCI PTP release is loaded.")
        return
    shown = f"{page.offset + 1}-{page.offset + len(page.pairs)} of " if page.pairs else ""
    console.print(
        escape(
            f"NCCI PTP {page.release}: {page.code} as {page.direction.replace('_', ' ')}, "
            f"{shown}{page.total} edits in force"
        )
    )
    t = Table()
    for col in ("column 1", "column 2", "modifier", "effective", "deleted", "rationale"):
        t.add_column(col)
    for e in page.pairs:
        t.add_row(
            escape(e.column_1),
            escape(e.column_2),
            str(e.modifier),
            _ymd(e.effective),
            _ymd(e.deleted),
            escape(e.rationale),
        )
    console.print(t)
    if page.note:
        console.print(f"[yellow]Note:[/yellow] {escape(page.note)}")


def _ymd(n: int | None) -> str:
    return "" if n is None else f"{n // 10000:04d}-{n // 100 % 100:02d}-{n % 100:02d}"


def print_search(results: Any) -> None:
    for n in results.notices:
        console.print(f"[yellow]Note:[/yellow] {escape(n)}")
    if not results.hits:
        console.print("No codes found.")
        return
    t = Table()
    for col in ("code", "system", "description", "status", "why"):
        t.add_column(col)
    for h in results.hits:
        desc = h.plain_description or h.description
        status = h.status or ("active" if h.active else "inactive")
        if not h.active:
            status += " (not in the newest release)"
        why = h.why if h.why != "words" else "words: " + ", ".join(h.matched)
        if h.expansions:
            why += "; " + ", ".join(f"{e.typed} -> {e.searched} ({e.kind})" for e in h.expansions)
        t.add_row(escape(h.code), escape(h.system), escape(desc), escape(status), escape(why))
    console.print(t)


def check_progress(quiet: bool = False) -> tuple[Any, Any]:
    """(advance(lines), done()) for a claim check: lines checked so far, claims per second."""
    if quiet:
        return (lambda n: None), (lambda: None)
    bar = Progress(
        SpinnerColumn(),
        TextColumn("checked {task.completed:,} lines"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("check", total=None)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop


def print_check_summary(s: dict[str, Any], results: Any) -> None:
    console.print(
        f"{s['claims']:,} claims, {s['lines']:,} lines: {s['by_severity']['deny']:,} deny, "
        f"{s['by_severity']['warn']:,} warn, {s['by_severity']['info']:,} info findings"
    )
    if s["findings"]:
        t = Table(title="Findings")
        t.add_column("finding")
        t.add_column("count", justify="right")
        for fid, n in sorted(s["findings"].items(), key=lambda kv: -kv[1]):
            t.add_row(fid, f"{n:,}")
        console.print(t)
    console.print(f"Allowed ${s['total_allowed']:,.2f}; at risk (lines a deny finding names) ${s['at_risk']:,.2f}")
    if s["claims"] <= 20:
        for r in results:
            for f in r.findings:
                console.print(
                    f"  claim {r.id} lines {', '.join(map(str, f.lines)) or '-'}: [{f.severity}] {f.id}: "
                    f"{f.message} Fix: {f.fix}",
                    markup=False,
                )


def _print_sources(sources: Any) -> None:
    """One line a source: family, release, file, row and line (whole file names, never cut)."""
    lines = [
        (
            c.family,
            f"{c.release}, {c.file}" + (f", row {c.row}" if c.row else "") + (f", line {c.line}" if c.line else ""),
        )
        for c in sources
    ]
    if lines:
        _print_lines(lines, title="Sources")


def _print_diagnosis(d: DiagnosisCode) -> None:
    out = [
        f"[bold]{escape(d.code)}[/bold] " + escape(f"(ICD-10-CM {d.release}) {d.description}"),
        escape(
            f"{d.status.capitalize()} ({d.kind}); chapter {d.chapter.code}: {d.chapter.description}; "
            f"block {d.block.code}: {d.block.description}"
        ),
    ]
    if d.parents:
        out.append(escape("Hierarchy: " + " > ".join(f"{p.code} {p.description}" for p in d.parents)))
    if d.children:
        more = f" and {len(d.children) - 30} more" if len(d.children) > 30 else ""
        out.append(escape(f"Children ({len(d.children)}): " + ", ".join(c.code for c in d.children[:30]) + more))
    base = d.base_inclusion_terms[0].source_code if d.base_inclusion_terms else ""
    for label, notes in (
        ("Inclusion terms", d.inclusion_terms),
        (f"Inclusion terms of the base code {base}", [n.text for n in d.base_inclusion_terms]),
        ("Notes", [n.text for n in d.notes]),
        ("Excludes1", [f"{n.text} [{n.source_code}]" for n in d.excludes1]),
        ("Excludes2", [f"{n.text} [{n.source_code}]" for n in d.excludes2]),
        ("Code first", [n.text for n in d.code_first]),
        ("Use additional code", [n.text for n in d.use_additional_code]),
        ("Code also", [n.text for n in d.code_also]),
        ("7th characters", [f"{k} {v}" for k, v in d.seventh_characters.items()]),
    ):
        if notes:
            out.append(f"[bold]{escape(label)}[/bold]: " + escape("; ".join(notes)))
    out += [f"[yellow]Note:[/yellow] {escape(n)}" for n in d.notices]
    console.print("\n".join(out))  # one write: rich spends its time per call, not per line
    _print_sources(d.sources)


def print_price(p: Price) -> None:
    console.print(
        f"[bold]{escape(p.code)}{escape(('-' + p.modifier) if p.modifier else '')}[/bold] "
        + escape(
            f"in {p.locality.name} ({p.locality.state}, MAC {p.locality.mac}, locality {p.locality.locality}), "
            f"{p.release}, date {p.date}"
        )
    )
    console.print(
        escape(
            f"GPCI work {p.gpci.work}{' (1.0 floor)' if p.gpci.work_floor else ''}, "
            f"PE {p.gpci.pe}, MP {p.gpci.mp}; CF {p.conversion_factor}"
        )
    )
    console.print(escape(f"Formula: {p.formula}"))
    console.print(f"Non-facility {_money(p.nonfacility)}   facility {_money(p.facility)}")
    if p.opps_cap and p.opps_cap.note:
        console.print(escape(f"OPPS cap: {p.opps_cap.note}"))
    for n in p.notices:
        console.print(f"[yellow]Note:[/yellow] {escape(n)}")


def print_price_table(rows: list[Price]) -> None:
    if not rows:
        return
    t = Table(title=f"{rows[0].code} in {len(rows)} localities ({rows[0].release})")
    for col in ("MAC-LOC", "state", "locality", "non-facility", "facility"):
        t.add_column(col, justify="right" if col in ("non-facility", "facility") else "left")
    for p in rows:
        t.add_row(
            escape(p.locality.key),
            escape(p.locality.state),
            escape(p.locality.name),
            _money(p.nonfacility),
            _money(p.facility),
        )
    console.print(t)


def print_releases(refs: list[SourceRef]) -> None:
    t = Table(title="Releases")
    for col in ("id", "family", "release", "effective", "rows", "file"):
        t.add_column(col)
    for r in refs:
        t.add_row(
            str(r.id),
            escape(r.family),
            escape(r.release),
            f"{r.effective_from} - {r.effective_to}",
            f"{r.rows:,}",
            escape(r.path),
        )
    console.print(t)
