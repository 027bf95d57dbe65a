"""One training run's heavy part, in a worker process: weights, holdout evaluation, the fit
and the precomputed lists serving reads. Pure numpy/scipy: no database, no HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from crm_recommend.artefact import MODEL_DIR, ServingArrays
from crm_recommend.evaluation.offline import evaluate
from crm_recommend.evaluation.split import stratified_split
from crm_recommend.models import Recommender, TrainingData, build
from crm_recommend.training.weights import (
    Events,
    interaction_matrix,
    item_age_days,
    purchase_matrix,
)

HISTORY_PER_CUSTOMER = 20


@dataclass(frozen=True)
class TrainingJob:
    """Everything a run needs, picklable to the worker process."""

    model: str
    parameters: dict[str, Any]
    events: Events
    customers: list[str]
    products: list[str]
    item_text: list[str]
    item_category: list[str | None]
    weights: dict[str, float]
    directory: Path
    manifest: dict[str, Any]
    half_life_days: float = 0.0
    holdout: float = 0.2
    k: int = 10
    candidates: int = 200
    similar: int = 50
    exclude_bought: bool = True
    min_interactions: int = 1
    threads: int = 1


@dataclass
class TrainingOutcome:
    metrics: dict[str, float] | None
    data: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - started, 3)


def train(job: TrainingJob) -> TrainingOutcome:
    """Fit, evaluate and precompute; writes the version's files into `job.directory`."""
    timings: dict[str, float] = {}
    with threadpool_limits(limits=job.threads):
        with _timed(timings, "weights_seconds"):
            user_items = interaction_matrix(job.events, job.weights, job.half_life_days)
            bought = purchase_matrix(job.events)
            ages = item_age_days(job.events)
        data = {
            "customers": int((np.diff(user_items.indptr) > 0).sum()),
            "products": job.events.n_items,
            "pairs": int(user_items.nnz),
            "events": len(job.events.users),
        }
        training = TrainingData(
            user_items=user_items,
            item_text=job.item_text,
            item_category=job.item_category,
            item_age_days=ages,
        )
        metrics = None
        if job.holdout > 0:
            with _timed(timings, "evaluation_seconds"):
                metrics = _holdout_metrics(job, training)
        with _timed(timings, "fit_seconds"):
            model = build(job.model, **job.parameters).fit(training)
        with _timed(timings, "precompute_seconds"):
            arrays = _serving_arrays(job, model, user_items, bought)
        with _timed(timings, "save_seconds"):
            model.save(job.directory / MODEL_DIR)
            manifest = {**job.manifest, "data": data, "bought_excluded": job.exclude_bought}
            arrays.write(job.directory, manifest)
    return TrainingOutcome(metrics, data, timings)


def _holdout(job: TrainingJob, data: TrainingData) -> tuple[TrainingData, sp.csr_matrix] | None:
    """(1 - holdout) of each customer's products to fit on, the rest to rank; None when
    no customer has both."""
    pairs = data.user_items.tocoo()
    if pairs.nnz == 0:
        return None
    in_train = stratified_split(
        pairs.row.astype(np.int64), pairs.col.astype(np.int64), 1.0 - job.holdout, by="user"
    )
    shape = data.user_items.shape

    def part(mask: NDArray[np.bool_]) -> sp.csr_matrix:
        return sp.csr_matrix(
            (pairs.data[mask], (pairs.row[mask], pairs.col[mask])), shape=shape, dtype=np.float32
        )

    train, test = part(in_train), part(~in_train)
    evaluated = (np.diff(train.indptr) > 0) & (np.diff(test.indptr) > 0)
    if not evaluated.any():
        return None
    fit_on = TrainingData(
        user_items=train,
        item_text=data.item_text,
        item_category=data.item_category,
        item_age_days=data.item_age_days,
    )
    return fit_on, test


def _holdout_metrics(job: TrainingJob, data: TrainingData) -> dict[str, float] | None:
    split = _holdout(job, data)
    if split is None:
        return None
    fit_on, test = split
    model = build(job.model, **job.parameters).fit(fit_on)
    metrics, _ = evaluate(model, fit_on.user_items, test, job.k)
    return {key: float(value) for key, value in metrics.as_dict().items()}


def evaluate_models(job: TrainingJob, models: list[str]) -> list[dict[str, Any]]:
    """Each model, with its default parameters, fitted and ranked on the same holdout of
    the copy; a model that cannot fit this data says why instead of failing the rest."""
    with threadpool_limits(limits=job.threads):
        user_items = interaction_matrix(job.events, job.weights, job.half_life_days)
        data = TrainingData(
            user_items=user_items,
            item_text=job.item_text,
            item_category=job.item_category,
            item_age_days=item_age_days(job.events),
        )
        split = _holdout(job, data)
        if split is None:
            return []
        fit_on, test = split
        rows: list[dict[str, Any]] = []
        for name in models:
            started = time.perf_counter()
            try:
                model = build(name).fit(fit_on)
            except (ValueError, MemoryError) as error:
                rows.append({"model": name, "error": str(error)})
                continue
            fit_seconds = time.perf_counter() - started
            metrics, _ = evaluate(model, fit_on.user_items, test, job.k)
            rows.append({"model": name, **metrics.as_dict(), "fit_seconds": round(fit_seconds, 3)})
    return rows


def _serving_arrays(
    job: TrainingJob, model: Recommender, user_items: sp.csr_matrix, bought: sp.csr_matrix
) -> ServingArrays:
    n_users, n_items = user_items.shape
    candidates = np.full((n_users, job.candidates), -1, dtype=np.int32)
    candidate_scores = np.full((n_users, job.candidates), -np.inf, dtype=np.float32)
    eligible = np.flatnonzero(np.diff(user_items.indptr) >= job.min_interactions).astype(np.int64)
    if len(eligible) and n_items:
        seen = bought[eligible] if job.exclude_bought else None
        found, scores = model.recommend(eligible, job.candidates, seen=seen)
        candidates[eligible] = found.astype(np.int32)
        candidate_scores[eligible] = scores.astype(np.float32)
    if n_items:
        similar, similar_scores = model.similar_items(
            np.arange(n_items, dtype=np.int64), job.similar
        )
    else:
        similar = np.empty((0, job.similar), dtype=np.int64)
        similar_scores = np.empty((0, job.similar), dtype=np.float32)
    popularity = np.asarray(user_items.sum(axis=0), dtype=np.float32).ravel()
    history_indptr, history_items = _strongest(user_items, HISTORY_PER_CUSTOMER)
    history_rows = np.repeat(np.arange(n_users), np.diff(history_indptr))
    history_bought = _bought(bought, history_rows, history_items)
    reasons = explanations(candidates, history_indptr, history_items, similar, similar_scores)
    reasons_bought = np.zeros(reasons.shape, dtype=bool)
    explained = reasons >= 0
    if explained.any():
        rows = np.nonzero(explained)[0]
        reasons_bought[explained] = _bought(bought, rows, reasons[explained])
    return ServingArrays(
        customers=np.asarray(job.customers, dtype="U36"),
        products=np.asarray(job.products, dtype="U36"),
        candidates=candidates,
        candidate_scores=candidate_scores,
        candidate_reasons=reasons,
        candidate_reasons_bought=reasons_bought,
        similar=similar.astype(np.int32),
        similar_scores=similar_scores.astype(np.float32),
        popularity=popularity,
        history_indptr=history_indptr,
        history_items=history_items.astype(np.int32),
        history_bought=history_bought.astype(np.bool_),
        bought_indptr=bought.indptr.astype(np.int64),
        bought_items=bought.indices.astype(np.int32),
    )


def explanations(
    candidates: NDArray[np.int32],
    history_indptr: NDArray[np.int64],
    history_items: NDArray[np.int64],
    similar: NDArray[np.int64],
    similar_scores: NDArray[np.float32],
    block: int = 4096,
) -> NDArray[np.int32]:
    """For each candidate, the product of the customer's history it is most similar to
    (it is among that product's similar products with the highest score); -1 if none."""
    n_users, width = candidates.shape
    reasons = np.full((n_users, width), -1, dtype=np.int32)
    n_items = max(int(similar.shape[0]), 1)
    per_item = similar.shape[1] if similar.ndim == 2 else 0
    if not per_item:
        return reasons
    for start in range(0, n_users, block):
        stop = min(start + block, n_users)
        low, high = history_indptr[start], history_indptr[stop]
        sources = history_items[low:high]
        if not len(sources):
            continue
        owners = np.repeat(np.arange(start, stop), np.diff(history_indptr[start : stop + 1]))
        neighbours = similar[sources].ravel()
        strength = similar_scores[sources].ravel()
        owner = np.repeat(owners, per_item)
        source = np.repeat(sources, per_item)
        valid = neighbours >= 0
        if not valid.any():  # no product in these histories has a similar product
            continue
        key = owner[valid].astype(np.int64) * n_items + neighbours[valid]
        order = np.lexsort((-strength[valid], key))
        sorted_key = key[order]
        first = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
        keys, best = sorted_key[first], source[valid][order][first]
        block_candidates = candidates[start:stop].astype(np.int64)
        wanted = (np.arange(start, stop)[:, None] * n_items + block_candidates).ravel()
        found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        hit = (keys[found] == wanted) & (block_candidates.ravel() >= 0)
        reasons[start:stop] = np.where(hit, best[found], -1).reshape(stop - start, width)
    return reasons


def _bought(
    bought: sp.csr_matrix, rows: NDArray[np.integer[Any]], items: NDArray[np.integer[Any]]
) -> NDArray[np.bool_]:
    """Whether each (row, item) pair is a purchase: sorted keys, not sparse fancy indexing
    (which scipy refuses for some index arrays and which copies a matrix per call)."""
    coo = bought.tocoo()
    width = np.int64(bought.shape[1])
    purchases = np.sort(coo.row.astype(np.int64) * width + coo.col)
    wanted = rows.astype(np.int64) * width + items.astype(np.int64)
    return np.isin(wanted, purchases, assume_unique=False)


def _strongest(matrix: sp.csr_matrix, per_row: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each row's `per_row` largest entries, strongest first, as CSR indptr and columns."""
    coo = matrix.tocoo()
    order = np.lexsort((-coo.data, coo.row))
    rows, cols = coo.row[order], coo.col[order]
    counts = np.bincount(rows, minlength=matrix.shape[0])
    starts = np.r_[0, np.cumsum(counts)][:-1]
    rank = np.arange(len(rows)) - starts[rows]
    keep = rank < per_row
    kept_counts = np.bincount(rows[keep], minlength=matrix.shape[0])
    indptr = np.r_[0, np.cumsum(kept_counts)].astype(np.int64)
    return indptr, cols[keep].astype(np.int64)
