"""The medcode command, run as a real process."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import pytest

from medcode.cli import EXIT_PIPE, main


def run(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "medcode.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_show_json(cli_env):
    r = run(cli_env, "show", "20702", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["code"], d["system"], d["status"]["code"], d["global_period"]["code"]) == ("20702", "CPT", "A", "ZZZ")
    assert d["rvu"] == {
        "work": 2.44,
        "pe_nonfacility": 1.5,
        "pe_facility": 0.75,
        "mp": 0.49,
        "total_nonfacility": 4.43,
        "total_facility": 3.68,
        "nonfacility_na": False,
        "facility_na": False,
    }
    assert d["payment"] == {"nonfacility": 147.97, "facility": 122.92, "note": None}
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
    claims.write_text(
        "claim_id,date,zip,diagnoses,code,modifiers,units,pointers\n"
        "A,2026-05-01,10001,M86.9,20702,,1,1\nB,2026-05-01,10001,M86.9,20680,,1,1\n"
        "B,2026-05-01,10001,M86.9,20702,,1,1\n"
    )
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
        "13202",
        "01",
        107.63,
        63.78,
    )


def test_human_output(cli_env):
    r = run(cli_env, "show", "S72.001A")
    assert r.returncode == 0 and "S72.001A" in r.stdout and "initial encounter" in r.stdout


@pytest.mark.parametrize(
    "args,status,text",
    [
        (("show", "2x"), 2, "not a CPT"),
        (("show", "20702", "--date", "2025-02-30"), 2, "not a date"),
        (("price", "99213", "--zip", "12"), 2, "not a ZIP"),
        (("show", "20799"), 1, "nearest codes: "),
    ],
    ids=["malformed-code", "bad-date", "bad-zip", "unknown-code"],
)
def test_bad_input_exit_status(cli_env, args, status, text):
    r = run(cli_env, *args)
    assert r.returncode == status
    assert text in r.stderr and "Traceback" not in r.stderr


# --- the human view and JSON of every kind of code, in-process ---------------------------------


@pytest.fixture()
def show(home, monkeypatch):
    """Run ``medcode show ...`` in this process: (exit status, stdout, stderr)."""
    monkeypatch.setenv("MEDCODE_HOME", str(home))

    def run_show(*args: str) -> tuple[int, str, str]:
        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        err = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["show", *args])
        out.flush()
        return status, out.buffer.getvalue().decode("utf-8"), err.getvalue()

    return run_show


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the rich tables in ``text``, as lists of cell texts."""
    return [
        [c.strip() for c in line.strip().strip("│").split("│")] for line in text.splitlines() if line.startswith("│")
    ]


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "args,line",
    [
        (
            ("71046",),
            "Previous year (RVU25D): $32.67 non-facility, n/a facility; change +0.40, +1.2% non-facility, n/a facility",
        ),
        (("00100",), "Previous year (RVU25D): n/a non-facility, n/a facility; change n/a non-facility, n/a facility"),
        (
            ("15854",),
            "Previous year (RVU25D): $13.91 non-facility, n/a facility; change +3.79, +27.2% non-facility, "
            "n/a facility",
        ),
        (("J1920",), "Previous year (RVU25D): n/a non-facility, n/a facility; change n/a non-facility, n/a facility"),
        (
            ("45378",),
            "Previous year (RVU25D): $327.67 non-facility, $177.26 facility; change +50.43, +15.4% "
            "non-facility, -12.59 facility",
        ),
    ],
    ids=["facility-na", "anesthesia", "facility-na-pe-only", "excluded-drug", "both-paid"],
)
def test_human_view_with_payments_missing(show, args, line):
    """The previous year's payment or change is None for 13,709 of the 2026 codes (NA facility
    price, unpaid status): the human view says n/a instead of crashing."""
    status, out, err = show(*args)
    assert (status, err) == (0, "")
    assert line in flat(out)


@pytest.mark.parametrize(
    "args,rows",
    [
        (
            ("86153", "--date", "2026-06-01"),
            [
                ["-26 non-facility", "A", "0.67", "0.3", "0.02", "0.99", "$33.07"],
                ["-26 facility", "A", "0.67", "0.3", "0.02", "0.99", "$33.07"],
            ],
        ),
        (
            ("45378",),
            [
                ["non-facility", "A", "3.18", "7.73", "0.41", "11.32", "$378.10"],
                ["facility", "A", "3.18", "1.34", "0.41", "4.93", "$164.67"],
                ["-53 non-facility", "A", "1.59", "3.87", "0.21", "5.67", "$189.38"],
                ["-53 facility", "A", "1.59", "0.67", "0.21", "2.47", "$82.50"],
            ],
        ),
        (
            ("71046",),
            [
                ["non-facility", "A", "0.21", "0.76", "0.02", "0.99", "$33.07"],
                ["facility", "A", "0.21", "0.76", "0.02", "0.99", "n/a"],
                ["-26 non-facility", "A", "0.21", "0.08", "0.01", "0.3", "$10.02"],
                ["-26 facility", "A", "0.21", "0.08", "0.01", "0.3", "$10.02"],
                ["-TC non-facility", "A", "0.0", "0.68", "0.01", "0.69", "$23.05"],
                ["-TC facility", "A", "0.0", "0.68", "0.01", "0.69", "n/a"],
            ],
        ),
        (
            ("83020",),
            [
                ["non-facility", "X", "0.0", "0.0", "0.0", "0.0", "n/a"],
                ["facility", "X", "0.0", "0.0", "0.0", "0.0", "n/a"],
                ["-26 non-facility", "A", "0.36", "0.16", "0.01", "0.53", "$17.70"],
                ["-26 facility", "A", "0.36", "0.16", "0.01", "0.53", "$17.70"],
            ],
        ),
    ],
    ids=["only-a-26-row", "reduced-53", "26-and-tc", "status-x-with-26"],
)
def test_human_view_shows_every_modifier_row(show, args, rows):
    status, out, _ = show(*args)
    rvus = out[out.index("RVUs and national payment") : out.index("└")]
    assert status == 0 and table_rows(rvus) == rows


@pytest.mark.parametrize(
    "code,shown",
    [
        ("45380", "Endoscopic base: 45378 Diagnostic colonoscopy"),
        ("43239", "Endoscopic base: 43235 Egd diagnostic brush wash"),
        ("45378", None),
    ],
    ids=["colonoscopy-biopsy", "egd-biopsy", "a-base-itself"],
)
def test_endoscopic_base_code(show, code, shown):
    status, out, _ = show(code)
    _, js, _ = show(code, "--json")
    base = json.loads(js)["endoscopic_base"]
    assert status == 0 and ("Endoscopic base" in out) is (shown is not None)
    if shown:
        assert shown in flat(out) and base == dict(zip(("code", "description"), shown.split(" ", 3)[2:4], strict=True))
    else:
        assert base is None


def test_json_modifier_row_of_a_code_with_no_base_row(show):
    status, out, _ = show("86153", "--date", "2026-06-01", "--json")
    d = json.loads(out)
    assert (status, d["status"], d["rvu"], d["release"]) == (0, None, None, "RVU26B")
    (m,) = d["modifiers"]
    assert {k: m[k] for k in ("modifier", "status", "rvu", "payment", "conversion_factor")} == {
        "modifier": "26",
        "status": "A",
        "conversion_factor": 33.4009,
        "rvu": {
            "work": 0.67,
            "pe_nonfacility": 0.3,
            "pe_facility": 0.3,
            "mp": 0.02,
            "total_nonfacility": 0.99,
            "total_facility": 0.99,
            "nonfacility_na": False,
            "facility_na": False,
        },
        "payment": {"nonfacility": 33.07, "facility": 33.07, "note": None},
    }
    assert (m["indicators"]["pctc"]["code"], m["global_period"]["code"], m["citation"]["row"]) == (
        "6",
        "XXX",
        "86153-26",
    )
    assert d["sources"][0]["row"] == "86153-26"


@pytest.mark.parametrize(
    "args,shown,absent",
    [
        (("B20",), "Billable (category)", "Children"),
        (("Z66",), "Billable (category)", "Children"),
        (("B10",), "Children (2): B10.0, B10.8", "B10, B10"),
        (("S06.0X1A",), "Inclusion terms of the base code S06.0X1: Concussion with brief loss of consciousness", None),
        (("S72.001A",), "Excludes1: traumatic amputation of hip and thigh (S78.-) [S72]", "Inclusion terms"),
    ],
    ids=["b20-billable", "z66-billable", "b10-header", "seventh-character", "no-base-terms"],
)
def test_human_view_of_icd_codes(show, args, shown, absent):
    status, out, _ = show(*args)
    assert status == 0 and shown in flat(out)
    if absent:
        assert absent not in flat(out)


@pytest.mark.parametrize(
    "args,notice",
    [
        (
            ("E11.A", "--date", "2025-05-01"),
            "No icd10cm release in force on 2025-05-01 is loaded; using FY2026-APR "
            "(effective 2026-04-01 to 2026-09-30), the earliest release loaded.",
        ),
        (
            ("83020",),
            "No clfs release in force on 2026-04-01 is loaded; using 2025Q1 (effective 2025-01-01 to "
            "2025-03-31), the latest earlier release.",
        ),
        (
            ("J1920",),
            "No asp release in force on 2026-04-01 is loaded; using 2025Q1 (effective 2025-01-01 to "
            "2025-03-31), the latest earlier release.",
        ),
        (
            ("J1920",),
            "No hcpcs release in force on 2026-04-01 is loaded; using 2025Q3 (effective 2025-07-01 to "
            "2025-09-30), the latest earlier release.",
        ),
        (
            ("45378", "--date", "2025-11-01"),
            "No mue_practitioner release in force on 2025-11-01 is loaded; using "
            "2026Q2 (effective 2026-04-01 to 2026-06-30), the earliest release loaded.",
        ),
        (
            ("20702", "--date", "2026-06-01"),
            "No ptp_practitioner release in force on 2026-06-01 is loaded; using "
            "2024Q3 v30.2 (effective 2024-07-01 to 2024-09-30), the latest earlier "
            "release.",
        ),
        (
            ("20702", "--date", "2026-01-15"),
            "No pprrvu release in force on 2026-01-15 is loaded; using RVU26B "
            "(effective 2026-04-01 to 2026-06-30), the nearest release of the same "
            "calendar year.",
        ),
    ],
    ids=["icd", "clfs", "asp", "hcpcs", "mue", "ptp", "pfs"],
)
def test_every_release_notice_in_human_and_json_output(show, args, notice):
    status, out, _ = show(*args)
    _, js, _ = show(*args, "--json")
    assert status == 0 and f"Note: {notice}" in flat(out)
    assert notice in json.loads(js)["notices"]


@pytest.mark.parametrize(
    "args",
    [
        ("show", "99213"),
        ("show", "99213", "--json"),
        ("show", "S72.001A"),
        ("ptp", "27447"),
        ("ptp", "27447", "--json"),
        ("search", "knee"),
        ("search", "knee", "--json"),
        ("price", "99213", "--all-localities"),
        ("price", "99213", "--zip", "10001", "--json"),
        ("releases",),
        ("releases", "--json"),
    ],
    ids=lambda a: "-".join(a),
)
def test_a_closed_pipe_ends_every_command_quietly(cli_env, args):
    """``medcode show 99213 | head``: the reader is gone before medcode writes (the read end is
    closed at once), so every command meets the broken pipe; it exits 141 and prints nothing."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcode.cli", *args], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert (proc.wait(120), err) == (EXIT_PIPE, "")


@pytest.mark.parametrize(
    "args", [("--json",), (), ("--json", "--engine", "claim")], ids=["json", "summary", "claim-engine"]
)
def test_a_closed_pipe_ends_check_quietly(cli_env, tmp_path, args):
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "claim_id,date,zip,diagnoses,code,modifiers,units,pointers\n"
        "A,2026-05-01,10001,M86.9,20702,,1,1\nB,2026-05-01,10001,M86.9,20680,,1,1\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcode.cli", "check", str(claims), "--quiet", *args],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert (proc.wait(120), err) == (EXIT_PIPE, "")


@pytest.mark.parametrize("day", ["20260501", "2026-W18-5", "2026-5-1", "2026-02-30"])
def test_dates_only_as_yyyy_mm_dd(home, monkeypatch, day):
    """``date.fromisoformat`` takes 20260501 and 2026-W18-5 as 2026-05-01; medcode does not."""
    monkeypatch.setenv("MEDCODE_HOME", str(home))
    err = io.StringIO()
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(err):
        main(["show", "29881", "--date", day])
    assert exc.value.code == 2
    assert f"argument --date: {day!r} is not a date (YYYY-MM-DD)" in err.getvalue()


def test_report_that_cannot_be_written_is_an_error_not_a_traceback(home, monkeypatch, tmp_path):
    monkeypatch.setenv("MEDCODE_HOME", str(home))
    claims = tmp_path / "c.csv"
    claims.write_text("claim_id,date,zip,diagnoses,code,pointers\nc1,2026-05-01,10001,M86.9,20702,1\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["check", str(claims), "--quiet", "--report", str(tmp_path / "missing" / "r.json")])
    assert (status, err.getvalue()) == (
        2,
        f"medcode: cannot write the report {tmp_path / 'missing' / 'r.json'}: No such file or directory\n",
    )
