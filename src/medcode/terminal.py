"""Rendering for people in a terminal (rich tables and progress bars), used by the CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from medcode.kb.models import DiagnosisCode, Price, ProcedureCode
from medcode.kb.releases import SourceRef

console = Console()


def _money(v: float | None) -> str:
    return "n/a" if v is None else f"${v:,.2f}"


def ingest_progress(quiet: bool = False) -> tuple[Any, Callable[[Any], None], Callable[[Any], None]]:
    """(progress callback, plan callback, finish callback) for ``ingest``."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description:<58}"), BarColumn(),
                        TextColumn("{task.fields[rows]:>10} rows"), TimeElapsedColumn(),
                        console=console, disable=quiet)
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
            table.add_row(name, ", ".join(sorted({pf.source.release for pf, _ in items})),
                          str(len(items)), f"{sum(r.rows for _, r in items):,}")
        console.print(table)
        console.print(f"{len(summary.files)} files, {sum(r.rows for _, r in summary.files):,} rows, "
                      f"{summary.size_bytes / 1e6:,.0f} MB in {summary.seconds:.1f} s -> {summary.build}")

    return on_event, on_plan, finish


def print_code(page: ProcedureCode | DiagnosisCode) -> None:
    if isinstance(page, DiagnosisCode):
        _print_diagnosis(page)
    else:
        _print_procedure(page)


def _print_procedure(p: ProcedureCode) -> None:
    console.print(f"[bold]{p.code}[/bold] ({p.system}) {p.description}")
    if p.plain_description and p.plain_description != p.description:
        console.print(f"In plain words: {p.plain_description}")
    if p.long_description:
        console.print(p.long_description)
    if p.status:
        console.print(f"Status {p.status.code}: {p.status.meaning}   release {p.release}, date {p.date}")
    facts = Table(show_header=False, box=None)
    if p.global_period:
        facts.add_row("Global period", f"{p.global_period.code}: {p.global_period.meaning}")
    for name, ind in p.indicators.items():
        facts.add_row(name.replace("_", " ").capitalize(), f"{ind.code}: {ind.meaning}")
    if p.addon:
        facts.add_row("Add-on", f"type {p.addon.type}: {p.addon.type_meaning} Primary codes "
                      f"({len(p.addon.primary_codes)}): {' '.join(p.addon.primary_codes)}")
    if p.mue:
        facts.add_row("MUE", f"{p.mue.units} unit(s), MAI {p.mue.mai}: {p.mue.mai_meaning} "
                      f"Rationale: {p.mue.rationale}")
    console.print(facts)
    if p.rvu:
        t = Table(title="RVUs and national payment")
        for col in ("", "work", "PE", "MP", "total", "payment"):
            t.add_column(col, justify="right")
        t.add_row("non-facility", str(p.rvu.work), str(p.rvu.pe_nonfacility), str(p.rvu.mp),
                  str(p.rvu.total_nonfacility), _money(p.payment.nonfacility if p.payment else None))
        t.add_row("facility", str(p.rvu.work), str(p.rvu.pe_facility), str(p.rvu.mp),
                  str(p.rvu.total_facility), _money(p.payment.facility if p.payment else None))
        console.print(t)
        console.print(f"Conversion factor {p.conversion_factor}")
    if p.previous_year:
        y = p.previous_year
        console.print(f"Previous year ({y.release}): {_money(y.payment.nonfacility)} non-facility, "
                      f"{_money(y.payment.facility)} facility; change {y.change_nonfacility:+} / "
                      f"{y.change_facility:+}")
    if p.price:
        print_price(p.price)
    if p.ptp:
        console.print(f"NCCI PTP ({p.ptp.release}): column 1 in {p.ptp.column_1_count} active edits, "
                      f"column 2 in {p.ptp.column_2_count}" + (f". {p.ptp.note}" if p.ptp.note else "")
                      + (f" (all of them: medcode ptp {p.code})" if p.ptp.column_1_count + p.ptp.column_2_count
                         else ""))
    for label, value in (("ASC", p.asc), ("OPPS cap", p.opps_cap), ("Lab", p.lab), ("DMEPOS", p.dmepos),
                         ("ASP", p.asp)):
        if value:
            console.print(f"{label}: {value if label != 'DMEPOS' else 'fee schedule amounts present'}")
    for n in p.notices:
        console.print(f"[yellow]Note:[/yellow] {n}")
    _print_sources(p.sources)


def print_ptp(page: Any) -> None:
    if page.release is None:
        console.print("No NCCI PTP release is loaded.")
        return
    shown = f"{page.offset + 1}-{page.offset + len(page.pairs)} of " if page.pairs else ""
    console.print(f"NCCI PTP {page.release}: {page.code} as {page.direction.replace('_', ' ')}, "
                  f"{shown}{page.total} edits in force")
    t = Table()
    for col in ("column 1", "column 2", "modifier", "effective", "deleted", "rationale"):
        t.add_column(col)
    for e in page.pairs:
        t.add_row(e.column_1, e.column_2, str(e.modifier), _ymd(e.effective), _ymd(e.deleted), e.rationale)
    console.print(t)
    if page.note:
        console.print(f"[yellow]Note:[/yellow] {page.note}")


def _ymd(n: int | None) -> str:
    return "" if n is None else f"{n // 10000:04d}-{n // 100 % 100:02d}-{n % 100:02d}"


def print_search(results: Any) -> None:
    for n in results.notices:
        console.print(f"[yellow]Note:[/yellow] {n}")
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
        t.add_row(h.code, h.system, desc, status, why)
    console.print(t)


def check_progress(quiet: bool = False) -> tuple[Any, Any]:
    """(advance(lines), done()) for a claim check: lines checked so far, claims per second."""
    if quiet:
        return (lambda n: None), (lambda: None)
    bar = Progress(SpinnerColumn(), TextColumn("checked {task.completed:,} lines"), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task("check", total=None)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop


def print_check_summary(s: dict[str, Any], results: Any) -> None:
    console.print(f"{s['claims']:,} claims, {s['lines']:,} lines: {s['by_severity']['deny']:,} deny, "
                  f"{s['by_severity']['warn']:,} warn, {s['by_severity']['info']:,} info findings")
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
                console.print(f"  claim {r.id} lines {', '.join(map(str, f.lines)) or '-'}: [{f.severity}] {f.id}: "
                              f"{f.message} Fix: {f.fix}", markup=False)


def _print_sources(sources: Any) -> None:
    t = Table(title="Sources")
    for col in ("family", "release", "file", "row", "line"):
        t.add_column(col)
    for s in sources:
        t.add_row(s.family, s.release, s.file, s.row or "", str(s.line or ""))
    console.print(t)


def _print_diagnosis(d: DiagnosisCode) -> None:
    console.print(f"[bold]{d.code}[/bold] (ICD-10-CM {d.release}) {d.description}")
    console.print(f"{d.status.capitalize()} ({d.kind}); chapter {d.chapter.code}: {d.chapter.description}; "
                  f"block {d.block.code}: {d.block.description}")
    console.print("Hierarchy: " + " > ".join(f"{p.code} {p.description}" for p in d.parents))
    if d.children:
        console.print(f"Children ({len(d.children)}): " + ", ".join(c.code for c in d.children[:30]))
    for label, notes in (("Inclusion terms", d.inclusion_terms), ("Notes", [n.text for n in d.notes]),
                         ("Excludes1", [f"{n.text} [{n.source_code}]" for n in d.excludes1]),
                         ("Excludes2", [f"{n.text} [{n.source_code}]" for n in d.excludes2]),
                         ("Code first", [n.text for n in d.code_first]),
                         ("Use additional code", [n.text for n in d.use_additional_code]),
                         ("Code also", [n.text for n in d.code_also])):
        if notes:
            console.print(f"[bold]{label}[/bold]: " + "; ".join(notes))
    if d.seventh_characters:
        console.print("[bold]7th characters[/bold]: " +
                      "; ".join(f"{k} {v}" for k, v in d.seventh_characters.items()))
    for n in d.notices:
        console.print(f"[yellow]Note:[/yellow] {n}")
    _print_sources(d.sources)


def print_price(p: Price) -> None:
    console.print(f"[bold]{p.code}{('-' + p.modifier) if p.modifier else ''}[/bold] in "
                  f"{p.locality.name} ({p.locality.state}, MAC {p.locality.mac}, locality "
                  f"{p.locality.locality}), {p.release}, date {p.date}")
    console.print(f"GPCI work {p.gpci.work}{' (1.0 floor)' if p.gpci.work_floor else ''}, "
                  f"PE {p.gpci.pe}, MP {p.gpci.mp}; CF {p.conversion_factor}")
    console.print(f"Formula: {p.formula}")
    console.print(f"Non-facility {_money(p.nonfacility)}   facility {_money(p.facility)}")
    if p.opps_cap and p.opps_cap.note:
        console.print(f"OPPS cap: {p.opps_cap.note}")
    for n in p.notices:
        console.print(f"[yellow]Note:[/yellow] {n}")


def print_price_table(rows: list[Price]) -> None:
    if not rows:
        return
    t = Table(title=f"{rows[0].code} in {len(rows)} localities ({rows[0].release})")
    for col in ("MAC-LOC", "state", "locality", "non-facility", "facility"):
        t.add_column(col, justify="right" if col in ("non-facility", "facility") else "left")
    for p in rows:
        t.add_row(p.locality.key, p.locality.state, p.locality.name, _money(p.nonfacility), _money(p.facility))
    console.print(t)


def print_releases(refs: list[SourceRef]) -> None:
    t = Table(title="Releases")
    for col in ("id", "family", "release", "effective", "rows", "file"):
        t.add_column(col)
    for r in refs:
        t.add_row(str(r.id), r.family, r.release, f"{r.effective_from} - {r.effective_to}",
                  f"{r.rows:,}", r.path)
    console.print(t)
