"""Protocol U (BENCHMARKS.md): inferring demographics from behaviour on MovieLens 100K (notebook 000).

Per user: the bag of rated movies (with the ratings as weights), the bag of those movies' genres and the
bag of liked movies (rated >= 4). Targets, predicted together: gender (2 classes), age bucket (ML-1M's 7)
and occupation (21). Split: users in ascending id order, ``perm = default_rng(seed).permutation(n)``, fold
f = the users at ``perm[f::5]``; every fold is the test set once, the other four train; metrics are pooled
over the five test folds: accuracy, macro-F1, log-loss and ECE per task, ROC-AUC for gender.

Systems (same folds, same run): ``featvec.UserModel`` (``UserModel.small_data`` on the movie and liked bags:
TF-IDF pooling, a wide part, frozen SVD bag tables; the genre bag was tried and left out, it lowered age
accuracy by 0.009); ``featvec.UserModel()`` (what a user writes without tuning, the README's block:
``UserModel(bags=["movies", "liked"], targets=...)``, every other parameter its default); ``majority`` (the
train majority class, train class frequencies as probabilities); ``sklearn.LogisticRegression`` on TF-IDF of
the movie bag, one model per task (scikit-learn defaults, C=1).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from featvec.bench.measure import Timer, known_names, run_job
from featvec.evaluation.metrics import classification_metrics

TARGETS = ("gender", "age", "occupation")
DATASETS = ("ml-100k",)


def user_table(data) -> pd.DataFrame:
    """One row per user (ascending id): bags ``movies`` (+ ``movies_weight`` = ratings), ``genres``,
    ``liked``, and the targets."""
    from featvec.audience.bags import bags_from_events
    from featvec.datasets import age_bucket

    if data.users is None:
        raise ValueError(f"protocol U needs user attributes; {data.name} has none")
    users = data.users.sort_values("user_id").reset_index(drop=True)
    ids = users["user_id"]
    r = data.ratings.merge(data.items[["item_id", "genres"]], on="item_id", how="left")
    out = bags_from_events(r, "user_id", "item_id", weight="rating", name="movies", entities=ids)
    out["genres"] = bags_from_events(r, "user_id", "genres", name="genres", entities=ids)["genres"]
    out["liked"] = bags_from_events(r[r["rating"] >= 4], "user_id", "item_id", name="liked", entities=ids)["liked"]
    out["gender"] = users["gender"].to_numpy()
    out["age"] = age_bucket(users["age"])
    out["occupation"] = users["occupation"].to_numpy()
    return out


def folds(n: int, seed: int, k: int = 5) -> list[np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return [perm[f::k] for f in range(k)]


FEATVEC_PARAMS: dict = {}  # UserModel.small_data's recipe


@dataclass
class Job:
    system: str
    table: pd.DataFrame
    seed: int
    params: dict

    def __call__(self) -> dict:
        t = self.table
        proba = {y: [] for y in TARGETS}
        truth = {y: [] for y in TARGETS}
        fit_s = 0.0
        classes = {y: sorted(t[y].unique()) for y in TARGETS}
        for test_idx in folds(len(t), self.seed):
            train = t.drop(index=test_idx)
            test = t.iloc[test_idx]
            with Timer() as timer:
                predict = getattr(self, "_" + self.system.split(".")[-1].lower().replace("()", "_defaults"))(train)
            fit_s += timer.s
            got = predict(test)
            for y in TARGETS:
                proba[y].append(got[y].reindex(columns=classes[y], fill_value=0.0).to_numpy())
                truth[y].extend(test[y].tolist())
        out = {"fit_s": fit_s}
        for y in TARGETS:
            m = classification_metrics(truth[y], np.concatenate(proba[y]), classes[y])
            out.update({f"{y}_{k}": v for k, v in m.items()})
        return out

    def _majority(self, train):
        freq = {y: train[y].value_counts(normalize=True) for y in TARGETS}

        def predict(test):
            return {y: pd.DataFrame([freq[y].to_dict()] * len(test)) for y in TARGETS}
        return predict

    def _logisticregression(self, train):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vec = TfidfVectorizer(analyzer=lambda bag: [str(v) for v in bag])
        x = vec.fit_transform(train["movies"])
        models = {y: LogisticRegression(max_iter=2000).fit(x, train[y]) for y in TARGETS}

        def predict(test):
            xt = vec.transform(test["movies"])
            return {y: pd.DataFrame(m.predict_proba(xt), columns=m.classes_) for y, m in models.items()}
        return predict

    def _usermodel(self, train):
        import featvec

        model = featvec.UserModel.small_data(["movies", "liked"], list(TARGETS), seed=self.seed,
                                             **self.params).fit(train)

        def predict(test):
            return {y: p.reset_index(drop=True) for y, p in model.predict_proba(test).items()}
        return predict

    def _usermodel_defaults(self, train):
        import featvec

        model = featvec.UserModel(bags=["movies", "liked"], targets=list(TARGETS), seed=self.seed).fit(train)

        def predict(test):
            return {y: p.reset_index(drop=True) for y, p in model.predict_proba(test).items()}
        return predict


SYSTEMS = ("featvec.UserModel", "featvec.UserModel()", "majority", "sklearn.LogisticRegression")
FEATVEC = SYSTEMS[:2]


def run_protocol_u(data_dir=None, datasets: Iterable[str] = DATASETS, seeds: Iterable[int] = (0, 1, 2),
                   systems=None, peers=True, out_dir="bench-results", emit: Callable[[str], None] | None = print,
                   *, data=None, log: Callable[[str], None] | None = None, isolate: bool = False,
                   timeout: float | None = None, params: dict | None = None) -> list[dict]:
    """Run protocol U; one JSON line per (system, seed); ``U.md`` / ``U.jsonl`` in ``out_dir``.
    ``data``: a loaded MovieLens (tests)."""
    from featvec.bench.ratings import load

    peer_names = SYSTEMS[len(FEATVEC):]
    names = list(FEATVEC if systems is None else known_names(systems, FEATVEC, "featvec system"))
    if peers:
        names += list(peer_names) if peers is True else known_names(peers, peer_names, "peer")
    seeds = [int(s) for s in ([seeds] if isinstance(seeds, int) else seeds)]
    log = log or (lambda msg: None)
    table = user_table(data if data is not None else load("ml-100k", data_dir))
    rows = []
    for seed in seeds:
        for name in names:
            log(f"U seed {seed}: {name}")
            res = run_job(Job(name, table, seed, {**FEATVEC_PARAMS, **(params or {})}), isolate, timeout)
            row = {"protocol": "U", "dataset": "ml-100k", "seed": seed, "system": name, "n_users": len(table)}
            row.update({k: (round(v, 6) if isinstance(v, float) else v) for k, v in res.items()})
            rows.append(row)
            if emit is not None:
                emit(json.dumps(row))
    if out_dir is not None:
        from featvec.bench.report_user_model import write_report_u

        write_report_u(rows, out_dir)
    return rows
