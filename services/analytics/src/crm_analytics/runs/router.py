"""HTTP routes of the runs domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Request, status

from crm_analytics.runs import service
from crm_analytics.runs.service import Runner
from crm_shared.deps import DatabaseDep
from crm_shared.errors import problem_responses
from crm_shared.pagination import PageDep
from crm_shared.schemas.analytics import Run, RunCreate, RunTrigger
from crm_shared.schemas.common import Page

router = APIRouter(prefix="/v1", tags=["runs"])

RunId = Annotated[uuid.UUID, Path(description="The run's id.")]


async def _runner(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


RunnerDep = Annotated[Runner, Depends(_runner)]


@router.post(
    "/runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Run,
    responses=problem_responses(409, 422),
    summary="Start a scoring run",
)
async def start_run(runner: RunnerDep, payload: Annotated[RunCreate | None, Body()] = None) -> Run:
    """Queues a run and answers at once (202, status `queued`); follow it with
    `GET /v1/runs/{id}`. The run syncs both copies, scores them and swaps the results in.

    One run at a time: while one is queued or running this is a 409 `run-in-progress`
    naming it in `run_id`.
    """
    return await runner.request(RunTrigger.manual, payload.as_of if payload else None)


@router.get(
    "/runs",
    response_model=Page[Run],
    responses=problem_responses(400, 422),
    summary="List runs, newest first",
)
async def list_runs(database: DatabaseDep, page: PageDep) -> Page[Run]:
    return await service.list_runs(database, page.limit, page.cursor)


@router.get(
    "/runs/{run_id}",
    response_model=Run,
    responses=problem_responses(404, 422),
    summary="Read a run",
)
async def get_run(run_id: RunId, database: DatabaseDep) -> Run:
    return await service.read_run(database, run_id)
