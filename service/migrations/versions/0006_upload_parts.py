"""Uploads stored in parts of a few megabytes: a 200 MB file in one value took ~570 MB of the server's
memory to store and as much to read back; parts are written and read one at a time.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "batch_upload_parts",
        sa.Column("job_id", ID, sa.ForeignKey("batch_jobs.id"), primary_key=True),
        sa.Column("seq", ID, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.execute("INSERT INTO batch_upload_parts (job_id, seq, data) SELECT job_id, 0, data FROM batch_uploads")
    with op.batch_alter_table("batch_uploads") as batch_op:
        batch_op.drop_column("data")


def downgrade() -> None:
    """Uploads waiting to be read keep their first part only: read them before downgrading."""
    with op.batch_alter_table("batch_uploads") as batch_op:
        batch_op.add_column(sa.Column("data", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE batch_uploads SET data = (SELECT data FROM batch_upload_parts p "
        "WHERE p.job_id = batch_uploads.job_id AND p.seq = 0)"
    )
    op.drop_table("batch_upload_parts")
