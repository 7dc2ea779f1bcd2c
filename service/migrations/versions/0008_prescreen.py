"""审查立案 on every stored proposal: `screening` (grounds for 不予立案 with their evidence), `quality` (预审
warnings of form) and `similar` (earlier filings it could be merged with, 并案), as the router and the
store found them when it arrived; `merged_into` names the proposal a reviewer merged it into (并案), whose
lead department then handles both; `rejection_ground` the ground a reviewer chose for 不予立案.

Proposals stored before this migration have empty lists: they were not screened.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("proposals") as batch_op:
        for name in ("screening", "quality", "similar"):
            batch_op.add_column(sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
        batch_op.add_column(sa.Column("merged_into", big, nullable=True))
        batch_op.add_column(sa.Column("rejection_ground", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key("fk_proposals_merged_into", "proposals", ["merged_into"], ["id"])
        batch_op.create_index("ix_proposals_merged_into", ["merged_into"])


def downgrade() -> None:
    with op.batch_alter_table("proposals") as batch_op:
        batch_op.drop_index("ix_proposals_merged_into")
        batch_op.drop_constraint("fk_proposals_merged_into", type_="foreignkey")
        for name in ("rejection_ground", "merged_into", "similar", "quality", "screening"):
            batch_op.drop_column(name)
