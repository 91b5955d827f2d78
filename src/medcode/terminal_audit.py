"""The documentation audit for people in a terminal (used by ``medcode audit``): per code billed, the
verdict and its summary, each element with its status and the note's words, the queries to the
physician for what is missing, and the E/M level."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from medcode.terminal import console

MAX_EVIDENCE = 3  # evidence phrases shown per element (the JSON has all of them)
STATUS_STYLE = {"present": "green", "missing": "red", "negated": "red", "uncertain": "yellow"}
STATUS_MARK = {"present": "✓", "missing": "✗", "negated": "✗", "uncertain": "?"}  # text, not colour alone


def billed(item: Any) -> str:
    """The code as billed: ``20610-RT``."""
    return "-".join([item.code, *item.modifiers])


def _evidence(element: Any) -> str:
    words = list(dict.fromkeys(" ".join(e.text.split()) for e in element.evidence))
    shown = ", ".join(f'"{w}"' for w in words[:MAX_EVIDENCE])
    return shown + (f" (+{len(words) - MAX_EVIDENCE})" if len(words) > MAX_EVIDENCE else "")


def _status(element: Any) -> str:
    style = STATUS_STYLE.get(element.status, "")
    text = f"{STATUS_MARK.get(element.status, '')} {element.status}".strip()
    return f"[{style}]{escape(text)}[/{style}]" if style else escape(text)


def _elements(item: Any) -> Table:
    t = Table(title_justify="left")
    t.add_column("element")
    t.add_column("status")
    t.add_column("required")
    t.add_column("evidence / what the note says")
    for e in item.elements:
        said = _evidence(e)
        if e.detail:
            said = f"{said}; {e.detail}" if said else e.detail
        t.add_row(escape(e.id), _status(e), "yes" if e.required else "advice", escape(said))
    return t


def _level(level: Any) -> Table:
    t = Table(title="E/M level", title_justify="left")
    t.add_column("medical decision making")
    t.add_column("level")
    for name, value in (
        ("problems", level.problems),
        ("data", level.data),
        ("risk", level.risk),
        ("MDM (two of three)", level.mdm),
    ):
        t.add_row(name, escape(str(value)))
    minutes = "not stated" if level.time_minutes is None else f"{level.time_minutes} min"
    t.add_row("total time on the date", escape(minutes))
    t.add_row("code supported by MDM", escape(level.by_mdm or "none"))
    t.add_row("code supported by time", escape(level.by_time or "none"))
    t.add_row("highest code supported", escape(level.supported_code or "none"))
    return t


def queries(found: Any) -> list[tuple[str, str]]:
    """(code as billed, query) for every element that is not present, in order."""
    return [(billed(c), e.query) for c in found.codes for e in c.elements if e.status != "present" and e.query]


def print_audit(found: Any) -> None:
    """Each code: a verdict line, its summary, the elements table, the level; then every query and the notices."""
    for item in found.codes:
        verdict = "[green]✓ supported[/green]" if item.supported else "[red]✗ not supported[/red]"
        console.print(f"[bold]{escape(billed(item))}[/bold] {escape(item.description)}: {verdict}")
        console.print(escape(item.summary))
        if item.suggested_code:
            console.print(f"The note supports {escape(item.suggested_code)} instead.")
        console.print(_elements(item))
        if item.level is not None:
            console.print(_level(item.level))
    asked = queries(found)
    if asked:
        console.print("[bold]Queries to the physician[/bold]")
        for n, (code, query) in enumerate(asked, 1):
            console.print(f"{n}. [{escape(code)}] {escape(query)}")
    else:
        console.print("No queries: every element is documented.")
    for n in found.notices:
        console.print(f"[yellow]Note:[/yellow] {escape(n)}")
