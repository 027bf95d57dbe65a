"""Every model on a shop with planted clusters: finds them, excludes seen items, saves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crm_recommend.evaluation import evaluate
from crm_recommend.models import MODELS, Recommender, TrainingData, base, build, load

from .conftest import PlantedShop

SMALL: dict[str, dict[str, Any]] = {
    "als": {"factors": 16, "regularization": 1.0, "alpha": 5.0, "iterations": 10},
    "ease": {"regularization": 20.0},
    "item_knn": {"neighbours": 20},
    "item_knn_bm25": {"neighbours": 20, "weighting": "bm25"},
    "user_knn": {"neighbours": 30},
    "content": {},
    "popularity": {},
    "trending": {},
    "blend": {
        "components": [
            {"model": "ease", "params": {"regularization": 20.0}, "weight": 0.6},
            {"model": "als", "params": {"factors": 16, "regularization": 1.0}, "weight": 0.4},
        ]
    },
}
PERSONAL = ["als", "ease", "item_knn", "item_knn_bm25", "user_knn", "content", "blend"]


def _model(key: str) -> Recommender:
    return build(key.removesuffix("_bm25"), **SMALL[key])


@pytest.fixture(scope="module")
def fitted(shop: PlantedShop) -> dict[str, Recommender]:
    return {key: _model(key).fit(shop.data()) for key in SMALL}


def test_every_registered_model_is_covered() -> None:
    assert set(MODELS) == {key.removesuffix("_bm25") for key in SMALL}


@pytest.mark.parametrize("key", PERSONAL)
def test_personal_models_beat_popularity_on_planted_tastes(
    key: str, shop: PlantedShop, fitted: dict[str, Recommender]
) -> None:
    ours, _ = evaluate(fitted[key], shop.train, shop.test, k=5)
    popular, _ = evaluate(fitted["popularity"], shop.train, shop.test, k=5)
    assert ours.ndcg > 1.3 * popular.ndcg
    assert ours.recall > popular.recall


@pytest.mark.parametrize("key", list(SMALL))
def test_seen_items_are_never_recommended(
    key: str, shop: PlantedShop, fitted: dict[str, Recommender]
) -> None:
    users = np.arange(shop.train.shape[0], dtype=np.int64)
    items, scores = fitted[key].recommend(users, 10, seen=shop.train)
    assert items.shape == scores.shape == (len(users), 10)
    for user in users[:100]:
        seen = set(shop.train[user].indices)
        assert seen.isdisjoint(items[user][items[user] >= 0])
    # Seen rows may be given for just the users asked about.
    some = np.array([3, 1], dtype=np.int64)
    aligned, _ = fitted[key].recommend(some, 10, seen=shop.train[some])
    assert np.array_equal(aligned, items[some])


def test_lists_are_padded_when_the_catalogue_runs_out(fitted: dict[str, Recommender]) -> None:
    n_items = fitted["popularity"].n_items
    items, scores = fitted["popularity"].recommend(np.array([0]), n_items + 3)
    assert (items[0, n_items:] == -1).all()
    assert np.isneginf(scores[0, n_items:]).all()
    assert sorted(items[0, :n_items]) == list(range(n_items))


@pytest.mark.parametrize("key", ["als", "ease", "item_knn", "item_knn_bm25", "user_knn", "content"])
def test_similar_items_come_from_the_same_cluster(
    key: str, shop: PlantedShop, fitted: dict[str, Recommender]
) -> None:
    items = np.arange(shop.train.shape[1], dtype=np.int64)
    similar, scores = fitted[key].similar_items(items, 5)
    assert (similar != items[:, None]).all()
    assert np.all(np.diff(scores, axis=1) <= 0)
    same = shop.item_cluster[similar] == shop.item_cluster[items][:, None]
    assert same[similar >= 0].mean() > 0.9


@pytest.mark.parametrize("key", list(SMALL))
def test_save_and_load_give_identical_recommendations(
    key: str, shop: PlantedShop, fitted: dict[str, Recommender], tmp_path: Path
) -> None:
    model = fitted[key]
    model.save(tmp_path / key)
    restored = load(tmp_path / key)
    assert type(restored) is type(model)
    assert restored.params == model.params
    users = np.arange(50, dtype=np.int64)
    expected, expected_scores = model.recommend(users, 10, seen=shop.train)
    got, got_scores = restored.recommend(users, 10, seen=shop.train)
    assert np.array_equal(got, expected)
    assert np.allclose(got_scores, expected_scores)
    items = np.arange(10, dtype=np.int64)
    assert np.array_equal(restored.similar_items(items, 5)[0], model.similar_items(items, 5)[0])
    assert not any(path.suffix == ".pkl" for path in (tmp_path / key).rglob("*"))


def test_loading_a_directory_of_another_model_is_refused(
    fitted: dict[str, Recommender], tmp_path: Path
) -> None:
    fitted["ease"].save(tmp_path)
    with pytest.raises(ValueError, match="ease"):
        MODELS["als"].load(tmp_path)


def test_trending_prefers_recent_activity_over_old_volume(shop: PlantedShop) -> None:
    matrix = shop.train.copy()
    volume = np.bincount(matrix.indices, minlength=matrix.shape[1])
    busiest, quieter = int(np.argmax(volume)), int(np.argsort(volume)[-10])
    age = np.zeros(matrix.shape[1])
    age[busiest] = 60.0
    data = TrainingData(user_items=matrix, item_age_days=age)
    popular = build("popularity").fit(data).recommend(np.array([0]), 60)[0][0]
    trending = build("trending", half_life_days=7.0).fit(data).recommend(np.array([0]), 60)[0][0]
    assert popular[0] == busiest
    assert list(trending).index(quieter) < list(trending).index(busiest)


def test_unknown_models_and_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        build("magic")
    with pytest.raises(TypeError):
        build("als", nonsense=1)
    with pytest.raises(ValueError, match="weighting"):
        build("item_knn", weighting="jaccard")


def test_ease_refuses_catalogues_above_its_limit(shop: PlantedShop) -> None:
    with pytest.raises(ValueError, match="at most"):
        build("ease", max_items=10).fit(shop.data())


def test_content_needs_item_text(shop: PlantedShop) -> None:
    with pytest.raises(ValueError, match="item_text"):
        build("content").fit(TrainingData(user_items=shop.train))


@pytest.mark.parametrize("key", ["als", "user_knn", "content"])
def test_small_blocks_give_the_same_lists(
    key: str, shop: PlantedShop, fitted: dict[str, Recommender], monkeypatch: pytest.MonkeyPatch
) -> None:
    users = np.arange(40, dtype=np.int64)
    items = np.arange(shop.train.shape[1], dtype=np.int64)
    whole = fitted[key].recommend(users, 8, seen=shop.train), fitted[key].similar_items(items, 4)
    monkeypatch.setattr(base, "BLOCK_CELLS", 7 * shop.train.shape[1])
    blocked = fitted[key].recommend(users, 8, seen=shop.train), fitted[key].similar_items(items, 4)
    for (expected, _), (got, _) in zip(whole, blocked, strict=True):
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("key", ["item_knn", "user_knn", "content"])
def test_customers_without_evidence_get_empty_lists_not_arbitrary_ones(
    key: str, shop: PlantedShop
) -> None:
    train = shop.train.tolil()
    train[0, :] = 0
    data = TrainingData(user_items=train.tocsr(), item_text=shop.item_text)
    items, scores = _model(key).fit(data).recommend(np.array([0, 1]), 5)
    assert (items[0] == -1).all()
    assert np.isneginf(scores[0]).all()
    assert (items[1] >= 0).all()
