"""a capture of a logged message id with another body is flagged

Revision ID: 0007
Revises: 0006

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interaction") as table:
        table.add_column(sa.Column("body_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("capture") as table:
        table.add_column(
            sa.Column(
                "has_different_body",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("capture") as table:
        table.drop_column("has_different_body")
    with op.batch_alter_table("interaction") as table:
        table.drop_column("body_hash")
