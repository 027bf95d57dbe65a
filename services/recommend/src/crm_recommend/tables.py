"""Every table of the recommend service, gathered for migrations."""

from crm_recommend.database import metadata, sync_cursors
from crm_recommend.sync.models import forgotten_customers, interactions, order_lines, products
from crm_recommend.training.models import model_versions, training_runs

__all__ = [
    "forgotten_customers",
    "interactions",
    "metadata",
    "model_versions",
    "order_lines",
    "products",
    "sync_cursors",
    "training_runs",
]
