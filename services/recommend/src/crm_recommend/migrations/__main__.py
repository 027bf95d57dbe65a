"""`python -m crm_recommend.migrations upgrade|current|revision -m MESSAGE`."""

import sys
from pathlib import Path

from crm_recommend.settings import RecommendSettings
from crm_shared.migrations import command_line

command_line(RecommendSettings(), Path(__file__).parent, sys.argv[1:])
