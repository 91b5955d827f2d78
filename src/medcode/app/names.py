"""The names of roles and plans, without the database layer (the command line's choices read them
without importing SQLAlchemy)."""

from __future__ import annotations

ROLES = ("guest", "member", "consultant", "employer", "admin")
PLAN_NAMES = ("guest", "member", "pro")
