"""The JSON API over real HTTP: a uvicorn server in its own process (the ``server`` fixture)."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance


def test_code_page(server):
    d = httpx.get(server + "/api/codes/20702").json()
    assert (d["code"], d["payment"]["nonfacility"], d["mue"]["units"]) == ("20702", 147.97, 1)
    assert d["rvu"]["total_nonfacility"] == 4.43
    old = httpx.get(server + "/api/codes/20702", params={"date": "2025-11-01"}).json()
    assert old["rvu"]["total_nonfacility"] == 4.28


def test_ptp_pages(server):
    first = httpx.get(server + "/api/codes/20702/ptp", params={"limit": 200}).json()
    rest = httpx.get(server + "/api/codes/20702/ptp", params={"limit": 200, "offset": 200}).json()
    assert (first["total"], len(first["pairs"]), len(rest["pairs"])) == (216, 200, 16)
    assert first["pairs"][0]["column_1"] == "20702"
    bad = httpx.get(server + "/api/codes/20702/ptp", params={"direction": "sideways"})
    assert bad.status_code == 422 and "direction" in bad.json()["error"]["message"]


def test_answers_carry_an_etag_and_revalidate(server):
    r = httpx.get(server + "/api/codes/20702")
    etag = r.headers["etag"]
    again = httpx.get(server + "/api/codes/20702", headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    other = httpx.get(server + "/api/codes/20702", params={"date": "2025-11-01"})
    assert other.headers["etag"] != etag


def test_code_page_with_zip(server):
    d = httpx.get(server + "/api/codes/99213", params={"zip": "10001"}).json()
    assert (d["price"]["locality"]["name"], d["price"]["nonfacility"]) == ("MANHATTAN", 107.63)


def test_price_and_all_localities(server):
    p = httpx.get(server + "/api/price", params={"code": "99213", "zip": "10001"}).json()
    assert (p["nonfacility"], p["facility"]) == (107.63, 63.78)
    every = httpx.get(server + "/api/price/localities", params={"code": "99213"}).json()
    assert every["count"] == 109


def test_icd(server):
    d = httpx.get(server + "/api/codes/S72.001A").json()
    assert d["billable"] and d["seventh_characters"]["A"] == "initial encounter for closed fracture"


@pytest.mark.parametrize(
    "path,params,status,kind",
    [
        ("/api/codes/20799", {}, 404, "not_found"),
        ("/api/codes/2x", {}, 422, "malformed_code"),
        ("/api/codes/20702", {"date": "2025-13-01"}, 422, "bad_input"),
        ("/api/price", {"code": "99213", "zip": "1000x"}, 422, "bad_input"),
        ("/api/price", {"code": "99213", "zip": "00000"}, 404, "unknown_locality"),
        ("/api/price", {"zip": "10001"}, 422, "bad_input"),
    ],
    ids=["unknown", "malformed", "bad-date", "bad-zip", "unknown-zip", "missing-code"],
)
def test_errors_are_json(server, path, params, status, kind):
    r = httpx.get(server + path, params=params)
    assert r.status_code == status
    assert r.json()["error"]["type"] == kind


def test_unknown_code_suggestions(server):
    assert "20704" in httpx.get(server + "/api/codes/20799").json()["error"]["suggestions"]


def test_openapi_docs(server):
    assert httpx.get(server + "/docs").status_code == 200
    assert "/api/codes/{code}" in httpx.get(server + "/openapi.json").json()["paths"]


def test_search_and_autocomplete(server):
    r = httpx.get(server + "/api/search", params={"q": "antibiotic rod in the bone", "limit": 5}).json()
    top = [h["code"] for h in r["hits"]][:3]
    assert "20702" in top
    hit = next(h for h in r["hits"] if h["code"] == "20702")
    assert hit["plain_description"].startswith("Manual preparation and insertion")
    assert {"typed": "in the bone", "searched": "intramedullary", "kind": "synonym"} in hit["expansions"]
    ac = httpx.get(server + "/api/autocomplete", params={"q": "2070"}).json()
    assert [h["code"] for h in ac["data"]][:2] == ["20700", "20701"] and ac["count"] <= 10
    icd = httpx.get(server + "/api/search", params={"q": "fracture", "system": "icd10cm", "date": "2026-05-01"})
    assert icd.status_code == 200 and {h["system"] for h in icd.json()["hits"]} == {"ICD-10-CM"}


@pytest.mark.parametrize(
    "params,status",
    [
        ({"q": "x" * 1_000}, 200),
        ({"q": ""}, 200),
        ({"q": '"NEAR(a* -b) AND ('}, 200),
        ({"q": "\u0000\u001b fracture"}, 200),
        ({"q": "fracture", "system": "snomed"}, 422),
        ({"q": "fracture", "limit": 0}, 422),
        ({"q": "fracture", "date": "yesterday"}, 422),
        ({"q": "x" * 1_001}, 422),
        ({"q": "fracture", "system": ""}, 422),
        ({"q": "fracture", "date": ""}, 422),
        ({"q": "fracture", "date": "20260501"}, 422),
    ],
)
def test_search_bad_input(server, params, status):
    r = httpx.get(server + "/api/search", params=params)
    assert r.status_code == status, r.text
    if status == 422:
        assert r.json()["error"]["type"] == "bad_input"


def test_claims_check(server):
    body = {
        "claims": [
            {
                "id": "A1",
                "date": "2026-05-01",
                "zip": "10001",
                "diagnoses": ["M86.9"],
                "lines": [{"code": "20702", "pointers": [1]}],
            }
        ]
    }
    r = httpx.post(server + "/api/claims/check", json=body)
    assert r.status_code == 200
    claim = r.json()["claims"][0]
    assert [f["id"] for f in claim["findings"]] == ["addon.no_primary"]
    assert claim["findings"][0]["citation"]["family"] == "aoc" and claim["total_allowed"] == 0
    csv_body = "claim_id,date,zip,diagnoses,code,units,pointers\nX,2026-05-01,10001,M86.9,20680,1,1\n"
    r = httpx.post(server + "/api/claims/check", content=csv_body, headers={"content-type": "text/csv"})
    assert r.status_code == 200 and r.json()["claims"][0]["lines"][0]["allowed"] > 0
    bad = httpx.post(server + "/api/claims/check", content="{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 422 and bad.json()["error"] == {
        "type": "bad_input",
        "field": "body:1:2",
        "message": "body:1:2: not JSON: unexpected character, expected a string key",
    }
    empty = httpx.post(server + "/api/claims/check", content=b"", headers={"content-type": "application/json"})
    assert empty.status_code == 422


def test_claims_check_837p_and_fhir(server):
    from pathlib import Path

    data = Path(__file__).parent / "data"
    r = httpx.post(
        server + "/api/claims/check",
        content=(data / "claims_hand_made.837").read_bytes(),
        headers={"content-type": "application/edi-x12"},
    )
    assert r.status_code == 200 and [c["id"] for c in r.json()["claims"]] == ["CLAIM-A", "CLAIM-B"]
    r = httpx.post(
        server + "/api/claims/check",
        content=(data / "claim_hand_made.fhir.json").read_bytes(),
        headers={"content-type": "application/fhir+json"},
    )
    assert r.status_code == 200 and r.json()["claims"][0]["id"] == "FHIR-1"
    bad = httpx.post(
        server + "/api/claims/check", content=b"ISA*too short~", headers={"content-type": "application/edi-x12"}
    )
    assert bad.status_code == 422 and "ISA" in bad.json()["error"]["message"]


# --- the schema against the answers (schemathesis over real HTTP) -------------------------------

SCHEMA_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_answers_match_the_schema(server):
    """Generated requests for every operation of /openapi.json: no 500, every status declared,
    every body of the declared type and shape. Bounded: 25 examples an operation."""
    schema = schemathesis.openapi.from_url(server + "/openapi.json")
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=server, checks=SCHEMA_CHECKS, timeout=60)

        try:
            run()
        except Exception as exc:  # every operation is tried; all failures are reported together
            failures.append(f"{operation.label}: {exc}")
    assert operations == len([m for p in schema.raw_schema["paths"].values() for m in p])
    assert failures == []
