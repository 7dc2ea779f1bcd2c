"""Batch jobs are claimed: `owner` names the process routing a job (host:pid:random) and `heartbeat_at` is
when it last said it is still at work. Several server processes on one database poll for jobs; only the
one whose claim stands may commit a chunk, and a job whose owner's heartbeat lapsed is taken over.

Jobs left unfinished before this migration have no owner, so the first worker to poll claims them.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_jobs") as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """A downgraded database has no claims: stop every server process but one first."""
    with op.batch_alter_table("batch_jobs") as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("owner")
