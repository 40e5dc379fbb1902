"""store events: an index of those not processed yet; one index per shop and time

The events drain reads pending events from the database (oldest first) rather than from a list
of ids in Redis; a partial index holds only the events still `received`, so that read stays
small however many events have been processed. The separate indexes on shop_id and received_at
become one on (shop_id, received_at), which serves a shop's events over a time and a shop's
removal alike: every stored delivery updates one index fewer.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_PENDING = sa.text("status = 'received'")


def upgrade() -> None:
    op.create_index("ix_store_events_pending", "store_events", ["id"], postgresql_where=_PENDING,
                    sqlite_where=_PENDING)
    op.create_index("ix_store_events_shop_received", "store_events", ["shop_id", "received_at"])
    op.drop_index("ix_store_events_shop_id", table_name="store_events")
    op.drop_index("ix_store_events_received_at", table_name="store_events")


def downgrade() -> None:
    op.create_index("ix_store_events_received_at", "store_events", ["received_at"])
    op.create_index("ix_store_events_shop_id", "store_events", ["shop_id"])
    op.drop_index("ix_store_events_shop_received", table_name="store_events")
    op.drop_index("ix_store_events_pending", table_name="store_events")
