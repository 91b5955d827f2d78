"""The batch engine (Polars) and the Spark job give exactly what the per-claim engine gives:
the same findings in the same order, the same amounts to the cent, the same notices."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from medcode.claims import Checker, Claim, Line, read_path
from medcode.claims.batch import FINDING_SCHEMA, SEVERITY_RANK, BatchChecker, _order, check_file, merge
from medcode.claims.batch.inputs import csv_frames, from_claims

ROOT = Path(__file__).parent.parent
HAND_MADE = Path(__file__).parent / "data"

# Rows the fast CSV path must hand to the per-claim reader, next to plain ones: zero and fractional
# units, an impossible date, a claim field that changes between rows, a bad modifier, a lower-case
# modifier, a line date, a locality instead of a ZIP, no place of service, an unknown place of
# service, a diagnosis pointer past the list, a blank pointer, a co-surgeon and an assistant.
EDGE_CSV = """\
claim_id,date,place_of_service,provider,zip,locality,diagnoses,code,modifiers,units,pointers,charge,line_date
E1,2026-05-01,11,1234567890,10001,,M17.11,20702,,1,1,100,
E1,2026-05-01,11,1234567890,10001,,M17.11,20680,,1,1,200,
E2,2026-05-01,22,1234567890,,01112-01,S72.001A;M17.11,27130,62,1,1,300,
E2,2026-05-01,22,1234567890,,01112-01,S72.001A;M17.11,27130,AS,1,2,300,
E2,2026-05-01,22,1234567890,,01112-01,S72.001A;M17.11,20610,lt,2,3,50,2026-05-02
E3,2026-05-01,11,1234567890,10001,,M17.11,20610,,0,1,100,
E4,2026-05-01,11,1234567890,10001,,M17.11,20610,,1.5,1,100,
E5,2026-02-30,11,1234567890,10001,,M17.11,99213,,1,1,100,
E6,2026-05-01,11,1234567890,10001,,M17.11,99213,25,1,1,100,
E6,2026-05-01,11,1234567890,94105,,M17.11,20610,,1,1,100,
E7,2026-05-01,,1234567890,10001,,M17.11;M17.12,20610,50;XX1,1,,100,
E8,2026-05-01,99,1234567890,10001,,M17.11,11042,,3,1,100,
E8,2026-05-01,99,1234567890,10001,,M17.11,11045,51,4,1,100,
E9,2025-06-01,11,1234567890,10001,,M17.11,99213,,1,1,100,
"""


def _same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == w, f"claim {w.id} differs:\n{g}\n{w}"


def _generated(tmp_path_factory, home: Path, lines: int, suffix: str) -> Path:
    out = tmp_path_factory.mktemp("gen") / f"claims{suffix}"
    env = {**os.environ, "MEDCODE_HOME": str(home)}
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen_claims.py"), str(lines), str(out), "--seed", "7"],
        check=True,
        capture_output=True,
        timeout=300,
        env=env,
    )
    return out


@pytest.fixture(scope="module")
def generated_csv(tmp_path_factory, home) -> Path:
    return _generated(tmp_path_factory, home, 20_000, ".csv")


def _batch(kb, path, fmt=None):
    return merge(list(check_file(kb, str(path), fmt, chunk_lines=3000))).to_checked()


def _per_claim(kb, path, fmt=None):
    checker = Checker(kb)
    return [checker.check(c) for c in read_path(str(path), fmt)]


def test_generated_csv_same_as_per_claim(kb, generated_csv):
    got, want = _batch(kb, generated_csv), _per_claim(kb, generated_csv)
    _same(got, want)
    ids = {f.id for r in want for f in r.findings}
    # the file exercises every check, or the comparison proves little
    assert {
        "addon.no_primary",
        "ptp.modifier_required",
        "ptp.bypassed",
        "mue.exceeded",
        "modifiers.51_on_addon",
        "modifiers.bilateral_not_allowed",
        "validity.unknown_code",
    } <= ids
    assert any("multiple procedure 50%" in x.adjustments for r in want for x in r.lines)


def test_generated_837_same_as_per_claim(kb, home, tmp_path_factory):
    path = _generated(tmp_path_factory, home, 5_000, ".837")
    _same(_batch(kb, path), _per_claim(kb, path))


def test_hand_made_files_same_as_per_claim(kb):
    for name in ("claims_hand_made.837", "claim_hand_made.fhir.json"):
        _same(_batch(kb, HAND_MADE / name), _per_claim(kb, HAND_MADE / name))


def test_edge_rows_go_to_the_per_claim_reader_and_match(kb, tmp_path):
    path = tmp_path / "edge.csv"
    path.write_text(EDGE_CSV)
    claims, lines, slow = csv_frames(str(path))
    # E3 (0 units), E4 (1.5 units), E5 (30 February), E6 (ZIP changes), E7 (bad modifier) are read
    # by the per-claim reader; E2's lower-case modifier and line date are fine for the fast path
    assert sorted(c.id for _, c in slow) == ["E3", "E4", "E5", "E6", "E7"]
    assert "E2" in claims["claim_id"].to_list()
    want = _per_claim(kb, path)
    _same(BatchChecker(kb).check(claims, lines, slow).to_checked(), want)
    by_id = {r.id: r for r in want}
    assert any(f.id == "validity.bad_input" and ":7:10" in f.message for f in by_id["E3"].findings)
    # without E6, every claim repeats its fields on each row (the quicker way to the claim fields)
    uniform = tmp_path / "uniform.csv"
    uniform.write_text("".join(row for row in EDGE_CSV.splitlines(keepends=True) if not row.startswith("E6,")))
    claims, lines, slow = csv_frames(str(uniform))
    assert sorted(c.id for _, c in slow) == ["E3", "E4", "E5", "E7"]
    _same(BatchChecker(kb).check(claims, lines, slow).to_checked(), _per_claim(kb, uniform))
    # the same rows quoted (which the fast path leaves to the per-claim reader) give the same
    quoted = tmp_path / "quoted.csv"
    quoted.write_text(EDGE_CSV.replace("M17.11,20702", '"M17.11",20702'))
    assert csv_frames(str(quoted)) is None
    _same(_batch(kb, quoted), _per_claim(kb, quoted))


def test_cli_engines_write_the_same_report(cli_env, generated_csv, tmp_path):
    reports = {}
    for engine in ("claim", "batch"):
        out = tmp_path / f"{engine}.json"
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "medcode.cli",
                "check",
                str(generated_csv),
                "--engine",
                engine,
                "--report",
                str(out),
                "--quiet",
            ],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, r.stderr
        reports[engine] = json.loads(out.read_text())
    assert reports["claim"] == reports["batch"]
    assert reports["batch"]["summary"]["lines"] == 20_000


@pytest.mark.spark
@pytest.mark.slow
def test_spark_job_same_as_per_claim(kb, home, generated_csv, tmp_path):
    from medcode.claims import spark

    session = spark.session("local[2]")
    got = spark.check_file(str(generated_csv), spark=session, home=str(home), pieces=4).to_checked()
    _same(got, _per_claim(kb, generated_csv))
    edge = tmp_path / "edge.csv"
    edge.write_text(EDGE_CSV)
    _same(spark.check_file(str(edge), spark=session, home=str(home), pieces=3).to_checked(), _per_claim(kb, edge))
    fhir = HAND_MADE / "claim_hand_made.fhir.json"
    _same(spark.check_file(str(fhir), spark=session, home=str(home)).to_checked(), _per_claim(kb, fhir))


def test_small_claims_match(kb):
    # no PTP pairs, no diagnosis pairs, no lines at all: every join of the batch engine comes up
    # empty; and sibling codes on one day and on two days (the generated files have none)
    day, other = date(2026, 5, 1), date(2026, 5, 2)
    claims = [
        Claim("ONE", (Line(1, "99213", pointers=(1,)),), date=day, zip_code="10001", diagnoses=("E11.9", "E10.9")),
        Claim("NONE", (), date=day, zip_code="10001", diagnoses=("M17.11",)),
        Claim(
            "SIBLINGS",
            (
                Line(1, "20700", pointers=(1,)),
                Line(2, "20702", pointers=(1,)),
                Line(3, "20704", pointers=(1,)),
                Line(4, "20680", pointers=(1,)),
            ),
            date=day,
            zip_code="10001",
            diagnoses=("M86.151",),
        ),
        Claim(
            "TWO-DAYS",
            (Line(1, "20700", pointers=(1,)), Line(2, "20702", pointers=(1,), date=other)),
            date=day,
            zip_code="10001",
            diagnoses=("M86.151",),
        ),
    ]
    frames = from_claims(claims)
    got = BatchChecker(kb).check(*frames).to_checked()
    _same(got, [Checker(kb).check(c) for c in claims])
    ids = {c.id: {f.id for f in c.findings} for c in got}
    assert ids["ONE"] == {"diagnosis.excludes1", "diagnosis.unpointed"}  # (no line points to E10.9)
    assert "siblings.conflict" in ids["SIBLINGS"] and "siblings.conflict" not in ids["TWO-DAYS"]


@pytest.mark.parametrize("longest", [4, 7])
def test_findings_order_is_the_per_claim_order(longest):
    # lines compare as tuples; lists of up to four lines take a quicker sort key than longer ones
    rng = random.Random(longest)
    rows = [
        (
            rng.randint(1, 3),
            [rng.randint(1, 6) for _ in range(rng.randint(0, longest))],
            rng.choice(["ptp.bundled", "mue.exceeded"]),
            rng.choice(["deny", "warn", "info"]),
            rng.choice("ab"),
            "",
            None,
            None,
            None,
        )
        for _ in range(400)
    ]
    got = _order(pl.DataFrame(rows, schema=FINDING_SCHEMA, orient="row")).rows()
    want = sorted(rows, key=lambda r: (r[0], SEVERITY_RANK[r[3]], r[1][0] if r[1] else 0, r[2], tuple(r[1]), r[4]))
    assert [(r[0], tuple(r[1]), r[2], r[3], r[4]) for r in got] == [(r[0], tuple(r[1]), r[2], r[3], r[4]) for r in want]
