"""Reproductions of issue 12 rerun by the verifier that found a fault: each case runs through the
per-claim engine and the batch engine and must give the same, whole, message."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from medcode.claims import Checker, Claim, Line
from medcode.claims.batch import BatchChecker
from medcode.claims.batch.inputs import from_claims

DOS = date(2026, 5, 1)


def _claim(cid: str, *lines: Line) -> Claim:
    return Claim(cid, lines, date=DOS, place_of_service="11", zip_code="10001", diagnoses=("M17.11",))


MAI3 = (
    "Date of service edit (clinical): units are summed over all lines for the same date of service; units over the "
    "limit may be paid on appeal with documentation"
)


@pytest.mark.parametrize(
    "code,units,message,fix",
    [
        (
            "99213",
            3,
            f"99213: 3 units on 2026-05-01, the MUE is 2 (MAI 3: {MAI3}; Clinical: Data).",
            "Bill at most 2 units per day; units above it are paid only on appeal with the records (MAI 3).",
        ),
        (
            "99213",
            9_999_999,
            f"99213: 9,999,999 units on 2026-05-01, the MUE is 2 (MAI 3: {MAI3}; Clinical: Data).",
            "Bill at most 2 units per day; units above it are paid only on appeal with the records (MAI 3).",
        ),
        (
            "84165",
            2,
            "84165: 2 units on 2026-05-01, the MUE is 1 (MAI 2: Date of service edit (policy): units are "
            "summed over all lines for the same date of service; the limit is absolute policy and cannot be appealed "
            "past; Code Descriptor / CPT Instruction).",
            "Bill at most 1 unit per day; the limit is policy (MAI 2): units above it are not paid, even on appeal.",
        ),
        (
            "A6460",
            3,
            "A6460: 3 units on the line, the MUE is 1 (MAI 1: Line edit: units are counted on each claim "
            "line; Clinical: CMS Workgroup).",
            "Bill at most 1 unit per line; more units on separate lines with 59/XE/XS/XU when documented.",
        ),
    ],
    ids=["mai3", "mai3-largest", "mai2", "mai1"],
)
def test_mue_message_and_fix_by_adjudication_indicator(kb, code, units, message, fix):
    # 9,999,999 units were written "1e+07 units"; the MAI meaning ended ".;"; "1 units"; and the fix
    # offered an appeal for MAI 2 edits, which CMS does not pay above the limit even on appeal
    claim = _claim("MUE", Line(1, code, (), units, (1,)))
    one = [(f.message, f.fix) for f in Checker(kb).check(claim).findings if f.id == "mue.exceeded"]
    batch = [
        (f.message, f.fix)
        for c in BatchChecker(kb).check(*from_claims([claim])).to_checked()
        for f in c.findings
        if f.id == "mue.exceeded"
    ]
    assert (one, batch) == ([(message, fix)], [(message, fix)])


@pytest.mark.parametrize("day", ["20260501", "2026-W18-5", "2026-13-01"], ids=["compact", "week", "month-13"])
def test_code_api_and_page_take_only_yyyy_mm_dd(server, day):
    # date.fromisoformat reads 20260501 and 2026-W18-5 as 2026-05-01: the API answered 200 for them
    api = httpx.get(server + "/api/codes/29881", params={"date": day})
    assert (api.status_code, api.json()) == (
        422,
        {"error": {"type": "bad_input", "field": "date", "message": f"'{day}' is not a date (YYYY-MM-DD)"}},
    )
    page = httpx.get(server + "/codes/29881", params={"date": day})
    assert page.status_code == 200
    assert f"&#39;{day}&#39; is not a date (YYYY-MM-DD); the newest release is shown." in page.text


@pytest.mark.parametrize(
    "params,status,message",
    [
        ({"q": "knee", "system": ""}, 422, "system is empty: use cpt, hcpcs, icd10cm or modifier (or leave it out)"),
        ({"q": "knee", "date": ""}, 422, "'' is not a date (YYYY-MM-DD)"),
    ],
    ids=["empty-system", "empty-date"],
)
def test_search_refuses_empty_parameters(server, params, status, message):
    # an empty system= or date= was read as "none given" though the schema declares their forms
    r = httpx.get(server + "/api/search", params=params)
    assert (r.status_code, r.json()["error"]["message"]) == (status, message)


def test_ptp_of_a_diagnosis_code_says_why(server):
    # it said "'Y93.21' is not a CPT, HCPCS or ICD-10-CM code" of a real ICD-10-CM code
    r = httpx.get(server + "/api/codes/Y93.21/ptp")
    assert (r.status_code, r.json()) == (
        422,
        {
            "error": {
                "type": "malformed_code",
                "field": "code",
                "message": "'Y93.21' is not a CPT or HCPCS code: NCCI PTP edits pair procedure codes",
            }
        },
    )


def test_openapi_declares_the_forms_of_parameters_and_resolves_the_claim_schema(server):
    spec = httpx.get(server + "/openapi.json").json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/codes/{code}/ptp"]["get"]["parameters"]}
    assert (params["code"]["pattern"], params["date"]["pattern"], params["date"]["format"]) == (
        "^[0-9A-Za-z]{5}$",
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "date",
    )
    body = spec["paths"]["/api/claims/check"]["post"]["requestBody"]["content"]
    assert "$ref" not in str(body["application/json"]) and "$defs" not in str(body["application/json"])
    assert [s["properties"]["resourceType"] for s in body["application/fhir+json"]["schema"]["oneOf"]] == [
        {"const": "Claim"},
        {"const": "Bundle"},
    ]


def test_request_checks_run_a_bounded_number_at_a_time(home):
    # a 20 MB body takes about 0.8 GB while checked: 40 at once (anyio's default thread count)
    # took the server past any memory it has; CHECK_SLOTS run, the others wait their turn
    from fastapi.testclient import TestClient

    from medcode.web.api.claims import CHECK_SLOTS
    from medcode.web.app import create_app

    with TestClient(create_app(home)) as client:
        slots = client.app.state.check_slots
        claim = {
            "id": "A",
            "date": "2026-05-01",
            "diagnoses": ["M17.11"],
            "lines": [{"code": "99213", "pointers": [1]}],
        }
        answer = client.post("/api/claims/check", json=claim)
        assert (CHECK_SLOTS, slots.total_tokens, slots.borrowed_tokens, answer.status_code) == (2, 2, 0, 200)


@pytest.mark.parametrize(
    "name,reason", [("none.csv", "No such file or directory"), ("", "Is a directory")], ids=["missing", "folder"]
)
def test_a_path_that_is_no_file_is_an_input_error_in_both_engines(kb, tmp_path, name, reason):
    # the batch engine (the command's default) raised FileNotFoundError / IsADirectoryError: a traceback
    from medcode.claims import ClaimInputError, read_path
    from medcode.claims.batch import check_file

    path = str(tmp_path / name) if name else str(tmp_path)
    errors = []
    for run in (lambda: list(check_file(kb, path, "csv")), lambda: list(read_path(path, "csv"))):
        with pytest.raises(ClaimInputError) as got:
            run()
        errors.append(str(got.value))
    assert errors == [f"{path}: {reason}"] * 2


def test_a_page_with_a_bad_parameter_is_not_called_not_found(server):
    # /codes/29881?c1=2**63 answered 422 with the title "Not found: /codes/29881" and "Nothing at ..."
    r = httpx.get(server + "/codes/29881", params={"c1": str(2**63)})
    assert r.status_code == 422
    assert "<title>A parameter of /codes/29881 cannot be used" in r.text
    assert "<h1>A parameter of /codes/29881 cannot be used</h1>" in r.text and "Nothing at" not in r.text
    assert "(query.c1: Input should be less than or equal to 1000000000)" in r.text
