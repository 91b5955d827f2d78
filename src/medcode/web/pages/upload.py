"""The claim checker's form, read as a stream: the uploaded file goes straight to disk (never
whole into memory), every field has a cap, and reading stops as soon as the body passes its cap.

Starlette's ``request.form()`` keeps text fields in memory up to its part limit and spools files
through a temporary file of its own; this reader writes the file part into the job's folder and
counts every byte it is sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs

import anyio
from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FORMAT = 64  # bytes of the format field
MAX_OTHER = 4096  # bytes of a field the form does not have (read and dropped)
MAX_PARTS = 16
OVERHEAD = 64 * 1024  # part headers and boundaries, beyond the file and the text


class TooLarge(Exception):
    """The body, the file or the text is over its cap (answered with 413)."""

    def __init__(self, what: str, limit: int):
        self.what = what
        self.limit = limit
        super().__init__(f"{what} is over the limit of {limit:,} bytes")


class BadForm(ValueError):
    """A body that is not the claim checker's form (answered with 415 or 422)."""

    def __init__(self, message: str, status: int = 422):
        self.status = status
        super().__init__(message)


@dataclass
class CheckForm:
    text: str = ""
    fmt: str = "auto"
    upload: Path | None = None  # where the file part was written
    filename: str = ""  # its name as sent (without folders)
    size: int = 0  # bytes of the file
    fields: dict[str, bytes] = field(default_factory=dict)


def body_cap(max_file: int, max_text: int) -> int:
    return max_file + max_text + OVERHEAD


def check_length(request: Request, cap: int) -> None:
    """Refuses a body whose declared length is over ``cap`` before any of it is read."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadForm("Content-Length is not a number", 400)
        if int(declared) > cap:
            raise TooLarge("the body", cap)


async def read_body(request: Request, cap: int) -> bytes:
    """The whole body, refused as soon as it passes ``cap`` bytes (declared or counted)."""
    check_length(request, cap)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise TooLarge("the body", cap)
        chunks.append(chunk)
    return b"".join(chunks)


class _Part:
    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.filename: str | None = None
        self.data: list[bytes] = []
        self.size = 0


async def read_check_form(request: Request, *, max_file: int, max_text: int, place: Callable[[], Path]) -> CheckForm:
    """The form of ``POST /check``: ``text``, ``format`` and ``file``. ``place()`` is called when a
    file part starts and names the file to write it to (created 0600)."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    cap = body_cap(max_file, max_text)
    if kind == b"application/x-www-form-urlencoded":
        body = await read_body(request, max_text * 3 + MAX_FORMAT + 64)  # %XX triples a byte at most
        try:
            got = parse_qs(body.decode("ascii"), keep_blank_values=True, max_num_fields=MAX_PARTS, errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadForm(f"the form cannot be read: {exc}") from None
        out = CheckForm(fmt=(got.get("format") or ["auto"])[0][:MAX_FORMAT].strip() or "auto")
        text = (got.get("text") or [""])[0].removeprefix("\ufeff")
        if len(text.encode()) > max_text:
            raise TooLarge("the pasted text", max_text)
        out.text = text
        return out
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise BadForm("send the form as multipart/form-data or application/x-www-form-urlencoded", 415)
    check_length(request, cap)

    out = CheckForm()
    parts: list[_Part] = []
    events: list[tuple[str, int, bytes]] = []  # (what, index of the part, data), in the order parsed
    header: list[bytes] = [b"", b""]

    def on_part_begin() -> None:
        parts.append(_Part())
        events.append(("begin", len(parts) - 1, b""))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        parts[-1].headers[header[0].lower()] = header[1]
        header[0], header[1] = b"", b""

    def on_headers_finished() -> None:
        events.append(("headers", len(parts) - 1, b""))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        events.append(("data", len(parts) - 1, bytes(data[start:end])))

    def on_part_end() -> None:
        events.append(("end", len(parts) - 1, b""))

    parser = MultipartParser(
        options[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
        max_header_count=8,
        max_header_size=4096,
    )
    sink: IO[bytes] | None = None
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > cap:
                raise TooLarge("the body", cap)
            try:
                parser.write(chunk)
            except Exception as exc:  # python-multipart's own errors: a body that is not a form
                raise BadForm(f"the form cannot be read: {exc}") from None
            for what, index, data in events:
                part = parts[index]
                if what == "begin" and len(parts) > MAX_PARTS:
                    raise BadForm(f"the form has more than {MAX_PARTS} fields")
                elif what == "headers":
                    _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
                    part.name = disposition.get(b"name", b"").decode("utf-8", "replace")
                    if b"filename" in disposition:
                        part.filename = Path(
                            disposition[b"filename"].decode("utf-8", "replace").replace("\\", "/")
                        ).name
                    if part.name == "file" and part.filename and out.upload is None:
                        out.upload, out.filename = place(), part.filename
                        sink = os.fdopen(os.open(out.upload, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
                elif what == "data":
                    part.size += len(data)
                    if sink is not None and part.name == "file":
                        if part.size > max_file:
                            raise TooLarge("the file", max_file)
                        await anyio.to_thread.run_sync(sink.write, data)
                    else:
                        limit = {"text": max_text, "format": MAX_FORMAT}.get(part.name, MAX_OTHER)
                        if part.size > limit:
                            raise TooLarge(
                                "the pasted text" if part.name == "text" else f"the field {part.name!r}", limit
                            )
                        if part.name in ("text", "format"):
                            part.data.append(data)
                elif what == "end":
                    if sink is not None and part.name == "file":
                        sink.close()
                        sink, out.size = None, part.size
                    elif part.name in ("text", "format") and part.name not in out.fields:
                        out.fields[part.name] = b"".join(part.data)
                        part.data = []
            events.clear()
        parser.finalize()
    finally:
        if sink is not None:
            sink.close()
    out.text = body_text(out.fields.get("text", b""))
    out.fmt = out.fields.get("format", b"auto").decode("utf-8", "replace").strip() or "auto"
    return out


def body_text(data: bytes) -> str:
    """Form text as UTF-8 (a byte order mark dropped), or a clear error naming the byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadForm(f"pasted text: byte {exc.start} is not UTF-8") from None
