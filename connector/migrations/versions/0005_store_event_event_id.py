"""store events: the sender's event id, stored once

Shopify says to de-duplicate webhooks on `X-Shopify-Event-Id`: one event may be delivered
several times under different `X-Shopify-Webhook-Id`s. Deliveries keep their webhook id and
now also their event id, unique per source (a partial unique index, so SQLite adds it in place).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("store_events", sa.Column("event_id", sa.String(128), nullable=True))
    named = sa.text("event_id IS NOT NULL")  # deliveries that name no event take no room in it
    op.create_index("uq_store_events_source_event_id", "store_events", ["source", "event_id"], unique=True,
                    postgresql_where=named, sqlite_where=named)


def downgrade() -> None:
    op.drop_index("uq_store_events_source_event_id", table_name="store_events")
    op.drop_column("store_events", "event_id")
