"""Which (customer, product) pairs are purchases: the lookup behind "because you bought"."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from crm_recommend.training.worker import _bought


def test_pairs_are_looked_up_including_none_at_all() -> None:
    bought = sp.csr_matrix(
        (np.ones(3, dtype=np.float32), ([0, 1, 2], [2, 0, 2])), shape=(3, 4), dtype=np.float32
    )
    rows = np.array([0, 0, 1, 2, 2], dtype=np.int64)
    items = np.array([2, 1, 0, 3, 2], dtype=np.int32)

    assert _bought(bought, rows, items).tolist() == [True, False, True, False, True]
    # A shop where no one has a history yet: no pairs to look up, no error.
    empty = np.array([], dtype=np.int64)
    assert _bought(bought, empty, empty).tolist() == []
    assert _bought(sp.csr_matrix((3, 4), dtype=np.float32), rows, items).tolist() == [False] * 5
