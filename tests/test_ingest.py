"""Ingest is complete, safe and repeatable."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import apsw
import pytest

from medcode.ingest import ingest
from medcode.kb.store import open_kb
from medcode.lookup import get_code
from medcode.sources.layout import LayoutMismatch


def _digest(build: Path) -> dict[str, str]:
    """sha256 of every table's rows in primary-key/rowid order, per SQLite file of a build."""
    out = {}
    for db in sorted(build.glob("*.sqlite")):
        conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        for t in tables:
            h = hashlib.sha256()
            for row in conn.execute(f"SELECT * FROM {t}"):
                h.update(repr(row).encode())
            out[f"{db.name}:{t}"] = h.hexdigest()
        conn.close()
    return out


def _mirror(src: Path, dst: Path, replace: dict[str, Path]) -> None:
    """A copy of ``src`` made of links, except the files named in ``replace``."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.name in replace:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(replace[path.name], target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path, target)


def test_releases_table_records_every_file(kb):
    rows = kb.query(
        "SELECT family, release, file, effective_from, effective_to, length(sha256), rows "
        "FROM releases WHERE file = 'PPRRVU2026_Apr_nonQPP.txt'"
    )
    assert rows == [("pprrvu", "RVU26B", "PPRRVU2026_Apr_nonQPP.txt", "2026-04-01", "2026-06-30", 64, 19277)]
    sha = kb.query("SELECT sha256 FROM releases WHERE file = 'GPCI2026.csv'")[0][0]
    assert sha == "1794c340a714443041a5b58d891a1b553b4bae6ddfc959d6a26934dac82344f7"


def test_damaged_header_fails_and_the_previous_kb_still_answers(tmp_path, data_dir, built):
    home, _ = built
    before = (home / "kb").resolve()
    broken = tmp_path / "GPCI2026.csv"
    text = (data_dir / "cms/pfs/rvu26b/GPCI2026.csv").read_text(encoding="cp1252")
    broken.write_text(text.replace("2026 PE GPCI", "2026 PE GPCl"), encoding="cp1252")
    copy = tmp_path / "data"
    _mirror(data_dir, copy, {"GPCI2026.csv": broken})
    with pytest.raises(LayoutMismatch) as info:
        ingest(copy, home, workers=2)
    assert "GPCI2026.csv" in str(info.value) and info.value.line == 3 and info.value.column == "7"
    assert (home / "kb").resolve() == before
    assert [p for p in (home / "builds").iterdir() if p != before] == []
    kb = open_kb(home)
    assert get_code(kb, "20702").payment.nonfacility == 147.97


def test_ingest_twice_gives_the_same_knowledge_base(tmp_path, data_dir, built):
    first_home, _ = built
    first = _digest((first_home / "kb").resolve())
    second_home = tmp_path / "again"
    ingest(data_dir, second_home, workers=2)
    assert _digest((second_home / "kb").resolve()) == first
