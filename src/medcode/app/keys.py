"""API keys: made on request, shown once, stored as sha256 (a high-entropy key needs no slow hash)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.orm import Session

from medcode.app.accounts import AccountError
from medcode.app.models import ApiKey, KeyMinute, User

KEY_PREFIX = "mc_"
MAX_KEYS = 20  # live keys per account
USAGE_DAYS = 30


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str  # the first 8 characters of the key, to tell keys apart
    created_at: int
    revoked_at: int | None
    usage: tuple[tuple[str, int], ...]  # (day YYYY-MM-DD in UTC, requests), newest first, days with requests only

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def today(self) -> int:
        day = dt.datetime.fromtimestamp(time.time(), dt.UTC).date().isoformat()
        return sum(n for d, n in self.usage if d == day)


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(db: Engine, user: User, name: str) -> tuple[int, str]:
    """A new key for the account: (id, key). The key is returned this once only."""
    label = (name or "").strip() or "key"
    if len(label) > 100 or any(not ch.isprintable() for ch in label):
        raise AccountError("name", "a key name has at most 100 printable characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with Session(db) as s:
        live = s.execute(
            select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
        ).scalar_one()
        if live >= MAX_KEYS:
            raise AccountError("name", f"an account has at most {MAX_KEYS} keys: revoke one first")
        row = ApiKey(user_id=user.id, name=label, prefix=key[:8], key_hash=_sha(key), created_at=int(time.time()))
        s.add(row)
        s.commit()
        return row.id, key


def list_keys(db: Engine, user: User) -> list[KeyInfo]:
    """The account's keys, newest first, with requests per day over the last 30 days."""
    since = int(time.time()) // 60 - USAGE_DAYS * 1440
    with db.connect() as conn:
        rows = conn.execute(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id.desc())).all()
        day = KeyMinute.minute // 1440
        usage = conn.execute(
            select(KeyMinute.key_id, day, func.sum(KeyMinute.count))
            .join(ApiKey, ApiKey.id == KeyMinute.key_id)
            .where(ApiKey.user_id == user.id, KeyMinute.minute >= since)
            .group_by(KeyMinute.key_id, day)
        ).all()
    by_key: dict[int, list[tuple[str, int]]] = {}
    for key_id, day_number, count in usage:
        when = dt.date(1970, 1, 1) + dt.timedelta(days=int(day_number))
        by_key.setdefault(int(key_id), []).append((when.isoformat(), int(count)))
    return [
        KeyInfo(
            r.id,
            r.name,
            r.prefix,
            r.created_at,
            r.revoked_at,
            tuple(sorted(by_key.get(r.id, []), reverse=True)),
        )
        for r in rows
    ]


def revoke_key(db: Engine, user: User, key_id: int) -> bool:
    """Revoke one of the account's keys; False when it has no such live key."""
    with db.begin() as conn:
        done = conn.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=int(time.time()))
        ).rowcount
    return bool(done)


def key_owner(db: Engine, key: str) -> tuple[int, User] | None:
    """The key's id and account (None: unknown or revoked)."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    with db.connect() as conn:  # Core, not an ORM session: this runs on every keyed request
        row = conn.execute(_OWNER, {"key_hash": _sha(key)}).first()
    if row is None:
        return None
    values = row._asdict()
    return int(values.pop("key_id")), User(**values)


_OWNER = (
    select(ApiKey.id.label("key_id"), *User.__table__.columns)
    .join(User, User.id == ApiKey.user_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)
