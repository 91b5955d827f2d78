"""Application state (accounts, sessions, API keys, usage) in SQLite or PostgreSQL, apart from the knowledge base."""

from __future__ import annotations

from medcode.app.db import NotMigrated, current, database_url, engine, upgrade
from medcode.app.models import User

__all__ = ["NotMigrated", "User", "current", "database_url", "engine", "upgrade"]
