"""The rules of the house that a test can keep."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import medcode
from medcode import cli, settings
from medcode.ingest import SOURCES

SRC = Path(medcode.__file__).parent
ROOT = SRC.parent.parent
WEB_ONLY = {"fastapi", "starlette", "jinja2", "typer", "click", "uvicorn"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_only_web_and_cli_import_web_frameworks():
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "web" or rel.name == "cli.py":
            continue
        bad = _imports(path) & WEB_ONLY
        if bad:
            offenders.append(f"{rel}: {sorted(bad)}")
    assert offenders == []


def test_no_sql_in_interfaces():
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\s", re.IGNORECASE)
    for path in [SRC / "cli.py", *(SRC / "web").rglob("*.py")]:
        assert not sql.search(path.read_text()), path


def test_docs_name_every_setting_command_and_source():
    docs = "\n".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    for s in settings.SETTINGS:
        assert s.name in docs, s.name
    for command in cli.COMMANDS:
        assert f"medcode {command}" in docs, command
    for module in SOURCES:
        name = module.__name__.rsplit(".", 1)[1]
        assert f"`{name}`" in docs, name


def _medcode_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("medcode."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("medcode."))
    return out


def test_the_language_layer_imports_no_feature():
    """features (search, suggest, claims, lookup, pricing ...) -> language -> kb, never back."""
    allowed = {"language", "kb", "codes", "vocab", "settings", "dates", "rules"}
    offenders = {
        str(p.relative_to(SRC)): sorted(_medcode_imports(p) - allowed) for p in (SRC / "language").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
