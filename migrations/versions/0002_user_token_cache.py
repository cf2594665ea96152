"""user token cache

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('user_token_cache',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['firm_id'], ['firm.id'], name=op.f('fk_user_token_cache_firm_id_firm')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_token_cache_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_token_cache'))
    )
    with op.batch_alter_table('user_token_cache', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_token_cache_firm_id'), ['firm_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('user_token_cache', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_token_cache_firm_id'))

    op.drop_table('user_token_cache')
