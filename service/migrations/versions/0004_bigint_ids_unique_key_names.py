"""64-bit ids and versions on PostgreSQL, unique API key names, and the acting key's id in the audit log.

The API takes ids and versions up to 2^63-1 but PostgreSQL's INTEGER is 32-bit, so a GET of proposal 2^31
was a NumericValueOutOfRange (a 500) instead of a 404; every integer column becomes BIGINT there, and so do
the id sequences, which SERIAL made 32-bit too. SQLite's INTEGER is 64-bit already and stays as it is.
ALTER COLUMN TYPE rewrites audit_log without firing its row triggers, so the append-only guard stays.

Key names become unique because the audit log names its actors. Keys that already share a name keep the
oldest one's; the others get their id appended, and each rename is an audit event.

Revision ID: 0004
Revises: 0003
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, column, nullable) for every integer column; serial ones also have a sequence to widen.
INTEGER_COLUMNS = [
    ("proposals", "id", False),
    ("proposals", "version", False),
    ("reviews", "id", False),
    ("reviews", "proposal_id", False),
    ("audit_log", "id", False),
    ("audit_log", "proposal_id", True),
    ("api_keys", "id", False),
    ("batch_jobs", "id", False),
    ("batch_jobs", "total_rows", False),
    ("batch_uploads", "job_id", False),
    ("batch_rows", "id", False),
    ("batch_rows", "job_id", False),
    ("batch_rows", "position", False),
    ("batch_rows", "sheet_row", False),
    ("batch_rows", "proposal_id", True),
]
SERIAL = ["proposals", "reviews", "audit_log", "api_keys", "batch_jobs", "batch_rows"]
NAME_UNIQUE = "api_keys_name_key"  # PostgreSQL's own name for the models' unique=True
NAME_LENGTH = 100

api_keys = sa.table("api_keys", sa.column("id", sa.Integer), sa.column("name", sa.String))
audit_log = sa.table(
    "audit_log",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("proposal_id", sa.Integer),
    sa.column("details", sa.JSON),
)


def _widen(old: type[sa.Integer], new: type[sa.Integer], sequence_type: str) -> None:
    for table, column, nullable in INTEGER_COLUMNS:
        op.alter_column(table, column, type_=new(), existing_type=old(), existing_nullable=nullable)
    for table in SERIAL:
        sequence = op.get_bind().scalar(sa.text(f"SELECT pg_get_serial_sequence('{table}', 'id')"))
        if sequence is not None:
            op.execute(f"ALTER SEQUENCE {sequence} AS {sequence_type}")


def _rename_duplicate_names() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(api_keys.c.id, api_keys.c.name).order_by(api_keys.c.id)).all()
    taken = {name for _, name in rows}
    kept: set[str] = set()
    for key_id, name in rows:
        if name not in kept:
            kept.add(name)
            continue
        renamed, n = _with_suffix(name, f" #{key_id}"), 1
        while renamed in taken:
            renamed, n = _with_suffix(name, f" #{key_id}-{n}"), n + 1
        taken.add(renamed)
        connection.execute(sa.update(api_keys).where(api_keys.c.id == key_id).values(name=renamed))
        details = {"key_id": key_id, "name": renamed, "old_name": name, "why": "key names became unique"}
        connection.execute(
            sa.insert(audit_log).values(
                at=datetime.now(UTC), actor="migration 0004", action="key.rename", details=details
            )
        )


def _with_suffix(name: str, suffix: str) -> str:
    return name[: NAME_LENGTH - len(suffix)] + suffix


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _widen(sa.Integer, sa.BigInteger, "bigint")
    _rename_duplicate_names()
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.create_unique_constraint(NAME_UNIQUE, ["name"])
    # A plain ADD COLUMN: SQLite's batch mode would copy audit_log into a new table and lose its triggers.
    op.add_column("audit_log", sa.Column("actor_key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")))
    op.create_index("ix_audit_log_actor_key_id", "audit_log", ["actor_key_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor_key_id", "audit_log")
    op.drop_column("audit_log", "actor_key_id")  # SQLite 3.35+ drops a column in place, triggers kept
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_constraint(NAME_UNIQUE, type_="unique")
    if op.get_bind().dialect.name == "postgresql":
        _widen(sa.BigInteger, sa.Integer, "integer")
