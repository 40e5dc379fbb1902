"""messages: a status holds up to 32 characters

Twilio's `partially_delivered` (only some parts of a split message arrived) is a final delivery
status of its own, longer than the 16 characters the column took.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("status", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("status", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False)
