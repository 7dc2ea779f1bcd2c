"""Batch uploads: the file is stored with its job and read in the background, not inside the request.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_uploads",
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("batch_jobs.id"), primary_key=True),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("sheet", sa.String(length=200), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("batch_uploads")
