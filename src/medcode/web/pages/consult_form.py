"""The ``/consult`` form: a multipart body read up to a limit, and the checks of an attached note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

NOTE_TYPES = {".txt": "text/plain", ".pdf": "application/pdf"}


async def read_multipart(request: Request, limit: int) -> dict[str, Any] | None:
    """The form of ``/consult`` (fields and the note file), or None when the body is over ``limit`` bytes."""
    if int(request.headers.get("content-length") or 0) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    parsed = await Request(request.scope, replay).form(max_files=1, max_fields=10)
    out: dict[str, Any] = {}
    for name, value in parsed.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            if data:
                out[name] = (Path(value.filename or "note").name[:200], data)
        else:
            out.setdefault(name, value)
    return out


def check_note(name: str, data: bytes, limit: int) -> tuple[str, str, bytes] | str:
    """(file name, type, bytes) of an attached note, or why it is refused: a .txt in UTF-8 or a PDF."""
    suffix = Path(name).suffix.lower()
    if suffix not in NOTE_TYPES:
        return "A note must be a .txt or .pdf file."
    if len(data) > limit:
        return f"The note is larger than {limit >> 20} MB."
    if suffix == ".pdf" and not data.startswith(b"%PDF-"):
        return "This file is not a PDF."
    if suffix == ".txt":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "A text note must be UTF-8 text."
    return name, NOTE_TYPES[suffix], data
