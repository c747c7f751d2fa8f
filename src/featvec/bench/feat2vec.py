"""Protocol F (BENCHMARKS.md): feat2vec's self-supervised embeddings on MovieLens 100K records.

Records: one per rating, with groups user (id), movie (id), the movie's genres (a bag), the user's gender,
age bucket (ML-1M's seven) and occupation, and the rating (a category). Split: ``perm =
default_rng(seed).permutation(n)``; test = the first 10% of the rows in that order.

Metric: for each test record, every movie seen in training is ranked given the other groups (a
candidate movie brings its own genres); the true movie's percentile rank (``featvec.evaluation.metrics.
percentile_rank``: 0 = top, 0.5 = random), its mean over test records (MPR, lower is better) and the
top-1/top-10 hit rates. The same for the rating group (5 candidates; top-1 only). Test records whose
movie never occurs in train are dropped (counted in ``n_dropped``).

Systems, all on the same split in the same run:
- ``featvec.Feat2Vec[nce]`` / ``[negative_sampling]``: user, gender, age and occupation are tied (a
  negative resamples the whole user), and so are the movie and its genres.
- ``popularity``: movies (and ratings) by their train frequency.
- ``featvec.ImplicitRecommender[als]``: context, not a target -- the movie group only, ranked from the
  user's train movies by protocol I's best ALS setting (it sees each user's whole history, which the
  record-level models see only through the user's vector).
- ``featvec.MatrixFactorization``: the supervised reference, trained on the train records' ratings.
  It ranks movies two ways and reports both: by the predicted rating (``[predicted]``) and by how close
  the predicted rating is to the record's rating (``[closest]``); ratings by closeness to the prediction.

``fit_s`` is the fit call; ``records_per_s`` = train records x epochs run / fit_s (for Feat2Vec each
record also carries its negatives).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from featvec.bench.measure import Timer, known_names, run_job
from featvec.evaluation.metrics import percentile_rank, rank_counts

DATASETS = ("ml-100k",)
GROUP_COLUMNS = ["user_id", "item_id", "genres", "gender", "age", "occupation", "rating"]


def feat2vec_params(objective: str) -> dict:
    from featvec.schema import Bag

    return {"groups": ["user_id", "item_id", Bag("genres"), "gender", "age", "occupation", "rating"],
            "tie": [["user_id", "gender", "age", "occupation"], ["item_id", "genres"]],
            "objective": objective, "dim": 32, "negatives": 5, "epochs": 20}


FEATVEC_SYSTEMS: dict[str, Callable[[], dict]] = {
    "featvec.Feat2Vec[nce]": lambda: feat2vec_params("nce"),
    "featvec.Feat2Vec[negative_sampling]": lambda: feat2vec_params("negative_sampling"),
}
REFERENCES = ("popularity", "featvec.MatrixFactorization", "featvec.ImplicitRecommender[als]")


def records(data) -> pd.DataFrame:
    """ML-100K's ratings as feat2vec records (the groups of ``GROUP_COLUMNS``), in file order."""
    from featvec.datasets import age_bucket

    if data.users is None:
        raise ValueError(f"protocol F needs user attributes; {data.name} has none")
    users = data.users.assign(age=age_bucket(data.users["age"]))[["user_id", "gender", "age", "occupation"]]
    items = data.items[["item_id", "genres"]]
    out = data.ratings[["user_id", "item_id", "rating"]].merge(users, on="user_id", how="left", validate="m:1")
    out = out.merge(items, on="item_id", how="left", validate="m:1")
    missing = out[["gender", "genres"]].isna().any(axis=1)
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        raise ValueError(f"rating row {row}: user {out.user_id.iloc[row]} or item {out.item_id.iloc[row]} "
                         "has no entry in the user or item table")
    return out[GROUP_COLUMNS]


def split(recs: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    perm = np.random.default_rng(seed).permutation(len(recs))
    n_test = len(recs) // 10
    return recs.iloc[perm[n_test:]].reset_index(drop=True), recs.iloc[perm[:n_test]].reset_index(drop=True)


@dataclass
class Task:
    train: pd.DataFrame
    test: pd.DataFrame  # only records whose movie occurs in train
    movies: np.ndarray  # the candidate movies: those of train, sorted
    ratings: np.ndarray  # the candidate ratings
    n_dropped: int

    @classmethod
    def build(cls, train: pd.DataFrame, test: pd.DataFrame) -> "Task":
        movies = np.sort(train["item_id"].unique())
        keep = test["item_id"].isin(movies)
        return cls(train, test[keep].reset_index(drop=True), movies, np.sort(train["rating"].unique()),
                   int((~keep).sum()))

    def score(self, movie_scores: np.ndarray, rating_scores: np.ndarray, prefix: str = "") -> dict:
        """Metrics from scores [n_test, n_movies] and [n_test, n_ratings] over the candidates in order."""
        out = {}
        for what, scores, cands, col, ks in (("movie", movie_scores, self.movies, "item_id", (1, 10)),
                                            ("rating", rating_scores, self.ratings, "rating", (1,))):
            if scores is None:
                continue
            target = pd.Index(cands).get_indexer(self.test[col])
            higher, ties = rank_counts(scores, target)
            pr = percentile_rank(scores, target, (higher, ties))
            out[f"{prefix}mpr_{what}"] = float(pr.mean())
            for k in ks:
                out[f"{prefix}hit{k}_{what}"] = float((higher < k).mean())
        return out


@dataclass
class Feat2VecJob:
    params: dict
    task: Task

    def __call__(self) -> dict:
        import featvec

        model = featvec.Feat2Vec(**self.params)
        with Timer() as t:
            model.fit(self.task.train)
        out = {}
        for group, cands in (("item_id", self.task.movies), ("rating", self.task.ratings)):
            ranked = model.rank_values(self.task.test, group)
            col = ranked.columns.get_indexer(cands)
            if (col < 0).any():
                raise RuntimeError(f"Feat2Vec has no candidate for some {group} values")
            out[group] = ranked.to_numpy()[:, col]
        epochs = len(model.history_)
        return {**self.task.score(out["item_id"], out["rating"]), "fit_s": t.s, "epochs": epochs,
                "records_per_s": len(self.task.train) * epochs / t.s}


@dataclass
class PopularityJob:
    task: Task

    def __call__(self) -> dict:
        with Timer() as t:
            movie = self.task.train["item_id"].value_counts().reindex(self.task.movies).to_numpy(np.float64)
            rating = self.task.train["rating"].value_counts().reindex(self.task.ratings).to_numpy(np.float64)
        n = len(self.task.test)
        return {**self.task.score(np.broadcast_to(movie, (n, len(movie))), np.broadcast_to(rating, (n, len(rating)))),
                "fit_s": t.s}


@dataclass
class ALSJob:
    task: Task
    seed: int

    def __call__(self) -> dict:
        import featvec

        model = featvec.ImplicitRecommender(solver="als", dim=64, reg=0.2, alpha=0.5, reg_exponent=1.0,
                                            iterations=15, seed=self.seed)
        train = self.task.train[["user_id", "item_id"]].drop_duplicates()
        with Timer() as t:
            model.fit(train)
        users, inverse = np.unique(self.task.test["user_id"].to_numpy(), return_inverse=True)
        cols = model.items_.rows(self.task.movies) - 1
        scores = model._score_rows(model.users_.rows(users))[:, cols][inverse]
        return {**self.task.score(scores, None), "fit_s": t.s}


@dataclass
class MFJob:
    task: Task
    seed: int

    def __call__(self) -> dict:
        import featvec

        # the settings of the runs documented so far (MatrixFactorization's defaults until 2026-12-05)
        model = featvec.MatrixFactorization(dim=64, epochs=20, reg=0.04, bias_reg=0.0, seed=self.seed)
        with Timer() as t:
            model.fit(self.task.train[["user_id", "item_id", "rating"]])
        test = self.task.test
        users, inverse = np.unique(test["user_id"].to_numpy(), return_inverse=True)
        cols = model.items_.rows(self.task.movies) - 1  # every candidate movie is in train
        pred = model._score_rows(model.users_.rows(users))[:, cols][inverse].astype(np.float64)
        own = pd.Index(self.task.movies).get_indexer(test["item_id"])
        r = test["rating"].to_numpy(np.float64)[:, None]
        own_pred = pred[np.arange(len(test)), own][:, None]
        rating_scores = -np.abs(own_pred - self.task.ratings[None, :].astype(np.float64))
        out = self.task.score(pred, rating_scores, "predicted_")
        out.update(self.task.score(-np.abs(pred - r), None, "closest_"))
        epochs = len(model.history_)
        return {**out, "fit_s": t.s, "epochs": epochs, "records_per_s": len(self.task.train) * epochs / t.s}


def make_row(dataset, seed, system, result, task: Task, params=None) -> dict:
    row = {"protocol": "F", "dataset": dataset, "seed": int(seed), "system": system}
    if "error" in result:
        row["error"] = str(result["error"])
        return row
    for k, v in result.items():
        if isinstance(v, (float, np.floating)):
            row[k] = round(float(v), 6 if k.startswith(("mpr", "hit", "predicted", "closest")) else 3)
        elif isinstance(v, (int, np.integer)):
            row[k] = int(v)
    row["n_test"] = len(task.test)
    row["n_dropped"] = task.n_dropped
    if params is not None:
        row["params"] = json.loads(json.dumps(params, default=lambda o: getattr(o, "__dict__", str(o))))
    return row


def _split_mf(row: dict) -> list[dict]:
    """MF's row as its two movie rankings (the rating-group numbers go with both)."""
    if "error" in row:
        return [row]
    rating = {k.replace("predicted_", ""): v for k, v in row.items() if k.startswith("predicted_") and "rating" in k}
    out = []
    for how in ("predicted", "closest"):
        r = {k: v for k, v in row.items() if not k.startswith(("predicted_", "closest_"))}
        r["system"] = f"{row['system']}[{how}]"
        r.update({k.replace(f"{how}_", ""): v for k, v in row.items() if k.startswith(f"{how}_") and "movie" in k})
        r.update(rating)
        out.append(r)
    return out


def run_protocol_f(data_dir=None, datasets: Iterable[str] = DATASETS, seeds: Iterable[int] = (0, 1, 2),
                   systems=None, peers=True, out_dir="bench-results", emit: Callable[[str], None] | None = print,
                   *, data: Mapping | None = None, log: Callable[[str], None] | None = None,
                   isolate: bool = False, timeout: float | None = None) -> list[dict]:
    """Run protocol F; emit one JSON line per (system, dataset, seed); write ``F.md`` / ``F.jsonl``.
    ``data``: name -> a loaded MovieLens (tests); ``peers``: run the references (popularity, MF)."""
    from featvec.bench.ratings import load

    if systems is None:
        chosen = {k: f() for k, f in FEATVEC_SYSTEMS.items()}
    elif isinstance(systems, Mapping):
        chosen = dict(systems)
    else:
        chosen = {n: FEATVEC_SYSTEMS[n]() for n in known_names(systems, FEATVEC_SYSTEMS, "featvec system")}
    refs = list(REFERENCES) if peers is True else ([] if not peers else known_names(peers, REFERENCES, "reference"))
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    seeds = [int(s) for s in ([seeds] if isinstance(seeds, int) else seeds)]
    log = log or (lambda msg: None)
    rows: list[dict] = []

    def record(row):
        rows.append(row)
        if emit is not None:
            emit(json.dumps(row))

    for name in datasets:
        loaded = data[name] if data is not None and name in data else load(name, data_dir)
        recs = records(loaded)
        for seed in seeds:
            task = Task.build(*split(recs, seed))
            for system, params in chosen.items():
                log(f"F {name} seed {seed}: {system}")
                p = {"seed": seed, **params}
                record(make_row(name, seed, system, run_job(Feat2VecJob(p, task), isolate, timeout), task, p))
            for ref in refs:
                log(f"F {name} seed {seed}: {ref}")
                job = {"popularity": PopularityJob(task), "featvec.MatrixFactorization": MFJob(task, seed),
                       "featvec.ImplicitRecommender[als]": ALSJob(task, seed)}[ref]
                row = make_row(name, seed, ref, run_job(job, isolate, timeout), task)
                for r in (_split_mf(row) if ref == "featvec.MatrixFactorization" else [row]):
                    record(r)
    if out_dir is not None:
        from featvec.bench.report_feat2vec import write_report_f

        write_report_f(rows, out_dir)
    return rows
