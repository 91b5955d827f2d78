"""FHIR R4 Claim resources (JSON): a Claim, a list of them, or a Bundle whose entries hold them.

Mapping: ``id``; ``billablePeriod.start`` (claim date); ``provider.identifier.value`` (NPI);
``diagnosis[]`` by ``sequence`` (``diagnosisCodeableConcept.coding[].code``); ``item[]``:
``productOrService.coding[0].code``, ``modifier[].coding[0].code``, ``quantity.value`` (units),
``diagnosisSequence`` (pointers to diagnosis sequences), ``net.value`` or ``unitPrice.value``
(charge), ``servicedDate`` or ``servicedPeriod.start``, ``locationCodeableConcept`` (place of
service) and ``locationAddress.postalCode`` (ZIP). Positions are JSON paths.
"""

from __future__ import annotations

from typing import Any

from medcode.claims.model import Claim, Line
from medcode.claims.readers import ClaimInputError, Fields, load_json


def read_fhir(text: str, source: str = "<fhir>") -> list[Claim]:
    doc = load_json(text, source)
    if isinstance(doc, list):
        items = [(f"$[{i}]", r) for i, r in enumerate(doc)]
    elif isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        items = [(f"$.entry[{i}].resource", (e or {}).get("resource")) for i, e in enumerate(doc.get("entry") or [])]
    else:
        items = [("$", doc)]
    claims = []
    for path, res in items:
        if not isinstance(res, dict) or res.get("resourceType") != "Claim":
            kind = res.get("resourceType") if isinstance(res, dict) else type(res).__name__
            raise ClaimInputError(f"{source}:{path}.resourceType", f"expected a Claim resource, not {kind!r}")
        claims.append(_claim(res, f"{source}:{path}", len(claims)))
    if not claims:
        raise ClaimInputError(source, "no Claim resources")
    return claims


def _code(concept: Any) -> str:
    codings = (concept or {}).get("coding") or []
    return str(codings[0].get("code") or "").strip().upper() if codings and isinstance(codings[0], dict) else ""


def _claim(res: dict, where: str, index: int) -> Claim:
    f = Fields()
    diagnoses, sequence_to_position = [], {}
    for i, d in enumerate(sorted(res.get("diagnosis") or [], key=lambda d: d.get("sequence", 0))):
        code = _code(d.get("diagnosisCodeableConcept"))
        if not code:
            f.problem(f"{where}.diagnosis[{i}]", "diagnoses", "a diagnosis without an ICD-10-CM code")
            continue
        diagnoses.append(code)
        sequence_to_position[d.get("sequence", i + 1)] = len(diagnoses)
    items = res.get("item") or []
    if not items:
        raise ClaimInputError(f"{where}.item", "a Claim needs items")
    lines, pos, zip_code = [], None, None
    for n, item in enumerate(items, start=1):
        at = f"{where}.item[{n - 1}]"
        mods = [_code(m) for m in item.get("modifier") or []]
        pointers = []
        for s in item.get("diagnosisSequence") or []:
            if s in sequence_to_position:
                pointers.append(sequence_to_position[s])
            else:
                f.problem(f"{at}.diagnosisSequence", "pointers", f"no diagnosis has sequence {s}", n)
        charge = (item.get("net") or item.get("unitPrice") or {}).get("value")
        served = item.get("servicedDate") or (item.get("servicedPeriod") or {}).get("start")
        pos = pos or _code(item.get("locationCodeableConcept")) or None
        zip_code = zip_code or ((item.get("locationAddress") or {}).get("postalCode") or None)
        lines.append(Line(
            line=n, code=f.code(_code(item.get("productOrService")), f"{at}.productOrService", n),
            modifiers=f.modifiers(mods, f"{at}.modifier", n),
            units=f.units((item.get("quantity") or {}).get("value"), f"{at}.quantity.value", n),
            pointers=tuple(pointers), charge=f.charge(charge, f"{at}.net.value", n),
            date=f.day(served, f"{at}.servicedDate", "date", n)))
    provider = ((res.get("provider") or {}).get("identifier") or {}).get("value")
    start = (res.get("billablePeriod") or {}).get("start")
    return Claim(id=str(res.get("id") or index + 1), lines=tuple(lines),
                 date=f.day(start[:10] if isinstance(start, str) else start, f"{where}.billablePeriod.start", "date"),
                 place_of_service=pos, provider=provider, zip_code=str(zip_code)[:5] if zip_code else None,
                 diagnoses=tuple(diagnoses), problems=tuple(f.problems))
