"""Case2Code for people in a terminal: the suggested codes as tables (used by ``medcode suggest``)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from medcode.terminal import console

MAX_EVIDENCE = 4  # evidence phrases shown per code (the JSON has all of them)


def _evidence(item: Any) -> str:
    words = list(dict.fromkeys(" ".join(e.text.split()) for e in item.evidence))
    shown = ", ".join(f'"{w}"' for w in words[:MAX_EVIDENCE])
    return shown + (f" (+{len(words) - MAX_EVIDENCE})" if len(words) > MAX_EVIDENCE else "")


def _table(title: str, items: Any, modifiers: bool) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("code")
    if modifiers:
        t.add_column("modifiers")
    t.add_column("description")
    t.add_column("confidence", justify="right")
    t.add_column("evidence")
    t.add_column("why")
    for n, item in enumerate(items, 1):
        row = [str(n), escape(item.code)]
        if modifiers:
            row.append(escape(" ".join(item.modifiers)))
        row += [escape(item.description), f"{item.confidence:.0%}", escape(_evidence(item)), escape(item.why)]
        t.add_row(*row)
    return t


def print_suggestion(found: Any) -> None:
    """Diagnoses (first-listed first), procedures with their modifiers, candidates below the threshold
    when asked for, then the notices."""
    if found.diagnoses:
        console.print(_table("Diagnoses (ICD-10-CM), in reporting order", found.diagnoses, modifiers=False))
    else:
        console.print("No diagnosis codes suggested.")
    if found.procedures:
        console.print(_table("Procedures (CPT/HCPCS)", found.procedures, modifiers=True))
    else:
        console.print("No procedure codes suggested.")
    if found.candidates:
        console.print(_table("Candidates below the threshold (--all)", found.candidates, modifiers=True))
    for n in found.notices:
        console.print(f"[yellow]Note:[/yellow] {escape(n)}")
