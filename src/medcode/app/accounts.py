"""Accounts: register, log in (Argon2id, limited per account and per address), sessions, e-mail tokens,
passwords, roles and plans. Every function takes the application database engine; nothing is global."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medcode.app import limits
from medcode.app.models import EMAIL_MAX, PLAN_NAMES, PURPOSES, ROLES, EmailToken, PageView, SessionRow, User

PASSWORD_MIN, PASSWORD_MAX = 8, 1024
SESSION_SECONDS = 14 * 86400
TOKEN_SECONDS = {"verify": 48 * 3600, "reset": 3600}
ACCOUNT_FAILURES, ADDRESS_FAILURES = 10, 30  # failed logins allowed per LOGIN_WINDOW (15 minutes)
LAST_SEEN_EVERY = 300  # seconds between writes of a session's last_seen

_hasher = PasswordHasher()  # Argon2id with argon2-cffi's recommended parameters


class AccountError(ValueError):
    """Input an account function refuses; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class AccountExists(AccountError):
    """An account with this e-mail exists (the web answers 409)."""


DuplicateEmail = AccountExists


class LoginLimited(RuntimeError):
    """Too many failed logins for this account or address; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins: try again in {retry_after} seconds")
        self.retry_after = retry_after


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def address_subject(address: str) -> str:
    """The subject of a client address in counters (``a:`` + sha256: no address is stored)."""
    return "a:" + _sha(address or "-")[:40]


def normalize_email(email: str) -> str:
    """The stored form of an e-mail (trimmed, NFC, lower-cased), or AccountError on bad syntax.
    Unicode is allowed in the local part; the domain may be an IDN (checked through its ASCII form)."""
    if not isinstance(email, str):
        raise AccountError("email", "give an e-mail address")
    value = unicodedata.normalize("NFC", email.strip()).lower()
    if not value:
        raise AccountError("email", "give an e-mail address")
    if len(value) > EMAIL_MAX:
        raise AccountError("email", f"an e-mail address has at most {EMAIL_MAX} characters")
    if value.count("@") != 1 or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in value):
        raise AccountError("email", "this is not an e-mail address (name@example.org)")
    local, domain = value.split("@")
    if not local or len(local) > 64 or local.startswith(".") or local.endswith(".") or ".." in local:
        raise AccountError("email", "this is not an e-mail address (name@example.org)")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise AccountError("email", "the domain of this e-mail address is not valid") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or any(
        not label or len(label) > 63 or label.startswith("-") or label.endswith("-") for label in labels
    ):
        raise AccountError("email", "the domain of this e-mail address is not valid")
    if not all(ch.isalnum() or ch == "-" for label in labels for ch in label):
        raise AccountError("email", "the domain of this e-mail address is not valid")
    return value


def check_password(password: str, field: str = "password") -> str:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise AccountError(field, f"a password has at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountError(field, f"a password has at most {PASSWORD_MAX} characters")
    return password


def _check_name(value: str, names: tuple[str, ...], field: str) -> str:
    if value not in names:
        raise AccountError(field, f"{field} must be one of {', '.join(names)}, not {value!r}")
    return value


def register(
    db: Engine, email: str, password: str, *, verified: bool, role: str = "member", plan: str = "member"
) -> User:
    """A new account; AccountExists when the e-mail has one."""
    address = normalize_email(email)
    check_password(password)
    _check_name(role, ROLES, "role")
    _check_name(plan, PLAN_NAMES, "plan")
    now = int(time.time())
    user = User(
        email=address,
        password_hash=_hasher.hash(password),
        role=role,
        plan=plan,
        verified=verified,
        created_at=now,
        password_changed_at=now,
    )
    with Session(db, expire_on_commit=False) as s:
        s.add(user)
        try:
            s.commit()
        except IntegrityError:
            raise AccountExists("email", "an account with this e-mail exists") from None
    return user


def create_user(db: Engine, email: str, password: str, role: str = "member", plan: str = "member") -> User:
    """A verified account (``medcode admin create-user``)."""
    return register(db, email, password, verified=True, role=role, plan=plan)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _email_subject(email: str) -> str:
    value = unicodedata.normalize("NFC", str(email).strip()).lower()
    return "e:" + (value if len(value) <= EMAIL_MAX else _sha(value))


def authenticate(db: Engine, email: str, password: str, address: str) -> User | None:
    """The account when the password is right, else None (the same for an unknown e-mail, which still costs
    one hash verification). LoginLimited before any verification when the account had 10 failed logins in
    the window or the address 30. An unverified account is returned: the caller decides."""
    subjects = [_email_subject(email), address_subject(address)]
    now = time.time()
    counts = limits.login_failures(db, subjects, now)
    if counts[subjects[0]] >= ACCOUNT_FAILURES or counts[subjects[1]] >= ADDRESS_FAILURES:
        raise LoginLimited(max(1, limits.login_window_end(now) - int(now)))
    user = find_user(db, email)
    given = password if isinstance(password, str) and len(password) <= PASSWORD_MAX else ""  # never a right one
    ok = _verify(user.password_hash if user else _dummy_hash(), given) and bool(given)
    if user is None or not ok:
        limits.add_login_failure(db, subjects, now)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        _set_hash(db, user, password, changed=False)
    return user


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _set_hash(db: Engine, user: User, password: str, *, changed: bool = True) -> None:
    values: dict[str, object] = {"password_hash": _hasher.hash(password)}
    if changed:
        values["password_changed_at"] = int(time.time())
    with db.begin() as conn:
        conn.execute(update(User).where(User.id == user.id).values(**values))
    user.password_hash = str(values["password_hash"])


def find_user(db: Engine, email: str) -> User | None:
    try:
        address = normalize_email(email)
    except AccountError:
        return None
    with Session(db, expire_on_commit=False) as s:
        return s.scalars(select(User).where(User.email == address)).first()


def get_user(db: Engine, user_id: int) -> User | None:
    with Session(db, expire_on_commit=False) as s:
        return s.get(User, user_id)


def create_session(db: Engine, user: User) -> tuple[str, str]:
    """A new session: (cookie token, CSRF token). Only the token's sha256 is stored."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = int(time.time())
    with Session(db) as s:
        s.add(
            SessionRow(
                id=_sha(token),
                user_id=user.id,
                csrf=csrf,
                created_at=now,
                expires_at=now + SESSION_SECONDS,
                last_seen=now,
            )
        )
        s.commit()
    return token, csrf


def session_user(db: Engine, token: str) -> tuple[User, str] | None:
    """The account and CSRF token of a live session (None: unknown, ended or expired)."""
    if not token or len(token) > 200:
        return None
    now = int(time.time())
    sid = _sha(token)
    with db.connect() as conn:  # Core, not an ORM session: this runs on every request with a cookie
        row = conn.execute(_SESSION, {"sid": sid, "now": now}).first()
        if row is None:
            return None
        values = row._asdict()
        csrf, last_seen = values.pop("csrf"), values.pop("last_seen")
        if now - last_seen >= LAST_SEEN_EVERY:
            conn.execute(update(SessionRow).where(SessionRow.id == sid).values(last_seen=now))
            conn.commit()
    return User(**values), str(csrf)


_SESSION = (
    select(SessionRow.csrf, SessionRow.last_seen, *User.__table__.columns)
    .join(User, User.id == SessionRow.user_id)
    .where(SessionRow.id == bindparam("sid"), SessionRow.expires_at > bindparam("now"))
)


def end_session(db: Engine, token: str) -> None:
    with db.begin() as conn:
        conn.execute(delete(SessionRow).where(SessionRow.id == _sha(token or "")))


def end_sessions(db: Engine, user: User, *, keep_token: str | None = None) -> None:
    """End every session of an account (but the one of ``keep_token``)."""
    stmt = delete(SessionRow).where(SessionRow.user_id == user.id)
    if keep_token:
        stmt = stmt.where(SessionRow.id != _sha(keep_token))
    with db.begin() as conn:
        conn.execute(stmt)


def make_token(db: Engine, user: User, purpose: str) -> str:
    """A single-use token for a link in mail: verify (48 hours) or reset (1 hour)."""
    _check_name(purpose, PURPOSES, "purpose")
    token = secrets.token_urlsafe(32)
    with Session(db) as s:
        s.add(
            EmailToken(
                id=_sha(token), user_id=user.id, purpose=purpose, expires_at=int(time.time()) + TOKEN_SECONDS[purpose]
            )
        )
        s.commit()
    return token


def use_token(db: Engine, token: str, purpose: str) -> User | None:
    """Spend a token (once only, before it expires); its account, or None. A verify token marks the account
    verified."""
    if not token or len(token) > 200:
        return None
    now = int(time.time())
    tid = _sha(token)
    with db.begin() as conn:
        spent = conn.execute(
            update(EmailToken)
            .where(
                EmailToken.id == tid,
                EmailToken.purpose == purpose,
                EmailToken.used_at.is_(None),
                EmailToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(EmailToken.user_id)
        ).scalar_one_or_none()
        if spent is None:
            return None
        if purpose == "verify":
            conn.execute(update(User).where(User.id == spent).values(verified=True))
    return get_user(db, int(spent))


def change_password(db: Engine, user: User, old: str, new: str, *, keep_token: str | None = None) -> bool:
    """False when the old password is wrong; AccountError("new") for a bad new one. Ends the account's other
    sessions (all but ``keep_token``'s)."""
    check_password(new, "new")
    if not password_matches(db, user, old):
        return False
    _set_hash(db, user, new)
    end_sessions(db, user, keep_token=keep_token)
    return True


def password_matches(db: Engine, user: User, password: str) -> bool:
    """Whether ``password`` is the account's password now."""
    current = get_user(db, user.id)
    return current is not None and _verify(current.password_hash, password if isinstance(password, str) else "")


def reset_password(db: Engine, token: str, new: str) -> User | None:
    """Set a new password with a reset token (None: the token is unknown, used or expired); ends every
    session of the account; a reset also proves the e-mail, so the account is verified."""
    check_password(new)
    user = use_token(db, token, "reset")
    if user is None:
        return None
    _set_hash(db, user, new)
    with db.begin() as conn:
        conn.execute(update(User).where(User.id == user.id).values(verified=True))
    user.verified = True
    end_sessions(db, user)
    return user


def delete_account(db: Engine, user: User, password: str | None = None) -> bool:
    """Delete an account with its sessions, tokens, keys, key usage and page views. With ``password`` (a
    user deleting their own account) nothing is deleted and False returned when it is wrong."""
    if password is not None and not password_matches(db, user, password):
        return False
    with db.begin() as conn:
        conn.execute(delete(PageView).where(PageView.subject == f"u:{user.id}"))
        conn.execute(delete(User).where(User.id == user.id))  # the rest goes by ON DELETE CASCADE
    return True


def set_role(db: Engine, user_id: int, role: str) -> User | None:
    return _set(db, user_id, role=_check_name(role, ROLES, "role"))


def set_plan(db: Engine, user_id: int, plan: str) -> User | None:
    """Change an account's plan: the one call for an admin or a payment provider's webhook."""
    return _set(db, user_id, plan=_check_name(plan, PLAN_NAMES, "plan"))


def _set(db: Engine, user_id: int, **values: str) -> User | None:
    with db.begin() as conn:
        done = conn.execute(update(User).where(User.id == user_id).values(**values)).rowcount
    return get_user(db, user_id) if done else None


def list_users(db: Engine, offset: int = 0, limit: int = 100) -> list[User]:
    with Session(db, expire_on_commit=False) as s:
        return list(s.scalars(select(User).order_by(User.id).offset(max(0, offset)).limit(max(0, min(limit, 1000)))))


def count_users(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(User)).scalar_one())
