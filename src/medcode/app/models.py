"""Tables of the application database (SQLAlchemy 2, typed). Times are whole seconds since the epoch (UTC).

The schema itself is made by the migrations in ``migrations/versions``; these classes must match them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from medcode.app.names import PLAN_NAMES, ROLES

__all__ = [
    "PLAN_NAMES",
    "ROLES",
    "ApiKey",
    "Base",
    "EmailToken",
    "KeyMinute",
    "LoginFailure",
    "PageView",
    "SessionRow",
    "User",
]

PURPOSES = ("verify", "reset")
EMAIL_MAX = 254


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)  # lower-cased
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="member")
    plan: Mapped[str] = mapped_column(String(16), default="member")
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    password_changed_at: Mapped[int] = mapped_column(BigInteger)

    def __repr__(self) -> str:  # no hash in logs
        return f"User(id={self.id}, role={self.role!r}, plan={self.plan!r})"


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)


class EmailToken(Base):
    __tablename__ = "email_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class KeyMinute(Base):
    """Requests of one key in one minute: the rate limit reads this minute; usage per day sums the minutes."""

    __tablename__ = "key_minutes"

    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds // 60
    count: Mapped[int] = mapped_column(Integer, default=0)


class PageView(Base):
    """A distinct counted page seen by a subject (``u:<user id>`` or ``a:<address hash>``) in a quota window."""

    __tablename__ = "page_views"

    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds // window length
    path: Mapped[str] = mapped_column(String(300), primary_key=True)


class LoginFailure(Base):
    """Failed logins of an e-mail (``e:<email>``) or an address (``a:<hash>``) in a 15-minute window."""

    __tablename__ = "login_failures"

    subject: Mapped[str] = mapped_column(String(300), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
