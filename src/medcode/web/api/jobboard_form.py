"""The multipart form of a job application (the API and the job page send the same): a cover note, a resume
file and, from the page, the CSRF field. The body is refused as soon as it passes the resume limit plus room for
the rest; the resume's kind is checked later, by its content (``medcode.app.job_apply``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from medcode.web.pages.upload import BadForm, TooLarge, read_body

FORM_OVERHEAD = 64 * 1024  # part headers, boundaries and the cover note beyond the resume


@dataclasses.dataclass(frozen=True)
class ApplicationForm:
    cover_note: str
    filename: str
    data: bytes
    csrf: str  # the form field of the site's own page (the API sends X-CSRF-Token instead)


async def read_application(request: Request) -> ApplicationForm:
    """The multipart form of an application; TooLarge past the resume limit, BadForm for a body that is not
    such a form."""
    limit = request.app.state.resume_limit
    body = await read_body(request, limit + FORM_OVERHEAD)
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    inner = Request(request.scope, receive)
    try:
        form = await inner.form(max_files=1, max_fields=8, max_part_size=FORM_OVERHEAD)
    except Exception as exc:  # python-multipart and Starlette raise several kinds for a malformed body
        raise BadForm(f"not a multipart form with a resume: {type(exc).__name__}") from None
    upload, note, csrf = form.get("resume"), form.get("cover_note", ""), form.get("csrf", "")
    if not isinstance(upload, UploadFile):
        raise BadForm("the form has no resume file")
    data = await upload.read()
    if len(data) > limit:
        raise TooLarge("the resume", limit)
    return ApplicationForm(
        note if isinstance(note, str) else "", upload.filename or "resume", data, csrf if isinstance(csrf, str) else ""
    )
