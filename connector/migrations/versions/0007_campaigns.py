"""Campaigns and segments: saved versioned segments, campaigns with variants and one recipient
row per (campaign, contact) so nobody gets a campaign twice, and order attributions (one per order).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import automations.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('schedule', sa.JSON(), nullable=False),
    sa.Column('throttle_hours', sa.Integer(), nullable=True),
    sa.Column('ab', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('media_url', sa.Text(), nullable=True),
    sa.Column('discount_code', sa.String(length=64), nullable=True),
    sa.Column('send_at', automations.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', automations.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paused_at', automations.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', automations.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', automations.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', automations.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_campaigns_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_shop_id'), ['shop_id'], unique=False)

    op.create_table('segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('builtin', sa.Boolean(), nullable=False),
    sa.Column('created_at', automations.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', automations.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_segments_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segments')),
    sa.UniqueConstraint('shop_id', 'key', name=op.f('uq_segments_shop_id'))
    )
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_segments_shop_id'), ['shop_id'], unique=False)

    op.create_table('campaign_variants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=8), nullable=False),
    sa.Column('templates', sa.JSON(), nullable=False),
    sa.Column('share', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_variants_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_variants'))
    )
    with op.batch_alter_table('campaign_variants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_variants_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('segment_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_at', automations.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_segment_versions_segment_id_segments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_versions')),
    sa.UniqueConstraint('segment_id', 'version', name=op.f('uq_segment_versions_segment_id'))
    )
    op.create_table('attributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('variant_id', sa.Integer(), nullable=True),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('reversed_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.Column('ordered_at', automations.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', automations.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_attributions_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_attributions_contact_id_contacts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_attributions_message_id_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_attributions_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_attributions_rule_id_rules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_attributions_shop_id_shops'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['campaign_variants.id'], name=op.f('fk_attributions_variant_id_campaign_variants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attributions')),
    sa.UniqueConstraint('order_id', name=op.f('uq_attributions_order_id'))
    )
    with op.batch_alter_table('attributions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attributions_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attributions_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attributions_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attributions_shop_id'), ['shop_id'], unique=False)

    op.create_table('campaign_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('planned_at', automations.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_recipients_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_campaign_recipients_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_campaign_recipients_message_id_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['variant_id'], ['campaign_variants.id'], name=op.f('fk_campaign_recipients_variant_id_campaign_variants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_recipients')),
    sa.UniqueConstraint('campaign_id', 'contact_id', name=op.f('uq_campaign_recipients_campaign_id'))
    )
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_recipients_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_recipients_message_id'), ['message_id'], unique=False)
        batch_op.create_index('ix_campaign_recipients_todo', ['campaign_id', 'status', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_recipients_todo')
        batch_op.drop_index(batch_op.f('ix_campaign_recipients_message_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_recipients_contact_id'))

    op.drop_table('campaign_recipients')
    with op.batch_alter_table('attributions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attributions_shop_id'))
        batch_op.drop_index(batch_op.f('ix_attributions_message_id'))
        batch_op.drop_index(batch_op.f('ix_attributions_contact_id'))
        batch_op.drop_index(batch_op.f('ix_attributions_campaign_id'))

    op.drop_table('attributions')
    op.drop_table('segment_versions')
    with op.batch_alter_table('campaign_variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_variants_campaign_id'))

    op.drop_table('campaign_variants')
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_segments_shop_id'))

    op.drop_table('segments')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaigns_shop_id'))

    op.drop_table('campaigns')
