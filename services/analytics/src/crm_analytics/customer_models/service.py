"""Customer models of the current run: cluster profiles, churn and forecast quality, and
the built-in segments they define (churn risk bands, one per cluster)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from crm_analytics.customer_models import repository
from crm_analytics.database import Db
from crm_analytics.freshness import Freshness
from crm_analytics.runs import repository as runs_repository
from crm_analytics.scores import repository as scores_repository
from crm_analytics.scoring.clusters import PreviousCluster
from crm_analytics.segments.builtin import SegmentDefinition
from crm_shared.schemas.analytics import (
    ChurnInsights,
    ChurnRisk,
    ChurnValidation,
    ClusterInsights,
    ClusterProfile,
    ForecastError,
    ForecastInsights,
    GroupTotal,
    SegmentKind,
)

CLUSTER_PREFIX = "cluster-"


def cluster_segment_id(cluster_id: int) -> str:
    return f"{CLUSTER_PREFIX}{cluster_id}"


def _cluster_segment(row: Row[Any]) -> SegmentDefinition:
    return SegmentDefinition(
        id=cluster_segment_id(row.cluster_id),
        kind=SegmentKind.cluster,
        name=f"Cluster {row.cluster_id}: {row.label}",
        description=f"Customers in cluster {row.cluster_id} ({row.label}).",
        rule=f"cluster_id = {int(row.cluster_id)}",
    )


async def cluster_segments(db: Db, run_id: uuid.UUID | None) -> list[SegmentDefinition]:
    """One built-in segment per cluster of the run (none before the first run)."""
    if run_id is None:
        return []
    return [_cluster_segment(row) for row in await repository.profiles(db, run_id)]


async def cluster_segment(db: Db, segment_id: str) -> SegmentDefinition | None:
    """`cluster-<id>` of the latest run that had that cluster, so a cluster that is gone
    keeps its size history readable; None for any other id."""
    suffix = segment_id.removeprefix(CLUSTER_PREFIX)
    if suffix == segment_id or not suffix.isdigit() or len(suffix) > 9:
        return None
    row = await repository.latest_profile(db, int(suffix))
    return _cluster_segment(row) if row is not None else None


async def previous_clusters(db: Db) -> tuple[PreviousCluster, ...]:
    """The current run's clusters, which the next run's are matched to."""
    run_id = await runs_repository.current_run_id(db)
    if run_id is None:
        return ()
    return tuple(
        PreviousCluster(int(row.cluster_id), dict(row.centroid))
        for row in await repository.profiles(db, run_id)
    )


async def store_clusters(db: Db, run_id: uuid.UUID, profiles: Sequence[dict[str, Any]]) -> None:
    await repository.add_profiles(
        db,
        [
            {
                "run_id": run_id,
                "cluster_id": int(profile["cluster_id"]),
                "label": str(profile["label"])[:100],
                "customers": int(profile["customers"]),
                "revenue": float(profile["revenue"]),
                "revenue_share": float(profile["revenue_share"]),
                "centroid": {
                    str(name): float(value) for name, value in profile["centroid"].items()
                },
            }
            for profile in profiles
        ],
    )


def _report(run: Row[Any] | None, model: str) -> dict[str, Any]:
    fit = (run.fit if run is not None else None) or {}
    report = fit.get(model)
    if isinstance(report, dict):
        return report
    return {"skipped": fit.get("skipped") or f"the run has no {model} report"}


def _day(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else None


async def clusters(db: Db, fresh: Freshness) -> ClusterInsights:
    run = fresh.run
    if run is None:
        return ClusterInsights(
            run_id=None, as_of=None, k=None, silhouette=None, skipped=None, clusters=[]
        )
    report = _report(run, "clusters")
    return ClusterInsights(
        run_id=run.id,
        as_of=run.as_of,
        k=report.get("k"),
        silhouette=report.get("silhouette"),
        skipped=report.get("skipped"),
        clusters=[
            ClusterProfile(
                cluster_id=row.cluster_id,
                label=row.label,
                segment_id=cluster_segment_id(row.cluster_id),
                customers=row.customers,
                revenue=row.revenue,
                revenue_share=row.revenue_share,
                centroid=row.centroid,
            )
            for row in await repository.profiles(db, run.id)
        ],
    )


async def churn(db: Db, fresh: Freshness) -> ChurnInsights:
    run = fresh.run
    report = _report(run, "churn")
    thresholds = report.get("thresholds") or {}
    validation = report.get("validation")
    bands: list[GroupTotal] = []
    if run is not None:
        found = {
            row.churn_risk: row
            for row in await scores_repository.totals_by(db, run.id, "churn_risk")
            if row.churn_risk is not None
        }
        bands = [
            GroupTotal(
                name=band.value,
                customers=int(found[band.value].customers) if band.value in found else 0,
                revenue=float(found[band.value].revenue) if band.value in found else 0.0,
            )
            for band in ChurnRisk
        ]
    return ChurnInsights(
        run_id=run.id if run is not None else None,
        as_of=run.as_of if run is not None else None,
        horizon_days=report.get("horizon_days"),
        model=report.get("model") if not report.get("skipped") else None,
        skipped=report.get("skipped") if run is not None else None,
        medium_threshold=thresholds.get("medium"),
        high_threshold=thresholds.get("high"),
        validation=ChurnValidation.model_validate(validation)
        if isinstance(validation, dict)
        else None,
        bands=bands,
    )


def _error(values: Any) -> ForecastError | None:
    return ForecastError.model_validate(values) if isinstance(values, dict) else None


async def forecast(db: Db, fresh: Freshness) -> ForecastInsights:
    run = fresh.run
    report = _report(run, "forecast")
    holdout = report.get("validation") or {}
    customers, total = 0, 0.0
    if run is not None:
        totals = await repository.forecast_totals(db, run.id)
        customers, total = int(totals.customers), float(totals.total)
    return ForecastInsights(
        run_id=run.id if run is not None else None,
        as_of=run.as_of if run is not None else None,
        horizon_days=report.get("horizon_days"),
        model=report.get("model") if not report.get("skipped") else None,
        skipped=report.get("skipped") if run is not None else None,
        holdout_cutoff=_day(holdout.get("cutoff")),
        holdout_customers=holdout.get("customers"),
        holdout_actual_total=holdout.get("actual_total"),
        model_error=_error(holdout.get("model")),
        bgnbd_error=_error(holdout.get("bgnbd")),
        bgnbd_skipped=holdout.get("bgnbd_skipped"),
        naive_mean_error=_error(holdout.get("naive_mean")),
        customers=customers,
        forecast_total=total,
    )
