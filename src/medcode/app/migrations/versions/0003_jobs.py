"""The job board: jobs, their search words and tags, applications.

Revision ID: 0003_jobs
Revises: 0002_consults
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_jobs"
down_revision = "0002_consults"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("employer_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("employer_name", sa.String(200), nullable=False),
        sa.Column("work_mode", sa.String(16), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("credentials", sa.String(300), nullable=False),
        sa.Column("specialty", sa.String(100), nullable=False),
        sa.Column("setting", sa.String(32), nullable=False),
        sa.Column("pay_min", sa.Integer, nullable=True),
        sa.Column("pay_max", sa.Integer, nullable=True),
        sa.Column("pay_period", sa.String(8), nullable=False),
        sa.Column("pay_year", sa.Integer, nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("description_html", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_jobs_open", "jobs", ["hidden", "expires_at", "created_at"])
    op.create_table(
        "job_words",
        sa.Column("word", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True, index=True),
    )
    op.create_table(
        "job_applications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("cover_note", sa.Text, nullable=False),
        sa.Column("resume_path", sa.String(100), nullable=False),
        sa.Column("resume_name", sa.String(200), nullable=False),
        sa.Column("resume_type", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="submitted"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("job_applications", "job_words", "jobs"):
        op.drop_table(table)
