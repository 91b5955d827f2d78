"""The consult queue: tickets, messages, attachments, events.

Revision ID: 0002_consults
Revises: 0001_accounts
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_consults"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def _user(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)


def upgrade() -> None:
    op.create_table(
        "consult_tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("requester_email", sa.String(254), nullable=False, index=True),
        _user("user_id"),
        _user("assignee_id"),
        sa.Column("plan", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False, index=True),
        sa.Column("due_at", sa.BigInteger, nullable=False, index=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("draft", sa.Text, nullable=False, server_default=""),
        sa.Column("draft_citations", sa.Text, nullable=False, server_default="[]"),
        sa.Column("draft_state", sa.String(16), nullable=False, server_default="none", index=True),
        sa.Column("review", sa.Boolean, nullable=False, server_default=sa.false(), index=True),
        sa.Column("tag", sa.String(16), nullable=False, unique=True),
        sa.Column("purged_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "consult_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("consult_tickets.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=False, unique=True),
        sa.Column("in_reply_to", sa.Text, nullable=False, server_default=""),
        sa.Column("refs", sa.Text, nullable=False, server_default=""),
        sa.Column("from_addr", sa.String(998), nullable=False),
        sa.Column("to_addr", sa.Text, nullable=False, server_default=""),
        sa.Column("subject", sa.Text, nullable=False, server_default=""),
        sa.Column("body_text", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("auto", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "consult_attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "message_id",
            sa.Integer,
            sa.ForeignKey("consult_messages.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("stored_path", sa.Text, nullable=True),
        sa.Column("text", sa.Text, nullable=True),
    )
    op.create_table(
        "consult_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("consult_tickets.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    for table in ("consult_events", "consult_attachments", "consult_messages", "consult_tickets"):
        op.drop_table(table)
