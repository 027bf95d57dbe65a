"""Every table of the analytics service, gathered for migrations."""

from crm_analytics.customer_models.models import cluster_profiles
from crm_analytics.database import metadata, sync_cursors
from crm_analytics.insights.models import basket_rules, customer_referrals
from crm_analytics.runs.models import current_run, customer_scores, runs
from crm_analytics.segments.models import segment_members, segment_sizes, segments
from crm_analytics.sync.models import customer_tags, customers, order_lines
from crm_analytics.topics.models import (
    feedback_tickets,
    product_topics,
    reviews,
    segment_keywords,
    ticket_group_members,
    ticket_groups,
)

__all__ = [
    "basket_rules",
    "cluster_profiles",
    "current_run",
    "customer_referrals",
    "customer_scores",
    "customer_tags",
    "customers",
    "feedback_tickets",
    "metadata",
    "order_lines",
    "product_topics",
    "reviews",
    "runs",
    "segment_keywords",
    "segment_members",
    "segment_sizes",
    "segments",
    "sync_cursors",
    "ticket_group_members",
    "ticket_groups",
]
