"""FHIR R4 Claim resources (JSON): a Claim, a list of them, or a Bundle whose entries hold them.

Mapping: ``id``; ``billablePeriod.start`` (claim date); ``provider.identifier.value`` (NPI);
``diagnosis[]`` by ``sequence`` (``diagnosisCodeableConcept.coding[].code``); ``item[]``:
``productOrService.coding[0].code``, ``modifier[].coding[0].code``, ``quantity.value`` (units),
``diagnosisSequence`` (pointers to diagnosis sequences), ``net.value`` or ``unitPrice.value``
(charge), ``servicedDate`` or ``servicedPeriod.start``, ``locationCodeableConcept`` (place of
service) and ``locationAddress.postalCode`` (ZIP). NPIs: the billing provider's is
``provider.identifier.value``; the rendering and referring providers' are
``careTeam[].provider.identifier.value`` of the first member whose ``role.coding[0].code`` is
``primary``, ``rendering`` or ``performing`` (rendering) or ``referring`` (referring); without a
referring member, ``referral.identifier.value`` where its ``system`` is the NPI system.
Positions are JSON paths.
"""

from __future__ import annotations

from typing import Any

from medcode.claims.model import Claim, Line
from medcode.claims.readers import ClaimInputError, Fields, _shown, load_json


def read_fhir(text: str, source: str = "<fhir>") -> list[Claim]:
    doc = load_json(text, source)
    if isinstance(doc, list):
        items = [(f"$[{i}]", r) for i, r in enumerate(doc)]
    elif isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        entries = doc.get("entry")
        if entries is not None and not isinstance(entries, list):
            raise ClaimInputError(f"{source}:$.entry", f"a Bundle's entry must be a list, not {_kind(entries)}")
        items = []
        for i, e in enumerate(entries or []):
            if not isinstance(e, dict):
                raise ClaimInputError(f"{source}:$.entry[{i}]", f"an entry must be an object, not {_kind(e)}")
            items.append((f"$.entry[{i}].resource", e.get("resource")))
    else:
        items = [("$", doc)]
    claims: list[Claim] = []
    for path, res in items:
        if not isinstance(res, dict) or res.get("resourceType") != "Claim":
            kind = res.get("resourceType") if isinstance(res, dict) else _kind(res)
            raise ClaimInputError(f"{source}:{path}.resourceType", f"expected a Claim resource, not {kind!r}")
        claims.append(_claim(res, f"{source}:{path}", len(claims)))
    if not claims:
        raise ClaimInputError(source, "no Claim resources")
    return claims


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "text",
        int: "a number",
        float: "a number",
        bool: "true or false",
    }.get(type(value), "null")


def _obj(parent: dict, key: str, where: str) -> dict:
    """``parent[key]`` as an object ({} when absent); any other type is an input error at its path."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ClaimInputError(f"{where}.{key}", f"must be an object, not {_kind(value)}")
    return value


def _list(parent: dict, key: str, where: str) -> list[dict]:
    """``parent[key]`` as a list of objects ([] when absent), or an input error at its path."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ClaimInputError(f"{where}.{key}", f"must be a list, not {_kind(value)}")
    for i, v in enumerate(value):
        if not isinstance(v, dict):
            raise ClaimInputError(f"{where}.{key}[{i}]", f"must be an object, not {_kind(v)}")
    return value


def _code(concept: dict, where: str) -> str:
    codings = _list(concept, "coding", where)
    if not codings:
        return ""
    code = codings[0].get("code")
    if code is not None and not isinstance(code, str):
        raise ClaimInputError(f"{where}.coding[0].code", f"must be text, not {_kind(code)}")
    return (code or "").strip().upper()


NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
CARE_TEAM_ROLES = {
    "primary": "rendering",
    "rendering": "rendering",
    "performing": "rendering",
    "referring": "referring",
}


def _care_team_npis(res: dict, where: str, f: Fields) -> dict[str, str | None]:
    """The rendering and referring NPIs of a Claim (see the module's mapping)."""
    out: dict[str, str | None] = {"rendering": None, "referring": None}
    for i, member in enumerate(_list(res, "careTeam", where)):
        at = f"{where}.careTeam[{i}]"
        role = CARE_TEAM_ROLES.get(_code(_obj(member, "role", at), f"{at}.role").lower())
        if role is None or out[role] is not None:
            continue
        ident = _obj(_obj(member, "provider", at), "identifier", f"{at}.provider")
        out[role] = f.text(ident.get("value"), f"{at}.provider.identifier.value", f"{role}_npi")
    if out["referring"] is None:
        ident = _obj(_obj(res, "referral", where), "identifier", f"{where}.referral")
        if ident.get("system") == NPI_SYSTEM:
            out["referring"] = f.text(ident.get("value"), f"{where}.referral.identifier.value", "referring_npi")
    return out


def _claim(res: dict, where: str, index: int) -> Claim:
    f = Fields()
    diagnoses: list[str] = []
    sequence_to_position: dict[Any, int] = {}
    found = _list(res, "diagnosis", where)
    f.limits(where, len(_list(res, "item", where)), len(found))

    def sequence(d: dict, i: int) -> int:
        s = d.get("sequence", i + 1)
        if isinstance(s, bool) or not isinstance(s, int):
            raise ClaimInputError(f"{where}.diagnosis[{i}].sequence", f"must be a whole number, not {_kind(s)}")
        return s

    order = sorted(((sequence(d, i), i, d) for i, d in enumerate(found)), key=lambda t: t[:2])
    for seq, i, d in order:
        at = f"{where}.diagnosis[{i}]"
        code = _code(_obj(d, "diagnosisCodeableConcept", at), f"{at}.diagnosisCodeableConcept")
        if not code:
            f.problem(at, "diagnoses", "a diagnosis without an ICD-10-CM code")
            continue
        diagnoses.append(code)
        sequence_to_position[seq] = len(diagnoses)
    items = _list(res, "item", where)
    if not items:
        raise ClaimInputError(f"{where}.item", "a Claim needs items")
    lines, pos, zip_code = [], None, None
    for n, item in enumerate(items, start=1):
        at = f"{where}.item[{n - 1}]"
        mods = [_code(m, f"{at}.modifier[{i}]") for i, m in enumerate(_list(item, "modifier", at))]
        pointers = []
        seqs = item.get("diagnosisSequence") or []
        if not isinstance(seqs, list):
            raise ClaimInputError(f"{at}.diagnosisSequence", f"must be a list, not {_kind(seqs)}")
        for s in seqs:
            if not isinstance(s, bool) and isinstance(s, int) and s in sequence_to_position:
                pointers.append(sequence_to_position[s])
            else:
                f.problem(f"{at}.diagnosisSequence", "pointers", f"no diagnosis has sequence {_shown(s)}", n)
        money = _obj(item, "net", at) or _obj(item, "unitPrice", at)
        served = item.get("servicedDate") or _obj(item, "servicedPeriod", at).get("start")
        pos = pos or _code(_obj(item, "locationCodeableConcept", at), f"{at}.locationCodeableConcept") or None
        postal = _obj(item, "locationAddress", at).get("postalCode")
        zip_code = zip_code or f.text(postal, f"{at}.locationAddress.postalCode", "zip")
        lines.append(
            Line(
                line=n,
                code=f.code(
                    _code(_obj(item, "productOrService", at), f"{at}.productOrService"), f"{at}.productOrService", n
                ),
                modifiers=f.modifiers(mods, f"{at}.modifier", n),
                units=f.units(_obj(item, "quantity", at).get("value"), f"{at}.quantity.value", n),
                pointers=tuple(pointers),
                charge=f.charge(money.get("value"), f"{at}.net.value", n),
                date=f.day(served, f"{at}.servicedDate", "date", n),
            )
        )
    provider = f.text(
        _obj(_obj(res, "provider", where), "identifier", f"{where}.provider").get("value"),
        f"{where}.provider.identifier.value",
        "provider",
    )
    team = _care_team_npis(res, where, f)
    start = _obj(res, "billablePeriod", where).get("start")
    claim_id = f.text(res.get("id"), f"{where}.id", "id")
    return Claim(
        id=claim_id or str(index + 1),
        lines=tuple(lines),
        date=f.day(start[:10] if isinstance(start, str) else start, f"{where}.billablePeriod.start", "date"),
        place_of_service=pos,
        provider=provider,
        zip_code=zip_code[:5] if zip_code else None,
        diagnoses=tuple(diagnoses),
        problems=tuple(f.problems),
        billing_npi=provider,
        rendering_npi=team["rendering"],
        referring_npi=team["referring"],
    )
