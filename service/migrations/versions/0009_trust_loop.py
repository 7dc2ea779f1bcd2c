"""二次交办 and the trust loop: a department's key names its department (`api_keys.department`); a proposal
keeps when its assignment in force was made (`assigned_at`, the return window counts from it), its 签收
(`acknowledged_at/by`), the departments that returned it (`returns`) and whether it was drawn for audit
(抽查: `audit_sample`, `audit_verdict`, `audited_at`); `routing_state` holds whether automatic routing is
paused by the circuit breaker, for every server process.

Assignments in force before this migration count from when they were made: a reviewer's decision, else
the proposal's arrival.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("department", sa.String(length=100), nullable=True))
    with op.batch_alter_table("proposals") as batch_op:
        stamp = sa.DateTime(timezone=True)
        batch_op.add_column(sa.Column("assigned_at", stamp, nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", stamp, nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("returns", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("audit_sample", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("audit_verdict", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("audited_at", stamp, nullable=True))
        batch_op.create_index("ix_proposals_audited_at", ["audited_at"])
        batch_op.create_index("ix_proposals_audit_open", ["audit_sample", "audit_verdict"])
    op.execute("UPDATE proposals SET assigned_at = decided_at WHERE status = 'reviewed'")
    op.execute("UPDATE proposals SET assigned_at = received_at WHERE status = 'auto'")
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "routing_state",
        sa.Column("id", big, primary_key=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("routing_state")
    with op.batch_alter_table("proposals") as batch_op:
        batch_op.drop_index("ix_proposals_audit_open")
        batch_op.drop_index("ix_proposals_audited_at")
        for name in ("audited_at", "audit_verdict", "audit_sample", "returns", "acknowledged_by", "acknowledged_at"):
            batch_op.drop_column(name)
        batch_op.drop_column("assigned_at")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("department")
