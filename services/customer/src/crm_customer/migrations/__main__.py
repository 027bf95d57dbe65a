"""`python -m crm_customer.migrations upgrade|current|revision -m MESSAGE`."""

import sys
from pathlib import Path

from crm_customer.settings import CustomerSettings
from crm_shared.migrations import command_line

command_line(CustomerSettings(), Path(__file__).parent, sys.argv[1:])
