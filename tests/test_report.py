"""Report files: every form read back equals the per-claim engine's results, CSV cells are safe
in spreadsheets, HTML is written as claims come, and the batch engine's kept frames never go into
the knowledge base's build folder."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from medcode.claims import Checker, read_path
from medcode.claims import report as reports
from medcode.claims.batch import tables
from medcode.claims.model import CheckedClaim, Finding, PricedLine
from medcode.claims.run import check_path
from medcode.kb.models import Citation
from medcode.kb.store import KnowledgeBase

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def generated(tmp_path_factory, home) -> Path:
    out = tmp_path_factory.mktemp("gen") / "claims.csv"
    env = {**os.environ, "MEDCODE_HOME": str(home)}
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen_claims.py"), "3000", str(out), "--seed", "11"],
        check=True,
        capture_output=True,
        timeout=300,
        env=env,
    )
    return out


@pytest.fixture(scope="module")
def expected(kb, generated) -> list[CheckedClaim]:
    checker = Checker(kb)
    return [checker.check(c) for c in read_path(str(generated))]


def _write(kb, path: Path, report: Path, engine: str) -> dict:
    with report.open("wb") as fh:
        summary, _ = check_path(kb, str(path), engine=engine, sinks=[reports.WRITERS[report.suffix](fh)])
    return summary


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".parquet"], ids=["json", "jsonl", "parquet"])
@pytest.mark.parametrize("engine", ["batch", "claim"])
def test_report_reads_back_as_the_per_claim_results(kb, generated, expected, tmp_path, engine, suffix):
    report = tmp_path / f"report{suffix}"
    summary = _write(kb, generated, report, engine)
    claims, written = reports.read_report(report)
    assert written == summary == reports.summary(expected)
    assert len(claims) == len(expected)
    for got, want in zip(claims, expected):
        assert got == want, f"claim {want.id} differs"


def test_json_report_names_each_source_once(kb, generated, expected, tmp_path):
    import orjson

    report = tmp_path / "report.json"
    _write(kb, generated, report, "batch")
    doc = orjson.loads(report.read_bytes())
    assert list(doc) == ["version", "claims", "sources", "texts", "summary"] and doc["version"] == 2
    cited = {replace_row(f.citation) for c in expected for f in c.findings if f.citation}
    assert len(doc["sources"]) == len(cited)
    assert {tuple(s.values()) for s in doc["sources"]} == {
        (c.family, c.release, c.file, c.effective_from.isoformat(), c.effective_to.isoformat(), c.sha256) for c in cited
    }
    first = next(f for c in doc["claims"] for f in c["findings"] if f["citation"])
    assert set(first["citation"]) == {"source", "row", "line"}
    assert all("setting" not in x for c in doc["claims"] for x in c["lines"])  # once per claim
    texts = {t for c in expected for t in (*c.notices, *(f.fix for f in c.findings))}
    assert sorted(doc["texts"]) == sorted(texts)  # each once, given by number
    assert all(isinstance(n, int) for c in doc["claims"] for n in c["notices"])
    assert all(isinstance(f["fix"], int) for c in doc["claims"] for f in c["findings"])


def replace_row(c: Citation) -> Citation:
    return Citation(c.family, c.release, c.file, c.effective_from, c.effective_to, c.sha256)


def test_jsonl_report_layout(kb, generated, tmp_path):
    import orjson

    report = tmp_path / "report.jsonl"
    _write(kb, generated, report, "batch")
    kinds = [orjson.loads(line)["type"] for line in report.read_bytes().splitlines()]
    assert kinds[0] == "report" and kinds[-1] == "summary"
    assert set(kinds[1:-1]) == {"source", "text", "claim"}
    assert kinds.index("claim") > max(kinds.index("source"), kinds.index("text"))


def test_parquet_report_schema(kb, generated, tmp_path):
    report = tmp_path / "report.parquet"
    _write(kb, generated, report, "batch")
    schema = pl.read_parquet_schema(report)
    assert list(schema) == ["id", "total_allowed", "at_risk", "locality", "setting", "notices", "findings", "lines"]
    finding = schema["findings"].inner
    assert [f.name for f in finding.fields] == ["id", "severity", "lines", "message", "fix", "citation"]
    assert [f.name for f in dict((f.name, f.dtype) for f in finding.fields)["citation"].fields] == [
        "family",
        "release",
        "file",
        "effective_from",
        "effective_to",
        "sha256",
        "row",
        "line",
    ]
    assert pl.read_parquet_metadata(report)["medcode.version"] == "2"
    assert not list(tmp_path.glob(".medcode-report-*"))  # its pieces are cleaned up


def _claim(claim_id: str, message: str = "A message.") -> CheckedClaim:
    cite = Citation("pprrvu", "RVU26B", "PPRRVU2026.txt", date(2026, 4, 1), date(2026, 6, 30), "ab" * 32, "=1+1", 7)
    return CheckedClaim(
        claim_id,
        (Finding("validity.status_x", "deny", (1,), message, "@fix", cite),),
        (PricedLine(1, "99213", (), 1, "nonfacility", 10.0, (), 10.0, False),),
        10.0,
        10.0,
        None,
    )


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://example.com","x")', '\'=HYPERLINK("http://example.com","x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("A-1", "A-1"),
        ("C0001", "C0001"),
        ("'quoted", "'quoted"),
    ],
    ids=["equals", "plus", "minus", "at", "tab", "carriage-return", "inner-minus", "plain", "apostrophe"],
)
def test_csv_cells_that_start_a_formula_are_text(cell, written):
    rows = list(csv.reader(io.StringIO(reports.to_csv([_claim(cell, message=cell)]), newline="")))
    assert rows[0] == list(reports.CSV_HEADER)
    assert rows[1] == [written, "validity.status_x", "deny", "1", written, "'@fix", "PPRRVU2026.txt", "RVU26B", "'=1+1"]


def test_csv_report_of_a_hostile_claim_file(kb, tmp_path):
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "claim_id,date,zip,diagnoses,code,modifiers,units,pointers\n"
        '"=HYPERLINK(""http://example.com"",""x"")",2026-05-01,10001,M86.9,20702,,1,1\n'
    )
    report = tmp_path / "report.csv"
    for engine in ("batch", "claim"):
        _write(kb, claims, report, engine)
        rows = list(csv.reader(report.open(newline="")))
        assert [r[:2] for r in rows[1:]] == [['\'=HYPERLINK("http://example.com","x")', "addon.no_primary"]], engine


def test_html_report_is_written_as_claims_come(expected):
    out = io.BytesIO()
    writer = reports.HtmlWriter(out)
    writer.write(expected[:2])
    early = out.getvalue().decode()
    assert f"Claim {expected[0].id}" in early and f"Claim {expected[1].id}" in early  # before the close
    writer.write(expected[2:])
    writer.close(reports.summary(expected))
    page = out.getvalue().decode()
    assert page.count("<h2>Claim ") == len(expected) and page.endswith("</main></html>")
    assert f"{len(expected)} claims" in page.split("id=summary")[1]


def test_report_extensions_in_cli_usage(cli_env, tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "medcode.cli", "check", "x.csv", "--report", str(tmp_path / "r.xml")],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=120,
    )
    assert r.returncode == 2 and "--report must end in .json, .jsonl, .parquet, .csv, .html" in r.stderr


# --- the knowledge base stays as built -----------------------------------------------------------


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture()
def copied_kb(kb, tmp_path) -> Path:
    """The test knowledge base's files, linked into a folder of its own (not under a home's
    ``builds``): its kept frames have no cache yet."""
    folder = tmp_path / "kb-copy"
    folder.mkdir()
    for f in kb.path.iterdir():
        if f.name.endswith(".sqlite"):
            (folder / f.name).symlink_to(f)
    return folder


@pytest.mark.parametrize("cache", ["writable", "unwritable"])
def test_batch_engine_leaves_the_knowledge_base_as_built(copied_kb, generated, expected, tmp_path, monkeypatch, cache):
    home = tmp_path / "home"
    if cache == "unwritable":  # the cache folder's parent is a file: frames stay in memory
        home.write_text("not a folder")
        home = home / "inside"
    monkeypatch.setenv("MEDCODE_HOME", str(home))
    before = _listing(copied_kb)
    kb = KnowledgeBase(copied_kb)
    try:
        _, kept = check_path(kb, str(generated), keep=len(expected))
    finally:
        kb.close()
    assert kept == expected
    assert _listing(copied_kb) == before
    folder = tables.cache_dir(_Path(copied_kb))  # type: ignore[arg-type]
    if cache == "writable":
        assert (folder / tables.BUILD_FILE).read_text().strip() == str(copied_kb.resolve())
        assert any(p.name.startswith("ptp-") for p in folder.glob("*.arrow"))
        assert any(p.name.startswith("pfs-") for p in folder.glob("*.arrow"))
    else:
        assert not folder.exists()


class _Path:
    """What ``tables.cache_dir`` reads of a knowledge base: its build folder."""

    def __init__(self, path: Path):
        self.path = path.resolve()


def test_prune_cache_removes_the_folders_of_builds_that_are_gone(copied_kb, tmp_path):
    home = tmp_path / "home"
    kept = home / "cache" / "batch" / "kept"
    gone = home / "cache" / "batch" / "gone"
    unnamed = home / "cache" / "batch" / "unnamed"
    for folder, build in ((kept, copied_kb), (gone, tmp_path / "no-such-build"), (unnamed, None)):
        folder.mkdir(parents=True)
        (folder / "pfs-1.v1.arrow").write_bytes(b"x")
        if build is not None:
            (folder / tables.BUILD_FILE).write_text(f"{build}\n")
    assert tables.prune_cache(home) == [gone, unnamed]
    assert [p.name for p in (home / "cache" / "batch").iterdir()] == ["kept"]
    assert tables.prune_cache(tmp_path / "no-home") == []


@pytest.mark.parametrize("size", [1, 97, 100_000], ids=["one", "some", "all"])
def test_slices_keep_each_claim_with_its_lines_and_findings(kb, generated, size):
    from medcode.claims.batch import check_file, merge
    from medcode.claims.report_frames import slices

    piece = merge(list(check_file(kb, str(generated))))
    parts = list(slices(piece, size))
    assert len(parts) == -(-piece.claims.height // size)
    for name in ("claims", "lines", "findings"):
        assert pl.concat([getattr(p, name) for p in parts]).equals(getattr(piece, name)), name
    for p in parts:
        ids = set(p.claims["cid"])
        assert set(p.lines["cid"]) <= ids and set(p.findings["cid"]) <= ids


def test_json_report_written_in_slices_reads_back_whole(kb, generated, expected, tmp_path, monkeypatch):
    monkeypatch.setattr(reports, "SLICE", 61)
    report = tmp_path / "report.json"
    _write(kb, generated, report, "batch")
    claims, _ = reports.read_report(report)
    assert claims == expected


def test_parquet_pieces_are_removed_when_the_report_is_never_closed(expected, tmp_path):
    import gc

    with (tmp_path / "report.parquet").open("wb") as fh:
        writer = reports.ParquetWriter(fh)
        writer.write(expected[:5])
        pieces = Path(writer.tmp)
        assert [p.name for p in pieces.iterdir()] == ["000000.arrow"]
        del writer  # a check that failed half way
        gc.collect()
    assert not pieces.exists()
