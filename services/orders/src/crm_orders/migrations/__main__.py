"""`python -m crm_orders.migrations upgrade|current|revision -m MESSAGE`."""

import sys
from pathlib import Path

from crm_orders.settings import OrdersSettings
from crm_shared.migrations import command_line

command_line(OrdersSettings(), Path(__file__).parent, sys.argv[1:])
