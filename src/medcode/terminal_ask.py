"""CasePilot's answer for people in a terminal (used by ``medcode ask``): the answer, how sure it is, the
codes it speaks of, the rows it came from (file, release, row) and questions to ask next."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from medcode.assistant.model import Answer
from medcode.terminal import console

CONFIDENCE_STYLE = {"high": "green", "medium": "yellow", "low": "red"}


def _citations(answer: Answer) -> Table:
    t = Table(title="Sources", title_justify="left")
    for name in ("#", "family", "file", "release", "row"):
        t.add_column(name)
    for n, c in enumerate(answer.citations, 1):
        t.add_row(str(n), escape(c.family), escape(c.file), escape(c.release), escape(c.row))
    return t


def print_answer(answer: Answer) -> None:
    """The answer, then confidence and codes, the citations table, the follow-ups and the notices."""
    console.print(escape(answer.answer))
    style = CONFIDENCE_STYLE.get(answer.confidence, "")
    level = f"[{style}]{escape(answer.confidence)}[/{style}]" if style else escape(answer.confidence)
    console.print(f"Confidence: {level}")
    if answer.codes:
        console.print(f"Codes: {escape(', '.join(answer.codes))}")
    if answer.citations:
        console.print(_citations(answer))
    else:
        console.print("Sources: none (no row of the knowledge base answers this)")
    if answer.followups:
        console.print("[bold]You could ask next[/bold]")
        for q in answer.followups:
            console.print(f"- {escape(q)}")
    for n in answer.notices:
        console.print(f"[yellow]Note:[/yellow] {escape(n)}")
