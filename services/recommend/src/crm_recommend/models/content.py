"""Content similarity: TF-IDF over product name, description and category."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer

from crm_recommend.models.base import Recommender, TrainingData


class ContentTfidf(Recommender):
    """Products described alike are similar, with or without any interactions yet.

    Each product is a TF-IDF vector (unit length) of its text, words and word pairs
    (`ngram_max`), words seen in fewer than `min_df` products dropped. A customer's
    profile is the interaction-weighted mean of the vectors of their products; their
    scores are the cosine of that profile with every product. New products and
    customers with only a few views are served well from their first interaction."""

    name = "content"
    positive_only = True

    def __init__(self, *, ngram_max: int = 2, min_df: int = 1, max_features: int = 100_000) -> None:
        super().__init__(ngram_max=ngram_max, min_df=min_df, max_features=max_features)
        self.item_vectors = sp.csr_matrix((0, 0), dtype=np.float32)
        self.user_items = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, data: TrainingData) -> Self:
        if data.item_text is None or len(data.item_text) != data.n_items:
            raise ValueError("the content model needs one text per item (item_text)")
        self.n_items = data.n_items
        self.user_items = sp.csr_matrix(data.user_items, dtype=np.float32)
        texts = list(data.item_text)
        if data.item_category is not None:
            texts = [
                f"{text} {category}" if category else text
                for text, category in zip(texts, data.item_category, strict=True)
            ]
        vectoriser = TfidfVectorizer(
            ngram_range=(1, int(self.params["ngram_max"])),
            min_df=int(self.params["min_df"]),
            max_features=int(self.params["max_features"]),
            sublinear_tf=True,
            dtype=np.float32,
        )
        try:
            vectors = vectoriser.fit_transform(texts)
        except ValueError:  # no words at all: every product is equally (un)related
            vectors = sp.csr_matrix((self.n_items, 1), dtype=np.float32)
        self.item_vectors = sp.csr_matrix(vectors, dtype=np.float32)
        return self

    def score(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        profiles = self.user_items[users] @ self.item_vectors
        norms = np.sqrt(np.asarray(profiles.multiply(profiles).sum(axis=1)).ravel())
        profiles = (
            sp.diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1), 0.0)) @ profiles
        )
        return np.asarray((profiles @ self.item_vectors.T).toarray(), dtype=np.float32)

    def item_similarity(self, items: NDArray[np.int64]) -> NDArray[np.float32] | sp.spmatrix:
        return self.item_vectors[items] @ self.item_vectors.T

    def _state(self) -> dict[str, Any]:
        return {"item_vectors": self.item_vectors, "user_items": self.user_items}

    def _restore(self, state: dict[str, Any]) -> None:
        self.item_vectors = sp.csr_matrix(state["item_vectors"], dtype=np.float32)
        self.user_items = sp.csr_matrix(state["user_items"], dtype=np.float32)
