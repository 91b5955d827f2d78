"""Claim readers under careless and hostile input: every value is read strictly, and every value
that cannot be used is a problem (a ``validity.bad_input`` finding) or an input error naming the
position, never a guess and never a crash. Hand-made input only (unit tier)."""

from __future__ import annotations

import json

import pytest

from medcode.claims.fhir import read_fhir
from medcode.claims.model import Problem
from medcode.claims.readers import ClaimInputError, read_csv, read_json

LINE = {"code": "20702", "units": 1, "pointers": [1]}


def claim_with(line: dict | None = None, **fields: object) -> str:
    claim = {
        "id": "c1",
        "date": "2026-05-01",
        "zip": "10001",
        "diagnoses": ["M86.9"],
        "lines": [{**LINE, **(line or {})}],
        **fields,
    }
    return json.dumps(claim)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            claim_with({"units": "1_0"}),
            Problem("x:$.lines[0].units", "units", "'1_0' is not a whole number of units", 1),
        ),
        (
            claim_with({"units": "\u0661"}),
            Problem("x:$.lines[0].units", "units", "'١' is not a whole number of units", 1),
        ),
        (
            claim_with({"units": 0.5}),
            Problem(
                "x:$.lines[0].units",
                "units",
                "units must be a whole number, not 0.5 (claims bill whole units of service)",
                1,
            ),
        ),
        (
            claim_with({"units": "inf"}),
            Problem("x:$.lines[0].units", "units", "'inf' is not a whole number of units", 1),
        ),
        (
            claim_with({"units": 0}),
            Problem("x:$.lines[0].units", "units", "units must be from 1 to 9,999,999, not 0", 1),
        ),
        (
            claim_with({"units": 10**30}),
            Problem("x:$.lines[0].units", "units", "units must be from 1 to 9,999,999, not 1e+30", 1),
        ),
        (claim_with({"units": True}), Problem("x:$.lines[0].units", "units", "True is not a whole number of units", 1)),
        (claim_with({"units": [1]}), Problem("x:$.lines[0].units", "units", "[1] is not a whole number of units", 1)),
        (
            claim_with({"pointers": ["x"]}),
            Problem("x:$.lines[0].pointers", "pointers", "'x' is not a diagnosis pointer (1-12)", 1),
        ),
        (
            claim_with({"pointers": [1.5]}),
            Problem("x:$.lines[0].pointers", "pointers", "1.5 is not a diagnosis pointer (1-12)", 1),
        ),
        (
            claim_with({"pointers": [10**20]}),
            Problem("x:$.lines[0].pointers", "pointers", "1e+20 is not a diagnosis pointer (1-12)", 1),
        ),
        (claim_with({"charge": "NaN"}), Problem("x:$.lines[0].charge", "charge", "'NaN' is not an amount", 1)),
        (claim_with({"charge": "1e3"}), Problem("x:$.lines[0].charge", "charge", "'1e3' is not an amount", 1)),
        (
            claim_with({"charge": 10**11}),
            Problem("x:$.lines[0].charge", "charge", "a charge over $99,999,999.99 (100,000,000,000.00)", 1),
        ),
        (
            claim_with({"date": "20260501"}),
            Problem("x:$.lines[0].date", "date", "'20260501' is not a date (YYYY-MM-DD)", 1),
        ),
        (
            claim_with({"date": "2026-W18-5"}),
            Problem("x:$.lines[0].date", "date", "'2026-W18-5' is not a date (YYYY-MM-DD)", 1),
        ),
        (
            claim_with({"date": "2026-02-30"}),
            Problem("x:$.lines[0].date", "date", "'2026-02-30' is not a date (YYYY-MM-DD)", 1),
        ),
        (claim_with({"modifiers": [59]}), None),  # a number for a numeric modifier is read as the modifier
        (
            claim_with({"modifiers": [{"m": 1}]}),
            Problem("x:$.lines[0].modifiers", "modifiers", "{'m': 1} is not a modifier", 1),
        ),
        (claim_with({"code": {"a": 1}}), Problem("x:$.lines[0].code", "code", "{'a': 1} is not a code", 1)),
        (
            claim_with(diagnoses=5),
            Problem("x:$.diagnoses", "diagnoses", "diagnoses must be a list of ICD-10-CM codes, not 5", None),
        ),
        (claim_with(diagnoses=[5]), Problem("x:$.diagnoses[0]", "diagnoses", "5 is not an ICD-10-CM code", None)),
        (claim_with(zip={"z": 1}), Problem("x:$.zip", "zip", "{'z': 1} is not text", None)),
        (claim_with(provider="9" * 200), Problem("x:$.provider", "provider", "longer than 80 characters (200)", None)),
    ],
    ids=[
        "underscore-units",
        "arabic-indic-digit",
        "half-unit",
        "inf-units",
        "zero-units",
        "huge-units",
        "bool-units",
        "list-units",
        "text-pointer",
        "float-pointer",
        "huge-pointer",
        "nan-charge",
        "exponent-charge",
        "huge-charge",
        "compact-date",
        "week-date",
        "impossible-date",
        "numeric-modifier",
        "object-modifier",
        "object-code",
        "number-diagnoses",
        "number-diagnosis",
        "object-zip",
        "long-provider",
    ],
)
def test_json_values_are_read_strictly(text: str, problem: Problem | None) -> None:
    [claim] = read_json(text, "x")
    assert list(claim.problems) == ([problem] if problem else [])


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            '{"lines": [{"code": "20702", "units": Infinity}]}',
            "x:1:39",
            "not JSON: unexpected character, expected a JSON value",
        ),
        (
            '{"lines": [{"code": "20702", "units": 1e309}]}',
            "x:1:39",
            "not JSON: number is infinity when parsed as double",
        ),
        (
            '{"lines": [{"code": "20702", "pointers": [1e309]}]}',
            "x:1:43",
            "not JSON: number is infinity when parsed as double",
        ),
        (
            '{"lines": [{"code": "20702", "charge": NaN}]}',
            "x:1:40",
            "not JSON: unexpected character, expected a JSON value",
        ),
        ("[" * 5000 + "]" * 5000, "x:1:1026", "not JSON: depth limit exceeded"),
        (
            '{"lines": [{"code": "1' + "0" * 1_000_000 + '"}], "units": 1' + "0" * 1_000_000 + "}",
            "x:1:1000037",
            "not JSON: number is infinity when parsed as double",
        ),
        ('{"lines": ["x"]}', "x:$.lines[0]", "a line must be an object"),
        ('{"lines": 5}', "x:$.lines", "a claim needs a list of lines"),
        ('{"claims": 5}', "x:$.claims", "claims must be a list"),
    ],
    ids=[
        "infinity",
        "1e309",
        "pointer-1e309",
        "nan",
        "deep-nesting",
        "million-digit-number",
        "line-not-object",
        "lines-not-list",
        "claims-not-list",
    ],
)
def test_json_that_cannot_be_read_names_its_position(text: str, where: str, message: str) -> None:
    with pytest.raises(ClaimInputError) as exc:
        read_json(text, "x")
    assert (exc.value.where, str(exc.value)) == (where, f"{where}: {message}")


def test_claims_over_the_limits_are_refused_by_the_reader() -> None:
    lines = [{"code": "29881", "pointers": [1]}] * 60
    [claim] = read_json(
        json.dumps({"id": "big", "date": "2026-05-01", "diagnoses": [f"M{i:02d}" for i in range(13)], "lines": lines}),
        "x",
    )
    assert claim.problems == (
        Problem(
            "x:$",
            "size",
            "the claim has 60 lines; medcode checks at most 50 a claim (the 837P limit): split it "
            "into claims of 50 lines or fewer",
        ),
        Problem("x:$", "size", "the claim has 13 diagnoses; a claim carries at most 12 (the 837P limit)"),
    )
    assert len(claim.lines) == 60  # nothing lost: the claim is refused whole


HEADER = "claim_id,date,zip,diagnoses,code,units,pointers,charge"


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "c1,2026-05-01,10001,M86.9,20702,inf,1,",
            Problem("x:2:6", "units", "'inf' is not a whole number of units", 1),
        ),
        (
            "c1,2026-05-01,10001,M86.9,20702,1_0,1,",
            Problem("x:2:6", "units", "'1_0' is not a whole number of units", 1),
        ),
        (
            "c1,2026-05-01,10001,M86.9,20702,0.5,1,",
            Problem(
                "x:2:6", "units", "units must be a whole number, not '0.5' (claims bill whole units of service)", 1
            ),
        ),
        ("c1,2026-05-01,10001,M86.9,20702,1,1,NaN", Problem("x:2:8", "charge", "'NaN' is not an amount", 1)),
        ("c1,2026-05-01,10001,M86.9,20702,1,1,Infinity", Problem("x:2:8", "charge", "'Infinity' is not an amount", 1)),
        ("c1,20260501,10001,M86.9,20702,1,1,", Problem("x:2:2", "date", "'20260501' is not a date (YYYY-MM-DD)", None)),
    ],
    ids=["inf-units", "underscore-units", "half-unit", "nan-charge", "infinity-charge", "compact-date"],
)
def test_csv_values_are_read_strictly(row: str, problem: Problem) -> None:
    [claim] = read_csv(f"{HEADER}\n{row}\n", "x")
    assert list(claim.problems) == [problem]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("claim_id,code,code\nc1,20702,20702\n", "x:1", "column(s) named twice: code"),
        (
            "claim_id,code,units\nc1,20702," + "9" * 200_000 + "\n",
            "x:2",
            "not CSV: field larger than field limit (131072)",
        ),
        ("claim_id,code\nc1\n", "x:2", "1 fields, the header has 2"),
    ],
    ids=["duplicate-header", "huge-field", "short-row"],
)
def test_csv_that_cannot_be_read_names_its_line(text: str, where: str, message: str) -> None:
    with pytest.raises(ClaimInputError) as exc:
        read_csv(text, "x")
    assert (exc.value.where, str(exc.value)) == (where, f"{where}: {message}")


def test_csv_with_a_byte_order_mark_reads_as_without() -> None:
    text = f"{HEADER}\nc1,2026-05-01,10001,M86.9,20702,1,1,\n"
    assert read_csv("\ufeff" + text, "x") == read_csv(text, "x")


def test_csv_claim_over_the_line_limit_is_refused_and_counted() -> None:
    rows = "".join("c1,2026-05-01,10001,M86.9,20702,1,1,\n" for _ in range(1000))
    [claim] = read_csv(f"{HEADER}\n{rows}", "x")
    assert claim.problems == (
        Problem(
            "x:2",
            "size",
            "the claim has 1,000 lines; medcode checks at most 50 a claim "
            "(the 837P limit): split it into claims of 50 lines or fewer",
        ),
    )


FHIR_ITEM = {"sequence": 1, "productOrService": {"coding": [{"code": "20702"}]}, "quantity": {"value": 1}}


def fhir_with(**fields: object) -> str:
    claim = {"resourceType": "Claim", "id": "f1", "billablePeriod": {"start": "2026-05-01"}, "item": [FHIR_ITEM]}
    claim.update(fields)
    return json.dumps(claim)


def fhir_item_with(**fields: object) -> str:
    return fhir_with(item=[{**FHIR_ITEM, **fields}])


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (fhir_with(item=["x"]), "x:$.item[0]", "must be an object, not text"),
        (fhir_with(item={}), "x:$.item", "must be a list, not an object"),
        (fhir_with(provider="x"), "x:$.provider", "must be an object, not text"),
        (fhir_with(provider={"identifier": []}), "x:$.provider.identifier", "must be an object, not a list"),
        (fhir_with(billablePeriod=5), "x:$.billablePeriod", "must be an object, not a number"),
        (fhir_with(diagnosis={}), "x:$.diagnosis", "must be a list, not an object"),
        (fhir_with(diagnosis=[5]), "x:$.diagnosis[0]", "must be an object, not a number"),
        (fhir_with(diagnosis=[{"sequence": "1"}]), "x:$.diagnosis[0].sequence", "must be a whole number, not text"),
        (
            fhir_with(diagnosis=[{"diagnosisCodeableConcept": []}]),
            "x:$.diagnosis[0].diagnosisCodeableConcept",
            "must be an object, not a list",
        ),
        (
            fhir_with(diagnosis=[{"diagnosisCodeableConcept": {"coding": {}}}]),
            "x:$.diagnosis[0].diagnosisCodeableConcept.coding",
            "must be a list, not an object",
        ),
        (
            fhir_with(diagnosis=[{"diagnosisCodeableConcept": {"coding": [{"code": 5}]}}]),
            "x:$.diagnosis[0].diagnosisCodeableConcept.coding[0].code",
            "must be text, not a number",
        ),
        (fhir_item_with(modifier="59"), "x:$.item[0].modifier", "must be a list, not text"),
        (fhir_item_with(modifier=["59"]), "x:$.item[0].modifier[0]", "must be an object, not text"),
        (fhir_item_with(net=5), "x:$.item[0].net", "must be an object, not a number"),
        (fhir_item_with(unitPrice="5"), "x:$.item[0].unitPrice", "must be an object, not text"),
        (fhir_item_with(quantity=1), "x:$.item[0].quantity", "must be an object, not a number"),
        (fhir_item_with(productOrService="20702"), "x:$.item[0].productOrService", "must be an object, not text"),
        (
            fhir_item_with(productOrService={"coding": "20702"}),
            "x:$.item[0].productOrService.coding",
            "must be a list, not text",
        ),
        (
            fhir_item_with(locationCodeableConcept=11),
            "x:$.item[0].locationCodeableConcept",
            "must be an object, not a number",
        ),
        (fhir_item_with(locationAddress="10001"), "x:$.item[0].locationAddress", "must be an object, not text"),
        (fhir_item_with(servicedPeriod=[]), "x:$.item[0].servicedPeriod", "must be an object, not a list"),
        (fhir_item_with(diagnosisSequence=1), "x:$.item[0].diagnosisSequence", "must be a list, not a number"),
        (
            json.dumps({"resourceType": "Bundle", "entry": {}}),
            "x:$.entry",
            "a Bundle's entry must be a list, not an object",
        ),
        (
            json.dumps({"resourceType": "Bundle", "entry": [5]}),
            "x:$.entry[0]",
            "an entry must be an object, not a number",
        ),
    ],
    ids=[
        "item-text",
        "item-object",
        "provider-text",
        "identifier-list",
        "period-number",
        "diagnosis-object",
        "diagnosis-number",
        "sequence-text",
        "concept-list",
        "coding-object",
        "code-number",
        "modifier-text",
        "modifier-item-text",
        "net-number",
        "unit-price-text",
        "quantity-number",
        "product-text",
        "coding-text",
        "location-number",
        "address-text",
        "period-list",
        "sequence-number",
        "entry-object",
        "entry-number",
    ],
)
def test_fhir_wrongly_typed_fields_name_their_path(text: str, where: str, message: str) -> None:
    with pytest.raises(ClaimInputError) as exc:
        read_fhir(text, "x")
    assert (exc.value.where, str(exc.value)) == (where, f"{where}: {message}")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            fhir_item_with(quantity={"value": "1_0"}),
            Problem("x:$.item[0].quantity.value", "units", "'1_0' is not a whole number of units", 1),
        ),
        (fhir_item_with(net={"value": "NaN"}), Problem("x:$.item[0].net.value", "charge", "'NaN' is not an amount", 1)),
        (
            fhir_item_with(diagnosisSequence=["1"]),
            Problem("x:$.item[0].diagnosisSequence", "pointers", "no diagnosis has sequence '1'", 1),
        ),
        (
            fhir_item_with(servicedDate="20260501"),
            Problem("x:$.item[0].servicedDate", "date", "'20260501' is not a date (YYYY-MM-DD)", 1),
        ),
    ],
    ids=["underscore-units", "nan-charge", "text-sequence", "compact-date"],
)
def test_fhir_values_are_read_strictly(text: str, problem: Problem) -> None:
    [claim] = read_fhir(text, "x")
    assert list(claim.problems) == [problem]
