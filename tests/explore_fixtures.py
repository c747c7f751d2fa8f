"""Small saved models of every kind, with metadata, for the explorer and report tests (unit and browser)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import featvec
from event_fixtures import save_lookalike_index

GENRES = ["Drama", "Comedy", "Action"]


def ratings() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n_users, n_items, n = 80, 60, 2400
    uf, vf = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    u, i = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
    r = np.clip(3 + 0.8 * np.einsum("ij,ij->i", uf[u], vf[i]) + rng.normal(0, 0.3, n), 1, 5)
    df = pd.DataFrame({"user_id": u + 1, "item_id": i + 101, "rating": r})
    return df.drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)


def items() -> pd.DataFrame:
    ids = np.arange(101, 161)
    return pd.DataFrame({"item_id": ids, "title": [f"Movie {i}" for i in ids],
                         "genre": [GENRES[i % 3] for i in ids], "year": 1950 + (ids % 50)})


def user_records() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    pages = [list(rng.choice(["home", "news", "sport", "games", "shop"], size=3)) for _ in range(90)]
    gender = ["F" if "shop" in p or "news" in p else "M" for p in pages]
    return pd.DataFrame({"uid": [f"u{i}" for i in range(90)], "pages": pages, "gender": gender})


def build(root: Path) -> dict:
    """Save mf, f2v, users and audience under ``root``; returns their paths and the data behind them."""
    root = Path(root)
    r = ratings()
    featvec.MatrixFactorization(dim=8, epochs=5).fit(r).save(root / "mf")
    featvec.Feat2Vec(groups=["user_id", "item_id"], dim=4, epochs=1, patience=None).fit(r).save(root / "f2v")
    users = user_records()
    featvec.UserModel(bags=["pages"], targets=["gender"], id_col="uid", epochs=3).fit(users).save(root / "users")
    save_lookalike_index(root, 150)
    items().to_csv(root / "items.csv", index=False)
    users.assign(pages=users["pages"].map("|".join)).to_csv(root / "users.csv", index=False)
    return {"root": root, "ratings": r, "items": items(), "users": users}
