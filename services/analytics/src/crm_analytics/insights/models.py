"""Tables of the insights each run stores: basket rules and customers' referral influence."""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, Table, Uuid

from crm_analytics.database import metadata

basket_rules = Table(
    "basket_rules",
    metadata,
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("antecedent_id", Uuid, primary_key=True),
    Column("consequent_id", Uuid, primary_key=True),
    Column("orders", Integer, nullable=False),
    Column("antecedent_orders", Integer, nullable=False),
    Column("consequent_orders", Integer, nullable=False),
    Column("support", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("lift", Float, nullable=False),
    Index("ix_basket_rules_lift", "run_id", "lift", "antecedent_id", "consequent_id"),
    Index("ix_basket_rules_confidence", "run_id", "confidence", "antecedent_id", "consequent_id"),
)

# Customers of the referral graph only: who referred someone or was referred.
customer_referrals = Table(
    "customer_referrals",
    metadata,
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("customer_id", Uuid, primary_key=True),
    Column("referrals_direct", Integer, nullable=False),
    Column("referrals_downstream", Integer, nullable=False),
    Column("referral_revenue", Float, nullable=False),
    Column("referral_influence", Float, nullable=False),
    Index("ix_customer_referrals_influence", "run_id", "referral_influence", "customer_id"),
    Index("ix_customer_referrals_customer_id", "customer_id"),
)
