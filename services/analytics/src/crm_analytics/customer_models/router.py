"""HTTP routes of the customer models: clusters, churn risk and the spend forecast."""

from __future__ import annotations

from fastapi import APIRouter, Response

from crm_analytics.customer_models import service
from crm_analytics.freshness import fresh_responses
from crm_analytics.scores.service import freshness
from crm_shared.deps import ReaderDep
from crm_shared.errors import problem_responses
from crm_shared.schemas.analytics import ChurnInsights, ClusterInsights, ForecastInsights

router = APIRouter(prefix="/v1/insights", tags=["customer models"])


@router.get(
    "/clusters",
    response_model=ClusterInsights,
    responses={**fresh_responses("The clusters"), **problem_responses(422)},
    summary="Customer clusters of the current run",
)
async def get_clusters(db: ReaderDep, response: Response) -> ClusterInsights:
    """Each cluster's generated label, size, share of revenue and centroid in original
    units, with the k chosen and its silhouette. Cluster ids stay stable across runs;
    each cluster's members are the built-in segment `cluster-<id>`. Empty before the
    first run, or with `skipped` saying why (too few customers)."""
    fresh = await freshness(db)
    response.headers.update(fresh.headers())
    return await service.clusters(db, fresh)


@router.get(
    "/churn",
    response_model=ChurnInsights,
    responses={**fresh_responses("The churn model"), **problem_responses(422)},
    summary="Churn model quality, thresholds and risk bands",
)
async def get_churn(db: ReaderDep, response: Response) -> ChurnInsights:
    """The validation AUC, precision and recall of the current run's churn model on a
    window it was not trained on (beside the AUC of recency alone), the risk thresholds
    and the customers and revenue per band (segments `churn-high`, `churn-medium`,
    `churn-low`). `skipped` says why a small shop has no churn scores."""
    fresh = await freshness(db)
    response.headers.update(fresh.headers())
    return await service.churn(db, fresh)


@router.get(
    "/forecast",
    response_model=ForecastInsights,
    responses={**fresh_responses("The spend forecast"), **problem_responses(422)},
    summary="Spend forecast quality against BG/NBD, and totals",
)
async def get_forecast(db: ReaderDep, response: Response) -> ForecastInsights:
    """The holdout MAE and RMSE of the current run's spend forecast beside the BG/NBD x
    Gamma-Gamma expectation and a naive mean on the same holdout, and the forecast
    spend of the next horizon summed over the customers."""
    fresh = await freshness(db)
    response.headers.update(fresh.headers())
    return await service.forecast(db, fresh)
