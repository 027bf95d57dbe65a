"""`python -m crm_analytics.migrations upgrade|current|revision -m MESSAGE`."""

import sys
from pathlib import Path

from crm_analytics.settings import AnalyticsSettings
from crm_shared.migrations import command_line

command_line(AnalyticsSettings(), Path(__file__).parent, sys.argv[1:])
