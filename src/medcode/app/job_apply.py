"""Applications to jobs: a cover note and a resume (PDF or DOCX, known by its content, size-limited), kept
under ``MEDCODE_HOME/resumes`` with a random name (never under the web root), shown only to the job's
employer and the applicant. Employers move applications through their states; applicants may withdraw.
"""

from __future__ import annotations

import io
import os
import secrets
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from medcode.app.jobs import MAX_ID, JobError
from medcode.app.models import User
from medcode.app.models_jobs import STATES, Application, Job

COVER_MAX = 5_000
RESUME_MB = 5
TYPES = {"pdf": "application/pdf", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
EMPLOYER_STATES = ("submitted", "reviewed", "interview", "offer", "rejected")
PRUNE_EVERY = 3600.0
_pruned = -PRUNE_EVERY


@dataclass(frozen=True)
class ApplicationView:
    id: int
    job_id: int
    job_title: str
    user_id: int
    applicant: str  # the applicant's e-mail address
    cover_note: str
    resume_name: str
    resume_type: str
    state: str
    created_at: int
    updated_at: int


def resume_limit(mb: int = RESUME_MB) -> int:
    """Bytes of the largest resume, from megabytes (the setting MEDCODE_RESUME_MAX_MB)."""
    return mb << 20


def resume_kind(data: bytes) -> str | None:
    """``pdf`` or ``docx`` by the content itself (never the name or the declared type), else None."""
    if data[:5] == b"%PDF-":
        return "pdf"
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = set(z.namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        if "word/document.xml" in names and "[Content_Types].xml" in names:
            return "docx"
    return None


def resume_folder(home: Path) -> Path:
    folder = Path(home) / "resumes"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _safe_name(name: str, kind: str) -> str:
    base = "".join(ch for ch in Path(name.replace("\\", "/")).name if ch.isprintable() and ch not in '"<>|:*?')
    base = base.strip()[:150] or "resume"
    return base if base.lower().endswith("." + kind) else f"{base}.{kind}"


def apply(
    db: Engine,
    home: Path,
    job_id: int,
    user: User,
    cover_note: str,
    filename: str,
    data: bytes,
    limit: int = RESUME_MB << 20,
) -> ApplicationView:
    """Apply to an open job; JobError (field ``resume`` or ``cover_note``) for input it refuses (a resume over
    ``limit`` bytes among it), LookupError for a job that is not open, PermissionError when the user is the
    job's employer."""
    if len(cover_note) > COVER_MAX:
        raise JobError("cover_note", f"the cover note is longer than {COVER_MAX:,} characters")
    if len(data) > limit:
        raise JobError("resume", f"the resume is larger than {limit >> 20} MB")
    kind = resume_kind(data)
    if kind is None:
        raise JobError("resume", "the resume is not a PDF or a Word (.docx) file")
    now = int(time.time())
    if not 0 < job_id <= MAX_ID:
        raise LookupError("this job is not open")
    with Session(db) as s:
        job = s.get(Job, job_id)
        if job is None or job.hidden or job.expires_at <= now:
            raise LookupError("this job is not open")
        if job.employer_id == user.id:
            raise PermissionError("an employer does not apply to their own job")
        title = job.title
    stored = f"{secrets.token_hex(16)}.{kind}"
    path = resume_folder(home) / stored
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    row = Application(
        job_id=job_id,
        user_id=user.id,
        cover_note=cover_note.replace("\r\n", "\n").strip(),
        resume_path=stored,
        resume_name=_safe_name(filename, kind),
        resume_type=kind,
        state="submitted",
        created_at=now,
        updated_at=now,
    )
    try:
        with Session(db) as s, s.begin():
            s.add(row)
            s.flush()
            made = _view(row, title, user.email)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    _prune_now(db, home)
    return made


def _view(row: Application, title: str, email: str) -> ApplicationView:
    return ApplicationView(
        id=row.id,
        job_id=row.job_id,
        job_title=title,
        user_id=row.user_id,
        applicant=email,
        cover_note=row.cover_note,
        resume_name=row.resume_name,
        resume_type=row.resume_type,
        state=row.state,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


_ROWS = select(Application, Job.title, Job.employer_id, User.email).join(Job, Job.id == Application.job_id)
_ROWS = _ROWS.join(User, User.id == Application.user_id)


def for_job(db: Engine, job_id: int, viewer: User) -> list[ApplicationView] | None:
    """The applications to a job, for its employer or an admin (None: no such job, or not theirs)."""
    if not 0 < job_id <= MAX_ID:
        return None
    with Session(db) as s:
        job = s.get(Job, job_id)
        if job is None or (viewer.role != "admin" and job.employer_id != viewer.id):
            return None
        rows = s.execute(_ROWS.where(Application.job_id == job_id).order_by(Application.created_at.desc()))
        return [_view(a, title, email) for a, title, _, email in rows]


def for_employer(db: Engine, employer: User) -> dict[int, list[ApplicationView]]:
    """Applications to each of an employer's jobs, by job id."""
    out: dict[int, list[ApplicationView]] = {}
    with Session(db) as s:
        rows = s.execute(_ROWS.where(Job.employer_id == employer.id).order_by(Application.created_at.desc()))
        for a, title, _, email in rows:
            out.setdefault(a.job_id, []).append(_view(a, title, email))
    return out


def mine(db: Engine, user: User) -> list[ApplicationView]:
    with Session(db) as s:
        rows = s.execute(_ROWS.where(Application.user_id == user.id).order_by(Application.created_at.desc()))
        return [_view(a, title, email) for a, title, _, email in rows]


def set_state(db: Engine, actor: User, application_id: int, state: str) -> ApplicationView | None:
    """Move an application: its job's employer (or an admin) to any employer state, the applicant to
    ``withdrawn``. None: no such application or not theirs; JobError: a state they may not set."""
    if state not in STATES:
        raise JobError("state", f"state is one of {', '.join(STATES)}")
    if not 0 < application_id <= MAX_ID:
        return None
    with Session(db) as s, s.begin():
        found = s.execute(_ROWS.where(Application.id == application_id)).first()
        if found is None:
            return None
        row, title, employer_id, email = found
        is_employer = actor.role == "admin" or actor.id == employer_id
        if not is_employer and actor.id != row.user_id:
            return None
        allowed = (EMPLOYER_STATES if is_employer else ()) + (("withdrawn",) if actor.id == row.user_id else ())
        if state not in allowed:
            raise JobError("state", f"you may set: {', '.join(allowed)}")
        row.state, row.updated_at = state, int(time.time())
        s.flush()
        return _view(row, title, email)


def resume(db: Engine, home: Path, application_id: int, viewer: User) -> tuple[Path, str, str] | None:
    """(file, name, content type) of an application's resume for the job's employer, the applicant or an
    admin; None for anyone else (and for no such application)."""
    if not 0 < application_id <= MAX_ID:
        return None
    with Session(db) as s:
        found = s.execute(_ROWS.where(Application.id == application_id)).first()
    if found is None:
        return None
    row, _, employer_id, _ = found
    if viewer.id not in (employer_id, row.user_id) and viewer.role != "admin":
        return None
    path = resume_folder(home) / row.resume_path
    if not path.is_file():
        return None
    return path, row.resume_name, TYPES[row.resume_type]


def prune_orphans(db: Engine, home: Path, grace: float = 600.0) -> int:
    """Delete resume files no application names (left by a removed account, whose applications the database
    removes with it) that are older than ``grace`` seconds (a file is written just before its row); how many."""
    folder = resume_folder(home)
    with Session(db) as s:
        kept = set(s.scalars(select(Application.resume_path)))
    cutoff, gone = time.time() - grace, 0
    for path in folder.iterdir():
        if path.name not in kept and path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            gone += 1
    return gone


def _prune_now(db: Engine, home: Path) -> None:
    """At most every ``PRUNE_EVERY`` seconds per process (after an application is kept)."""
    global _pruned
    if time.monotonic() - _pruned >= PRUNE_EVERY:
        _pruned = time.monotonic()
        prune_orphans(db, home)


def remove_files(home: Path, names: list[str]) -> None:
    for name in names:
        (resume_folder(home) / Path(name).name).unlink(missing_ok=True)
