"""Every table of the orders service, gathered for migrations."""

from crm_orders.catalogue.models import Product
from crm_orders.database import feed_counter, idempotency, metadata, sync_cursors
from crm_orders.erasure.models import ErasedCustomer
from crm_orders.interactions.models import Interaction
from crm_orders.orders.models import Order, OrderLine, OrderStatusChange, Refund, RefundLine

__all__ = [
    "ErasedCustomer",
    "Interaction",
    "Order",
    "OrderLine",
    "OrderStatusChange",
    "Product",
    "Refund",
    "RefundLine",
    "feed_counter",
    "idempotency",
    "metadata",
    "sync_cursors",
]
