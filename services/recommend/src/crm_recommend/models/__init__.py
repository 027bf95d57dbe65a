"""Recommendation models: pure numpy/scipy code behind one interface, saved as npz + JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crm_recommend.models.als import ALS
from crm_recommend.models.base import PARAMS_FILE, Recommender, TrainingData, top_n
from crm_recommend.models.blend import Blend
from crm_recommend.models.content import ContentTfidf
from crm_recommend.models.ease import EASE
from crm_recommend.models.item_knn import ItemKNN
from crm_recommend.models.popularity import Popularity, Trending
from crm_recommend.models.user_knn import UserKNN

MODELS: dict[str, type[Recommender]] = {
    model.name: model
    for model in (ALS, EASE, ItemKNN, Popularity, Trending, ContentTfidf, UserKNN, Blend)
}


def build(name: str, **params: Any) -> Recommender:
    """A fresh, untrained model by name with the given hyper-parameters."""
    try:
        model = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}") from None
    return model(**params)


__all__ = [
    "ALS",
    "EASE",
    "MODELS",
    "Blend",
    "ContentTfidf",
    "ItemKNN",
    "Popularity",
    "Recommender",
    "TrainingData",
    "Trending",
    "UserKNN",
    "build",
    "load",
    "top_n",
]


def load(directory: Path) -> Recommender:
    """The model saved in `directory`, whichever kind it is."""
    meta = json.loads((directory / PARAMS_FILE).read_text())
    return MODELS[meta["model"]].load(directory)
