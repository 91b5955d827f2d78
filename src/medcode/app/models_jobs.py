"""Tables of the job board (CareerCenter): jobs, the stemmed words and tags they are found by, applications.

Times are whole seconds since the epoch (UTC). The schema is made by migration ``0003_jobs``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medcode.app.models import Base

WORK_MODES = ("remote", "hybrid", "onsite")
SETTINGS = ("professional", "facility", "risk adjustment", "auditing")
PAY_PERIODS = ("hour", "year")
STATES = ("submitted", "reviewed", "interview", "offer", "rejected", "withdrawn")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_open", "hidden", "expires_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    employer_name: Mapped[str] = mapped_column(String(200))
    work_mode: Mapped[str] = mapped_column(String(16))  # remote | hybrid | onsite
    location: Mapped[str] = mapped_column(String(200))
    credentials: Mapped[str] = mapped_column(String(300))  # "CPC,CCS-P" (upper case, comma separated)
    specialty: Mapped[str] = mapped_column(String(100))
    setting: Mapped[str] = mapped_column(String(32))
    pay_min: Mapped[int | None] = mapped_column(Integer, nullable=True)  # whole dollars per pay_period
    pay_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pay_period: Mapped[str] = mapped_column(String(8))  # hour | year
    pay_year: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the top of the range a year (2,080 h)
    description: Mapped[str] = mapped_column(Text)  # Markdown as written
    description_html: Mapped[str] = mapped_column(Text)  # rendered without raw HTML, then sanitised
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)


class JobWord(Base):
    """One stemmed word of a job (title, employer, location, specialty, setting, description) or one tag
    (``c:cpc`` a credential, ``m:remote`` the work mode, ``s:cardiology`` the specialty)."""

    __tablename__ = "job_words"

    word: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True, index=True)


class Application(Base):
    __tablename__ = "job_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    cover_note: Mapped[str] = mapped_column(Text)
    resume_path: Mapped[str] = mapped_column(String(100))  # a random file name under MEDCODE_HOME/resumes
    resume_name: Mapped[str] = mapped_column(String(200))  # the name it was sent with (shown, never a path)
    resume_type: Mapped[str] = mapped_column(String(8))  # pdf | docx
    state: Mapped[str] = mapped_column(String(16), default="submitted")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
