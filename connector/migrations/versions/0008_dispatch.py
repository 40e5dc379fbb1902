"""Dispatch: each shop's SMS provider, sender and failover; who is sending a message and when

`shop_sms_settings` keeps a shop's choice of provider and sender (a shop without a row sends
through the default provider from its number). A message being sent records the worker that
claimed it and when it was last handed to the provider (its sender may be a
messaging service id, longer than a phone number): a message whose worker died, or whose
outcome is unknown, is reconciled with the provider from that moment on.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

import automations.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('shop_sms_settings',
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('sender_kind', sa.String(length=24), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('sender_mps', sa.Float(), nullable=True),
    sa.Column('failover_provider', sa.String(length=32), nullable=True),
    sa.Column('failover_sender_kind', sa.String(length=24), nullable=True),
    sa.Column('failover_sender', sa.String(length=64), nullable=True),
    sa.Column('updated_at', automations.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shop_sms_settings_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', name=op.f('pk_shop_sms_settings'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempted_at', automations.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.alter_column('from_phone', type_=sa.String(length=64), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.alter_column('from_phone', type_=sa.String(length=32), existing_nullable=True)
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('attempted_at')
    op.drop_table('shop_sms_settings')
