"""`python -m crm_gateway.migrations upgrade|current|revision -m MESSAGE`."""

import sys
from pathlib import Path

from crm_gateway.settings import GatewaySettings
from crm_shared.migrations import command_line

command_line(GatewaySettings(), Path(__file__).parent, sys.argv[1:])
