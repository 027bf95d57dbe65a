"""Errors of the runs domain."""

from __future__ import annotations

from crm_shared.errors import Conflict, NotFound


class RunNotFound(NotFound):
    slug = "run-not-found"
    title = "The run does not exist"


class RunInProgress(Conflict):
    slug = "run-in-progress"
    title = "A run is already queued or running"
