"""``/docs``: the API reference, rendered on the server from the OpenAPI schema (no script and
no files from another site; the machine-readable schema is ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)


def type_of(schema: dict[str, Any]) -> str:
    """A short reading of a JSON schema: ``integer 1–1000``, ``list of SearchHit``, ``string or null``."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(dict.fromkeys(type_of(s) for s in schema[key]))
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"map to {type_of(schema['additionalProperties'])}"
    bounds = [f"{'≥' if k == 'minimum' else '≤'} {schema[k]:,}" for k in ("minimum", "maximum") if k in schema]
    if "maxLength" in schema:
        bounds.append(f"at most {schema['maxLength']:,} characters")
    return " ".join([str(kind), *bounds]) if bounds else str(kind)


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [
                {
                    "name": p["name"],
                    "in": p["in"],
                    "required": p.get("required", False),
                    "type": type_of(p.get("schema", {})),
                    "default": p.get("schema", {}).get("default"),
                    "description": p.get("description") or p.get("schema", {}).get("description", ""),
                }
                for p in op.get("parameters", [])
            ]
            body = list(op.get("requestBody", {}).get("content", {}))
            answers = [
                {
                    "status": status,
                    "description": r.get("description", ""),
                    "type": next((type_of(c.get("schema", {})) for c in r.get("content", {}).values()), ""),
                }
                for status, r in sorted(op.get("responses", {}).items())
            ]
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": params,
                    "body": body,
                    "answers": answers,
                    "anchor": op.get("operationId", f"{method}-{path}"),
                }
            )
    return out


def schemas(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, s in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(s.get("required", ()))
        fields = [
            {"name": k, "type": type_of(v), "required": k in required} for k, v in s.get("properties", {}).items()
        ]
        out.append({"name": name, "fields": fields})
    return out


@router.get("/docs")
def api_docs(request: Request) -> Response:
    site = request.app.state.pages
    spec = request.app.openapi()
    return site.cached(
        request,
        "/docs",
        lambda: (
            site.html(request, "api_docs.html", spec=spec, operations=operations(spec), schemas=schemas(spec)).encode(),
            {},
        ),
    )
