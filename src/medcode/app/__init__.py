"""Application state (accounts, sessions, API keys, usage) in SQLite or PostgreSQL, apart from the knowledge base."""

from __future__ import annotations

from medcode.app import accounts, db, keys, limits, mail, plans
from medcode.app.accounts import AccountError, AccountExists, DuplicateEmail, LoginLimited
from medcode.app.db import NotMigrated, current, database_url, engine, upgrade
from medcode.app.models import User
from medcode.app.plans import Plan

__all__ = [
    "AccountError",
    "AccountExists",
    "DuplicateEmail",
    "LoginLimited",
    "NotMigrated",
    "Plan",
    "User",
    "accounts",
    "current",
    "database_url",
    "db",
    "engine",
    "keys",
    "limits",
    "mail",
    "plans",
    "upgrade",
]
