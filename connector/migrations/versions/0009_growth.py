"""Growing the list: sign-up requests (double opt-in), catalogue variants, back-in-stock requests

A sign-up request keeps what was captured (channel, keyword or page, legal text and version, IP,
user agent, the texts exchanged) until the number confirms; the catalogue keeps each variant's
last price and stock item so that inventory and price webhooks can be read.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

import automations.models

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_UTC = automations.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('signup_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('phone_e164', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('keyword', sa.String(length=64), nullable=True),
    sa.Column('page_url', sa.Text(), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('legal_text', sa.Text(), nullable=True),
    sa.Column('legal_version', sa.String(length=32), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=255), nullable=True),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=True),
    sa.Column('variant_id', sa.String(length=64), nullable=True),
    sa.Column('discount_code', sa.String(length=64), nullable=True),
    sa.Column('requested_at', _UTC, nullable=False),
    sa.Column('expires_at', _UTC, nullable=False),
    sa.Column('confirmed_at', _UTC, nullable=True),
    sa.Column('welcomed_at', _UTC, nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_signup_requests_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_signup_requests_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signup_requests'))
    )
    with op.batch_alter_table('signup_requests', schema=None) as batch_op:
        batch_op.create_index('ix_signup_requests_phone', ['shop_id', 'phone_e164', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_signup_requests_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signup_requests_contact_id'), ['contact_id'], unique=False)

    op.create_table('catalog_variants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('variant_id', sa.String(length=64), nullable=False),
    sa.Column('inventory_item_id', sa.String(length=64), nullable=True),
    sa.Column('title', sa.String(length=255), nullable=True),
    sa.Column('handle', sa.String(length=255), nullable=True),
    sa.Column('price', sa.String(length=32), nullable=True),
    sa.Column('available', sa.Integer(), nullable=True),
    sa.Column('updated_at', _UTC, nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_catalog_variants_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_variants')),
    sa.UniqueConstraint('shop_id', 'variant_id', name=op.f('uq_catalog_variants_shop_id'))
    )
    with op.batch_alter_table('catalog_variants', schema=None) as batch_op:
        batch_op.create_index('ix_catalog_variants_item', ['shop_id', 'inventory_item_id'], unique=False)

    op.create_table('stock_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=True),
    sa.Column('variant_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', _UTC, nullable=False),
    sa.Column('notified_at', _UTC, nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_stock_alerts_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_stock_alerts_message_id_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_stock_alerts_shop_id_shops'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signup_id'], ['signup_requests.id'], name=op.f('fk_stock_alerts_signup_id_signup_requests'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_alerts'))
    )
    with op.batch_alter_table('stock_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_stock_alerts_variant', ['shop_id', 'variant_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_alerts_contact_id'), ['contact_id'], unique=False)


def downgrade() -> None:
    op.drop_table('stock_alerts')
    op.drop_table('catalog_variants')
    op.drop_table('signup_requests')
