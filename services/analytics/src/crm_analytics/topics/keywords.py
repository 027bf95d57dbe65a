"""TF-IDF maths of review and ticket text: keywords per group, grouping of similar tickets.

Pure functions over lists of texts and index arrays; no database, no HTTP. Words are
letters only (three or more), English stop words removed; nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer

# Words of three letters or more, without digits: order numbers and prices are no topics.
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{3,}\b"  # noqa: S105 - a regular expression

Indices = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Keyword:
    term: str
    score: float


@dataclass(frozen=True)
class TermMatrix:
    """One L2-normalised TF-IDF row per text, over the corpus' vocabulary."""

    rows: sp.csr_matrix
    terms: npt.NDArray[np.str_]


@dataclass(frozen=True)
class TicketGroup:
    """Rows of one group of similar texts, most central first, with its keywords."""

    members: list[int]
    keywords: list[Keyword]


def term_matrix(texts: Sequence[str], max_terms: int) -> TermMatrix:
    """TF-IDF of `texts` against their own corpus, keeping the `max_terms` most frequent
    words. A corpus without a single word gives a matrix without columns."""
    vectorizer = TfidfVectorizer(
        stop_words="english",
        token_pattern=TOKEN_PATTERN,
        sublinear_tf=True,
        max_features=max_terms,
        dtype=np.float64,
    )
    try:
        rows = vectorizer.fit_transform(texts)
    except ValueError:  # an empty vocabulary: no text has a word that is not a stop word
        return TermMatrix(sp.csr_matrix((len(texts), 0)), np.array([], dtype=str))
    return TermMatrix(sp.csr_matrix(rows), vectorizer.get_feature_names_out())


def group_sums(
    matrix: sp.csr_matrix, groups: Indices, rows: Indices, group_count: int
) -> tuple[sp.csr_matrix, npt.NDArray[np.int64]]:
    """Per group the sum of its rows and how many rows it has; row `rows[i]` belongs to
    group `groups[i]` (a row may belong to several groups, or to none)."""
    indicator = sp.csr_matrix(
        (np.ones(len(rows)), (groups, rows)), shape=(group_count, matrix.shape[0])
    )
    counts = np.bincount(groups, minlength=group_count).astype(np.int64)
    return sp.csr_matrix(indicator @ matrix), counts


def top_terms(
    sums: sp.csr_matrix,
    counts: npt.NDArray[np.int64],
    terms: npt.NDArray[np.str_],
    top: int,
) -> list[list[Keyword]]:
    """Per group the `top` words of highest mean TF-IDF over its rows: the words that its
    texts use often and the rest of the corpus rarely. Ties go alphabetically."""
    keywords: list[list[Keyword]] = []
    for group in range(sums.shape[0]):
        start, end = sums.indptr[group], sums.indptr[group + 1]
        if counts[group] == 0 or start == end:
            keywords.append([])
            continue
        scores = sums.data[start:end] / counts[group]
        columns = sums.indices[start:end]
        names = terms[columns]
        order = np.lexsort((names, -scores))[:top]
        keywords.append(
            [Keyword(str(names[i]), round(float(scores[i]), 6)) for i in order if scores[i] > 0]
        )
    return keywords


def group_similar(
    texts: Sequence[str],
    *,
    min_similarity: float,
    min_size: int,
    top: int,
    max_terms: int,
) -> list[TicketGroup]:
    """Groups of texts that say similar things, largest first.

    Average-linkage agglomerative clustering on the cosine distance of the TF-IDF rows,
    cut where the mean similarity between two groups falls below `min_similarity`; groups
    smaller than `min_size` are left out, and so are texts without a single word. The
    pairwise distances take n^2 floats: callers bound the number of texts.
    """
    matrix = term_matrix(texts, max_terms)
    worded = np.flatnonzero(matrix.rows.getnnz(axis=1) > 0)
    if len(worded) < max(min_size, 2):
        return []
    rows = matrix.rows[worded]
    similarity = (rows @ rows.T).toarray()
    distance = np.clip(1.0 - similarity, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    labels = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="average",
        distance_threshold=1.0 - min_similarity,
    ).fit_predict(distance)
    groups: list[TicketGroup] = []
    for label in np.unique(labels):
        local = np.flatnonzero(labels == label)
        if len(local) < min_size:
            continue
        centroid = np.asarray(rows[local].mean(axis=0)).ravel()
        closeness = rows[local] @ centroid
        central_first = local[np.lexsort((local, -closeness))]
        sums = sp.csr_matrix(centroid.reshape(1, -1) * len(local))
        keywords = top_terms(sums, np.array([len(local)]), matrix.terms, top)[0]
        groups.append(TicketGroup([int(worded[i]) for i in central_first], keywords))
    groups.sort(key=lambda group: (-len(group.members), group.members[0]))
    return groups
