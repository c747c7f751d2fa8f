"""Shared fixtures: tiny generated ratings, the MovieLens-format fixture folder, the real data folder."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movielens_fixtures import write_movielens_fixtures

NO_DATA = "no data directory: set FEATVEC_DATA or provide ../shared/data (see ../shared/BENCHMARKS.md)"


@pytest.fixture(scope="session")
def data_dir():
    """The real datasets (../shared/data or $FEATVEC_DATA); tests using it are skipped when absent."""
    from featvec.datasets import find_data_dir

    found = find_data_dir()
    if found is None or not (found / "ml-100k" / "u.data").is_file():
        pytest.skip(NO_DATA)
    return found


@pytest.fixture(scope="session")
def movielens_fixtures(tmp_path_factory):
    """A folder holding tiny files in every MovieLens format (see tests/movielens_fixtures.py)."""
    return write_movielens_fixtures(tmp_path_factory.mktemp("movielens"))


@pytest.fixture
def ratings():
    """Small ratings with real structure: rank-2 user x item factors plus biases plus noise."""
    rng = np.random.default_rng(0)
    n_users, n_items, n = 60, 40, 1500
    uf, vf = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    u = rng.integers(0, n_users, n)
    i = rng.integers(0, n_items, n)
    r = np.clip(3 + 0.8 * np.einsum("ij,ij->i", uf[u], vf[i]) + rng.normal(0, 0.3, n), 1, 5)
    df = pd.DataFrame({"user_id": u + 1, "item_id": i + 101, "rating": r})
    return df.drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)
