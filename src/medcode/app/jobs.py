"""The job board (CareerCenter): employers post jobs, coders search them and apply (see ``job_apply``).

Search words are stemmed with the search engine's stemmer (``medcode.language.words``) and kept in the
``job_words`` table beside tags for the filters (``c:cpc`` a credential, ``m:remote`` the work mode,
``s:<specialty>``); each process holds them in memory (``job_index``, checked against the database on every
search) and a search picks the open jobs (not expired, not hidden) having every word, newest first.
Descriptions are Markdown rendered with raw HTML off and then sanitised with nh3 (an allow-list).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from medcode.app.job_index import index_of
from medcode.app.models import User
from medcode.app.models_jobs import PAY_PERIODS, SETTINGS, WORK_MODES, Job, JobWord
from medcode.language.words import stem, words

CREDENTIALS = ("CPC", "CCS", "CCS-P", "RHIT", "RHIA", "CRC", "COC", "CPB", "CPMA", "CIC", "CCA", "CDIP", "CCDS")
HOURS_A_YEAR = 2080
DESCRIPTION_MAX = 20_000
DAY = 86400
MAX_DAYS = 365
PAGE = 20
MAX_ID = 2**31 - 1  # a larger id is no job (and no integer of the database)
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "h2", "h3", "h4", "blockquote", "code", "pre", "a", "hr"}
_TAGS |= {"table", "thead", "tbody", "tr", "th", "td"}
_SPECIALTY = re.compile(r"[^a-z0-9]+")


class JobError(ValueError):
    """Input the job board refuses; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class JobInput:
    title: str
    employer_name: str
    work_mode: str
    location: str
    credentials: tuple[str, ...]
    specialty: str
    setting: str
    pay_min: int | None
    pay_max: int | None
    pay_period: str
    description: str
    days: int = 30  # open for this many days


@dataclass(frozen=True)
class JobView:
    id: int
    employer_id: int
    title: str
    employer_name: str
    work_mode: str
    location: str
    credentials: list[str]
    specialty: str
    setting: str
    pay_min: int | None
    pay_max: int | None
    pay_period: str
    description: str
    description_html: str
    created_at: int
    expires_at: int
    hidden: bool
    open: bool


@dataclass(frozen=True)
class Filters:
    q: str = ""
    credential: str = ""
    work_mode: str = ""  # remote | hybrid | onsite ("" = any)
    specialty: str = ""
    pay_min: int | None = None  # a year (hourly pay counted at 2,080 hours)


def render_markdown(text: str) -> str:
    """Markdown to HTML with raw HTML off, then through nh3's allow-list (links get rel=noopener nofollow)."""
    html = _md.render(text)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def specialty_key(text: str) -> str:
    return _SPECIALTY.sub(" ", text.lower()).strip()


def credential_list(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Credentials named by a comma list (or a list), upper case, known ones only; JobError otherwise."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        name = item.strip().upper()
        if not name:
            continue
        if name not in CREDENTIALS:
            raise JobError("credentials", f"unknown credential {name[:20]!r} (known: {', '.join(CREDENTIALS)})")
        if name not in out:
            out.append(name)
    return tuple(out)


def _text(field: str, value: str, most: int, *, required: bool = True) -> str:
    value = " ".join(value.split())
    if required and not value:
        raise JobError(field, f"{field.replace('_', ' ')} is required")
    if len(value) > most:
        raise JobError(field, f"{field.replace('_', ' ')} is longer than {most} characters")
    return value


def checked(data: JobInput) -> JobInput:
    """The input tidied (spaces, case) or JobError naming the first field at fault."""
    if data.work_mode not in WORK_MODES:
        raise JobError("work_mode", f"work mode is one of {', '.join(WORK_MODES)}")
    if data.setting not in SETTINGS:
        raise JobError("setting", f"setting is one of {', '.join(SETTINGS)}")
    if data.pay_period not in PAY_PERIODS:
        raise JobError("pay_period", f"pay period is one of {', '.join(PAY_PERIODS)}")
    for field, pay in (("pay_min", data.pay_min), ("pay_max", data.pay_max)):
        if pay is not None and not 0 < pay <= 10_000_000:
            raise JobError(field, "pay is a whole number of dollars from 1 to 10,000,000")
    if data.pay_min is not None and data.pay_max is not None and data.pay_min > data.pay_max:
        raise JobError("pay_max", "the top of the pay range is below its bottom")
    if not 1 <= data.days <= MAX_DAYS:
        raise JobError("days", f"a job is open for 1 to {MAX_DAYS} days")
    if not data.description.strip():
        raise JobError("description", "description is required")
    if len(data.description) > DESCRIPTION_MAX:
        raise JobError("description", f"description is longer than {DESCRIPTION_MAX:,} characters")
    return JobInput(
        title=_text("title", data.title, 200),
        employer_name=_text("employer_name", data.employer_name, 200),
        work_mode=data.work_mode,
        location=_text("location", data.location, 200, required=data.work_mode != "remote"),
        credentials=credential_list(data.credentials),
        specialty=_text("specialty", data.specialty, 100, required=False),
        setting=data.setting,
        pay_min=data.pay_min,
        pay_max=data.pay_max,
        pay_period=data.pay_period,
        description=data.description.replace("\r\n", "\n"),
        days=data.days,
    )


def _pay_year(data: JobInput) -> int | None:
    top = data.pay_max if data.pay_max is not None else data.pay_min
    if top is None:
        return None
    return top * HOURS_A_YEAR if data.pay_period == "hour" else top


def _words(data: JobInput) -> set[str]:
    text = " ".join((data.title, data.employer_name, data.location, data.specialty, data.setting, data.description))
    out = {stem(w)[:64] for w in words(text)}
    out |= {f"c:{c.lower()}" for c in data.credentials}
    out.add(f"m:{data.work_mode}")
    if data.specialty:
        out.add(f"s:{specialty_key(data.specialty)}"[:64])
    return out


def query_stems(q: str) -> list[str]:
    """The stems a search looks for (every one must be found), at most 12."""
    return sorted({stem(w)[:64] for w in words(q)})[:12]


def view(job: Job, now: int | None = None) -> JobView:
    now = int(time.time()) if now is None else now
    return JobView(
        id=job.id,
        employer_id=job.employer_id,
        title=job.title,
        employer_name=job.employer_name,
        work_mode=job.work_mode,
        location=job.location,
        credentials=[c for c in job.credentials.split(",") if c],
        specialty=job.specialty,
        setting=job.setting,
        pay_min=job.pay_min,
        pay_max=job.pay_max,
        pay_period=job.pay_period,
        description=job.description,
        description_html=job.description_html,
        created_at=job.created_at,
        expires_at=job.expires_at,
        hidden=job.hidden,
        open=not job.hidden and job.expires_at > now,
    )


def post_job(db: Engine, employer: User, data: JobInput, now: int | None = None) -> JobView:
    """A new job of an employer (or admin); JobError for input it refuses, PermissionError for other roles."""
    return post_many(db, employer, [data], now)[0]


def post_many(db: Engine, employer: User, items: list[JobInput], now: int | None = None) -> list[JobView]:
    """Post several jobs in one transaction (the first refused input refuses them all)."""
    if employer.role not in ("employer", "admin"):
        raise PermissionError("only employers post jobs")
    now = int(time.time()) if now is None else now
    rows = [(_row(employer, d, now), d) for d in map(checked, items)]
    with Session(db) as s, s.begin():
        s.add_all(job for job, _ in rows)
        s.flush()
        s.add_all(JobWord(word=w, job_id=job.id) for job, d in rows for w in _words(d))
        s.flush()
        return [view(job, now) for job, _ in rows]


def _row(employer: User, data: JobInput, now: int) -> Job:
    return Job(
        employer_id=employer.id,
        title=data.title,
        employer_name=data.employer_name,
        work_mode=data.work_mode,
        location=data.location,
        credentials=",".join(data.credentials),
        specialty=data.specialty,
        setting=data.setting,
        pay_min=data.pay_min,
        pay_max=data.pay_max,
        pay_period=data.pay_period,
        pay_year=_pay_year(data),
        description=data.description,
        description_html=render_markdown(data.description),
        created_at=now,
        expires_at=now + data.days * DAY,
        hidden=False,
    )


def get_job(db: Engine, job_id: int, viewer: User | None = None) -> JobView | None:
    """A job; a hidden one only for its employer and admins (an expired one is shown, marked closed)."""
    if not 0 < job_id <= MAX_ID:
        return None
    with Session(db) as s:
        job = s.get(Job, job_id)
        if job is None:
            return None
        if job.hidden and not (viewer and (viewer.role == "admin" or viewer.id == job.employer_id)):
            return None
        return view(job)


def search(
    db: Engine, filters: Filters, offset: int = 0, limit: int = PAGE, now: int | None = None
) -> tuple[int, list[JobView]]:
    """(how many open jobs match, one page of them newest first). Every word must match."""
    now = int(time.time()) if now is None else now
    wanted = query_stems(filters.q)
    if filters.credential:
        wanted.append(f"c:{filters.credential.strip().lower()}")
    if filters.work_mode:
        wanted.append(f"m:{filters.work_mode}")
    if filters.specialty.strip():
        wanted.append(f"s:{specialty_key(filters.specialty)}"[:64])
    with db.connect() as conn:  # the words in memory (job_index), then the page's jobs by id
        total, page = index_of(db).search(conn, wanted, now, filters.pay_min, offset, limit)
        if not page:
            return total, []
        rows = {r.id: r for r in conn.execute(select(*Job.__table__.columns).where(Job.id.in_(page)))}
    return total, [view(rows[i], now) for i in page if i in rows]  # type: ignore[arg-type]


def employer_jobs(db: Engine, employer: User) -> list[JobView]:
    with Session(db) as s:
        rows = s.scalars(select(Job).where(Job.employer_id == employer.id).order_by(Job.created_at.desc()))
        return [view(j) for j in rows]


def open_jobs(db: Engine, limit: int = 50) -> list[JobView]:
    """The newest open jobs (the feeds)."""
    return search(db, Filters(), 0, limit)[1]


def set_hidden(db: Engine, admin: User, job_id: int, hidden: bool) -> bool:
    if admin.role != "admin":
        raise PermissionError("only admins moderate jobs")
    if not 0 < job_id <= MAX_ID:
        return False
    with Session(db) as s, s.begin():
        job = s.get(Job, job_id)
        if job is None:
            return False
        job.hidden = hidden
        return True


def delete_job(db: Engine, actor: User, job_id: int) -> list[str]:
    """Remove a job (admins, or its employer) with its applications; the resume files to delete are returned."""
    from medcode.app.models_jobs import Application

    if not 0 < job_id <= MAX_ID:
        return []
    with Session(db) as s, s.begin():
        job = s.get(Job, job_id)
        if job is None:
            return []
        if actor.role != "admin" and actor.id != job.employer_id:
            raise PermissionError("only admins and the job's employer delete a job")
        files = list(s.scalars(select(Application.resume_path).where(Application.job_id == job_id)))
        s.execute(delete(Application).where(Application.job_id == job_id))
        s.execute(delete(JobWord).where(JobWord.job_id == job_id))
        s.delete(job)
        return files
