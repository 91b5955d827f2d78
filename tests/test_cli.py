"""The medcode command, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(env, *args):
    return subprocess.run([sys.executable, "-m", "medcode.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_show_json(cli_env):
    r = run(cli_env, "show", "20702", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["code"], d["system"], d["status"]["code"], d["global_period"]["code"]) == ("20702", "CPT", "A", "ZZZ")
    assert d["rvu"] == {"work": 2.44, "pe_nonfacility": 1.5, "pe_facility": 0.75, "mp": 0.49,
                        "total_nonfacility": 4.43, "total_facility": 3.68, "nonfacility_na": False,
                        "facility_na": False}
    assert d["payment"] == {"nonfacility": 147.97, "facility": 122.92}
    assert (d["addon"]["type"], len(d["addon"]["primary_codes"])) == ("1", 39)
    assert (d["mue"]["units"], d["mue"]["mai"]) == (1, "3")
    assert d["conversion_factor"] == 33.4009 and d["sources"]


def test_show_on_a_2025_date(cli_env):
    r = run(cli_env, "show", "20702", "--date", "2025-11-01", "--json")
    assert json.loads(r.stdout)["rvu"]["total_nonfacility"] == 4.28


def test_ptp_lists_every_edit(cli_env):
    r = run(cli_env, "ptp", "20702", "--json")
    d = json.loads(r.stdout)
    assert (d["total"], len(d["pairs"]), d["release"]) == (216, 216, "2024Q3 v30.2")
    r = run(cli_env, "ptp", "20702", "--limit", "0")
    assert r.returncode == 2 and "limit" in r.stderr


def test_search(cli_env):
    r = run(cli_env, "search", "office visit established 20 minutes", "--limit", "3", "--json")
    assert "99213" in [h["code"] for h in json.loads(r.stdout)["hits"]]
    r = run(cli_env, "search", "heart attack", "--system", "icd10cm", "--limit", "3")
    assert r.returncode == 0 and "I21" in r.stdout and "myocardial infarction" in r.stdout
    r = run(cli_env, "search", "x", "--system", "snomed")
    assert r.returncode == 2 and "snomed" in r.stderr


def test_check(cli_env, tmp_path):
    claims = tmp_path / "claims.csv"
    claims.write_text("claim_id,date,zip,diagnoses,code,modifiers,units,pointers\n"
                      "A,2026-05-01,10001,M86.9,20702,,1,1\nB,2026-05-01,10001,M86.9,20680,,1,1\n"
                      "B,2026-05-01,10001,M86.9,20702,,1,1\n")
    report = tmp_path / "out.json"
    r = run(cli_env, "check", str(claims), "--report", str(report), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "addon.no_primary" in r.stdout and "2 claims, 4 lines" not in r.stdout
    doc = json.loads(report.read_text())
    assert doc["summary"]["findings"] == {"addon.no_primary": 1}
    assert [c["id"] for c in doc["claims"]] == ["A", "B"] and doc["claims"][1]["findings"] == []
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = run(cli_env, "check", str(empty))
    assert r.returncode == 2 and "empty" in r.stderr


def test_price_json(cli_env):
    r = run(cli_env, "price", "99213", "--zip", "10001", "--json")
    d = json.loads(r.stdout)
    assert (d["locality"]["mac"], d["locality"]["locality"], d["nonfacility"], d["facility"]) == (
        "13202", "01", 107.63, 63.78)


def test_human_output(cli_env):
    r = run(cli_env, "show", "S72.001A")
    assert r.returncode == 0 and "S72.001A" in r.stdout and "initial encounter" in r.stdout


@pytest.mark.parametrize("args,status,text", [
    (("show", "2x"), 2, "not a CPT"),
    (("show", "20702", "--date", "2025-02-30"), 2, "not a date"),
    (("price", "99213", "--zip", "12"), 2, "not a ZIP"),
    (("show", "20799"), 1, "nearest codes: "),
], ids=["malformed-code", "bad-date", "bad-zip", "unknown-code"])
def test_bad_input_exit_status(cli_env, args, status, text):
    r = run(cli_env, *args)
    assert r.returncode == status
    assert text in r.stderr and "Traceback" not in r.stderr
