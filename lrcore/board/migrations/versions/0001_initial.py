"""The class board's first schema: classes, entries, their cached scores, drawings.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "board_classes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("challenge", sa.String(400), nullable=False),
        sa.Column("min_sparsity", sa.Float(), nullable=False),
        sa.Column("settings_query", sa.String(600), nullable=False),
        sa.Column("teacher_hash", sa.String(64), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_board_classes_code", "board_classes", ["code"], unique=True)
    op.create_table(
        "board_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("class_id", sa.Integer(),
                  sa.ForeignKey("board_classes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("nickname", sa.String(64), nullable=False),
        sa.Column("session", sa.String(64), nullable=False),
        sa.Column("model_npz", sa.LargeBinary(), nullable=False),
        sa.Column("penalty", sa.String(16), nullable=False),
        sa.Column("C", sa.Float(), nullable=True),
        sa.Column("l1_ratio", sa.Float(), nullable=True),
        sa.Column("train_size", sa.Integer(), nullable=False),
        sa.Column("preprocess", sa.String(32), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_board_entries_class_id", "board_entries", ["class_id"])
    op.create_index("ix_board_entries_session", "board_entries", ["session"])
    op.create_table(
        "board_entry_scores",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entry_id", sa.Integer(),
                  sa.ForeignKey("board_entries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("data_fp", sa.String(32), nullable=False),
        sa.Column("test_accuracy", sa.Float(), nullable=False),
        sa.Column("test_size", sa.Integer(), nullable=False),
        sa.Column("sparsity", sa.Float(), nullable=False),
        sa.UniqueConstraint("entry_id", "data_fp"),
    )
    op.create_index("ix_board_entry_scores_entry_id", "board_entry_scores", ["entry_id"])
    op.create_table(
        "board_drawings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("class_id", sa.Integer(),
                  sa.ForeignKey("board_classes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("pixels", sa.LargeBinary(), nullable=False),
        sa.Column("session", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_board_drawings_class_id", "board_drawings", ["class_id"])
    op.create_index("ix_board_drawings_session", "board_drawings", ["session"])


def downgrade() -> None:
    op.drop_table("board_drawings")
    op.drop_table("board_entry_scores")
    op.drop_table("board_entries")
    op.drop_table("board_classes")
