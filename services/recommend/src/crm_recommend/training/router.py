"""HTTP routes of the model lifecycle: training runs, versions, activation (rollback)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from crm_recommend.training import repository
from crm_recommend.training.service import run_schema, trainer_of
from crm_shared.errors import InvalidCursor, problem_responses
from crm_shared.pagination import PageDep, decode_cursor, next_cursor
from crm_shared.schemas.recommend import (
    EvaluationCreate,
    EvaluationReport,
    ModelVersion,
    ModelVersionPage,
    TrainingRun,
    TrainingRunCreate,
    TrainingRunPage,
)

router = APIRouter(prefix="/v1/models", tags=["models"])
# Versions are 32-bit integers in the database: a larger number names no version.
MAX_VERSION = 2**31 - 1
VersionNumber = Annotated[
    int, Path(ge=1, le=MAX_VERSION, description="The model version's number.")
]


@router.get(
    "",
    response_model=ModelVersionPage,
    responses=problem_responses(400, 422),
    summary="List model versions, newest first",
)
async def list_versions(request: Request, page: PageDep) -> ModelVersionPage:
    trainer = trainer_of(request.app)
    before = None
    if page.cursor is not None:
        (value,) = decode_cursor(page.cursor, 1)
        if not isinstance(value, int) or not 0 < value <= MAX_VERSION:
            raise InvalidCursor("The cursor does not belong to this list.")
        before = value
    rows = await trainer.versions(page.limit, before)
    return ModelVersionPage(
        items=[trainer.version_schema(row) for row in rows[: page.limit]],
        next_cursor=next_cursor(rows, page.limit, lambda row: [row.version]),
    )


@router.post(
    "/evaluations",
    response_model=EvaluationReport,
    responses=problem_responses(422),
    summary="Compare every model on a holdout of the synced data",
)
async def evaluate_models(request: Request, payload: EvaluationCreate) -> EvaluationReport:
    """Fits each model (all when `models` is omitted) with its default parameters on the
    same split of the copy, each customer's products held out in part, and ranks the
    held-out ones: precision, recall, nDCG and MAP at k, and catalogue coverage, with the
    definitions of the offline evaluation (docs/recommend-service.md). Runs in the training
    worker, after a training run in progress; serving is untouched. Answered when done."""
    return await trainer_of(request.app).evaluate(payload)


@router.post(
    "/training-runs",
    response_model=TrainingRun,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(422),
    summary="Start a training run",
)
async def start_training_run(request: Request, payload: TrainingRunCreate) -> TrainingRun:
    """The run is queued and answered at once; follow it at `GET
    /v1/models/training-runs/{id}`. Serving keeps the current model until the new version
    is loaded (and keeps it if the run fails)."""
    return await trainer_of(request.app).start(payload, trigger="request")


@router.get(
    "/training-runs",
    response_model=TrainingRunPage,
    responses=problem_responses(400, 422),
    summary="List training runs, newest first",
)
async def list_training_runs(request: Request, page: PageDep) -> TrainingRunPage:
    after = None
    if page.cursor is not None:
        created_at, run_id = decode_cursor(page.cursor, 2)
        try:
            after = (dt.datetime.fromisoformat(str(created_at)), uuid.UUID(str(run_id)))
        except ValueError as error:
            raise InvalidCursor("The cursor does not belong to this list.") from error
    database = request.app.state.database
    async with database.engine.connect() as db:
        rows = await repository.list_runs(db, page.limit, after)
    return TrainingRunPage(
        items=[run_schema(row) for row in rows[: page.limit]],
        next_cursor=next_cursor(
            rows, page.limit, lambda row: [row.created_at.isoformat(), str(row.id)]
        ),
    )


@router.get(
    "/training-runs/{run_id}",
    response_model=TrainingRun,
    responses=problem_responses(404, 422),
    summary="Read a training run",
)
async def get_training_run(request: Request, run_id: uuid.UUID) -> TrainingRun:
    return await trainer_of(request.app).run(run_id)


@router.post(
    "/{version}/activate",
    response_model=ModelVersion,
    responses=problem_responses(404, 409, 422),
    summary="Serve a model version (rollback)",
)
async def activate_version(request: Request, version: VersionNumber) -> ModelVersion:
    """Loads the version fully, then swaps it in: requests in flight finish on the old one
    and none fails. 409 when its files are gone (older versions are pruned)."""
    return await trainer_of(request.app).activate(version)
