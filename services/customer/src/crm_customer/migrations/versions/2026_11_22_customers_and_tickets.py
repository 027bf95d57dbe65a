"""customers and tickets

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:50:19.834803
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import crm_shared.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("external_ref", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("last_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("address_line1", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("address_line2", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("lifecycle_stage", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("referred_by", sa.Uuid(), nullable=True),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "consents",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("email_key", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("phone_key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("name_address_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("change_position", sa.BigInteger(), nullable=False),
        sa.Column("created_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", crm_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("erased_at", crm_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("merged_into", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "lifecycle_stage IN ('prospect', 'new', 'active', 'at_risk', 'churned')",
            name=op.f("ck_customers_lifecycle_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_into"], ["customers.id"], name=op.f("fk_customers_merged_into_customers")
        ),
        sa.ForeignKeyConstraint(
            ["referred_by"], ["customers.id"], name=op.f("fk_customers_referred_by_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_change_position", ["change_position"], unique=True)
        batch_op.create_index("ix_customers_country", ["country"], unique=False)
        batch_op.create_index(
            "ix_customers_email_key",
            ["email_key"],
            unique=False,
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.create_index("ix_customers_lifecycle_stage", ["lifecycle_stage"], unique=False)
        batch_op.create_index(
            "ix_customers_name_address_key",
            ["name_address_key"],
            unique=False,
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.create_index(
            "ix_customers_phone_key",
            ["phone_key"],
            unique=False,
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.create_index("ix_customers_referred_by", ["referred_by"], unique=False)
        batch_op.create_index(
            "uq_customers_email_live",
            ["email"],
            unique=True,
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.create_index(
            "uq_customers_external_ref_live",
            ["external_ref"],
            unique=True,
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "feed_counter",
        sa.Column("feed", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_feed_counter")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "customer_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_events_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_events")),
    )
    with op.batch_alter_table("customer_events", schema=None) as batch_op:
        batch_op.create_index("ix_customer_events_customer_id", ["customer_id", "id"], unique=False)

    op.create_table(
        "customer_tags",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_tags_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "tag", name=op.f("pk_customer_tags")),
    )
    with op.batch_alter_table("customer_tags", schema=None) as batch_op:
        batch_op.create_index("ix_customer_tags_tag_customer", ["tag", "customer_id"], unique=False)

    op.create_table(
        "erasures",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("erased_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_erasures_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_erasures")),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", crm_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", crm_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('inquiry', 'feedback', 'complaint')", name=op.f("ck_tickets_kind")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'pending', 'resolved', 'closed')", name=op.f("ck_tickets_status")
        ),
        sa.CheckConstraint("satisfaction BETWEEN 1 AND 5", name=op.f("ck_tickets_satisfaction")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_tickets_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_customer_id", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_tickets_status", ["status", "id"], unique=False)

    op.create_table(
        "ticket_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_notes_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_notes")),
    )
    with op.batch_alter_table("ticket_notes", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_notes_ticket_id", ["ticket_id", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("ticket_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_notes_ticket_id")

    op.drop_table("ticket_notes")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_status")
        batch_op.drop_index("ix_tickets_customer_id")

    op.drop_table("tickets")
    op.drop_table("erasures")
    with op.batch_alter_table("customer_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_tags_tag_customer")

    op.drop_table("customer_tags")
    with op.batch_alter_table("customer_events", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_events_customer_id")

    op.drop_table("customer_events")
    op.drop_table("idempotency_keys")
    op.drop_table("feed_counter")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_customers_external_ref_live",
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index(
            "uq_customers_email_live",
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index("ix_customers_referred_by")
        batch_op.drop_index("ix_customers_phone_key")
        batch_op.drop_index("ix_customers_name_address_key")
        batch_op.drop_index("ix_customers_lifecycle_stage")
        batch_op.drop_index("ix_customers_email_key")
        batch_op.drop_index("ix_customers_country")
        batch_op.drop_index("ix_customers_change_position")

    op.drop_table("customers")
