"""Protocol I (BENCHMARKS.md): implicit feedback, top-K, full ranking with training items masked.

Positives are ratings >= 4. The split is ``featvec.evaluation.splits.per_user_split(positives, 0.2, 5, seed)``:
for each user with >= 5 positives, in ascending user id order, ``ceil(0.2 * n_u)`` of that user's
positives (row positions in file order) go to test via ``rng.choice(idx, size, replace=False)`` from one
``default_rng(seed)``; test pairs whose user or item never occurs in train are dropped.

Every system -- featvec's configurations and the peers -- is ranked by the same code
(``featvec.evaluation.ranking.full_ranking``): all train items scored for every test user, the user's train items
masked, top-20 by argpartition; Recall@20 = hits / min(20, |test_u|) and NDCG@20, averaged over test users.

Tuning, the same for everyone: each system has a stated grid (``GRIDS`` in ``peers_i`` for the peers,
``FEATVEC_GRIDS`` here); every setting runs on every seed, and a system's reported result is its setting
with the highest mean Recall@20 over the seeds (selected on the test split for every system alike, so
optimistic for all of them). The whole grid is in the output.

``fit_s``: perf_counter around fit only (the library's own matrix building included). All jobs run in this
process, one after the other, with torch and the peers' thread pools at the machine's cores.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from featvec.bench.measure import Timer, known_names, run_job
from featvec.bench.peers_implicit import GRIDS, PEERS
from featvec.evaluation.ranking import csr_from_pairs, full_ranking

DATASETS = ("ml-100k", "ml-latest-small")

# featvec's ALS runs implicit's ALS grid (implicit's confidence alpha * r = featvec's 1 + (alpha - 1) * r).
FEATVEC_GRIDS: dict[str, list[dict]] = {
    "featvec.ImplicitRecommender[als]": [
        {"solver": "als", "dim": g["factors"], "reg": g["regularization"], "alpha": g["alpha"] - 1.0,
         "iterations": g["iterations"]} for g in GRIDS["implicit.ALS"]],
    "featvec.ImplicitRecommender[als-freq]": [
        {"solver": "als", "dim": 64, "reg": r, "alpha": a, "reg_exponent": 1.0, "iterations": 15}
        for r in (0.2, 0.5) for a in (0.5, 1.0, 3.0)],
    "featvec.ImplicitRecommender[bpr]": [{"loss": "bpr", "dim": 64, "negatives": 4, "epochs": 30}],
    "featvec.ImplicitRecommender[softmax]": [{"loss": "sampled_softmax", "dim": 64, "negatives": 16, "epochs": 30}],
}
# run only when named (--systems): the same grids fitted data-parallel in two processes (issue 17)
DATA_PARALLEL = {f"{name[:-1]},nproc=2]": [{**g, "nproc": 2} for g in grid] for name, grid in FEATVEC_GRIDS.items()
                 if name.endswith(("[als-freq]", "[bpr]"))}


def positives(ratings: pd.DataFrame) -> pd.DataFrame:
    """Rows with rating >= 4, in file order, as (user_id, item_id)."""
    return ratings.loc[ratings["rating"] >= 4, ["user_id", "item_id"]].reset_index(drop=True)


def split(ratings: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from featvec.evaluation.splits import per_user_split

    return per_user_split(positives(ratings), test_frac=0.2, min_count=5, seed=seed)


@dataclass
class Task:
    """A split in the protocol's shared indexing: users and items = those of train, sorted."""

    train: pd.DataFrame
    user_ids: np.ndarray
    item_ids: np.ndarray
    train_csr: tuple
    test_csr: tuple

    @classmethod
    def build(cls, train: pd.DataFrame, test: pd.DataFrame) -> "Task":
        users = np.sort(train["user_id"].unique())
        items = np.sort(train["item_id"].unique())
        ui, ii = pd.Index(users), pd.Index(items)
        tr = csr_from_pairs(ui.get_indexer(train["user_id"]), ii.get_indexer(train["item_id"]), len(users))
        te = csr_from_pairs(ui.get_indexer(test["user_id"]), ii.get_indexer(test["item_id"]), len(users))
        return cls(train.reset_index(drop=True), users, items, tr, te)

    def score(self, score_fn) -> dict:
        m = full_ranking(score_fn, len(self.item_ids), self.train_csr, self.test_csr, ks=(20,),
                         metrics=("recall", "ndcg"))
        return {"recall20": m["recall@20"], "ndcg20": m["ndcg@20"], "n_test_users": m["n_users"]}


@dataclass
class FeatvecJob:
    params: dict
    task: Task

    def __call__(self) -> dict:
        import featvec

        params = dict(self.params)
        nproc = int(params.pop("nproc", 1))
        model = featvec.ImplicitRecommender(**params)
        with Timer() as t:
            if nproc > 1:
                model = featvec.fit_parallel(model, self.task.train, nproc=nproc)
            else:
                model.fit(self.task.train)
        urows = model.users_.rows(self.task.user_ids)
        icols = model.items_.rows(self.task.item_ids) - 1
        out = self.task.score(lambda us: model._score_rows(urows[us])[:, icols])
        return {**out, "fit_s": t.s}


@dataclass
class PeerJob:
    name: str
    params: dict
    seed: int
    task: Task

    def __call__(self) -> dict:
        peer = PEERS[self.name](self.seed, **self.params).setup()
        ptr, idx = self.task.train_csr
        with Timer() as t:
            peer.fit((ptr, idx, len(self.task.user_ids), len(self.task.item_ids)))
        return {**self.task.score(peer.scores), "fit_s": t.s, "params": peer.params}


def select_peers(peers) -> list[str]:
    if not peers:
        return []
    if peers is True:
        return list(PEERS)
    names = known_names(peers, PEERS, "peer")
    return names


def select_systems(systems=None) -> dict[str, list[dict]]:
    if systems is None:
        return dict(FEATVEC_GRIDS)
    if isinstance(systems, Mapping):
        return {k: (v if isinstance(v, list) else [v]) for k, v in systems.items()}
    every = {**FEATVEC_GRIDS, **DATA_PARALLEL}
    names = known_names(systems, every, "featvec system")
    return {n: every[n] for n in names}


def make_row(dataset, seed, system, setting, result, params) -> dict:
    row = {"protocol": "I", "dataset": dataset, "seed": int(seed), "system": system, "setting": int(setting)}
    if "error" in result:
        row["error"] = str(result["error"])
        return row
    row["recall20"] = round(float(result["recall20"]), 6)
    row["ndcg20"] = round(float(result["ndcg20"]), 6)
    row["fit_s"] = round(float(result["fit_s"]), 3)
    row["n_test_users"] = int(result["n_test_users"])
    row["params"] = result.get("params", params)
    return row


def best_settings(rows: list[dict]) -> dict[tuple[str, str], int]:
    """(dataset, system) -> the setting with the highest mean recall20 over seeds (complete settings only)."""
    acc: dict[tuple[str, str, int], list[float]] = {}
    for r in rows:
        if "error" not in r:
            acc.setdefault((r["dataset"], r["system"], r["setting"]), []).append(r["recall20"])
    best: dict[tuple[str, str], tuple[float, int]] = {}
    n_seeds = max((len(v) for v in acc.values()), default=0)
    for (d, s, j), v in acc.items():
        if len(v) == n_seeds and ((d, s) not in best or np.mean(v) > best[(d, s)][0]):
            best[(d, s)] = (float(np.mean(v)), j)
    return {k: j for k, (_, j) in best.items()}


def run_protocol_i(data_dir=None, datasets: Iterable[str] = DATASETS, seeds: Iterable[int] = (0, 1, 2),
                   systems=None, peers=True, out_dir="bench-results", emit: Callable[[str], None] | None = print,
                   *, frames: Mapping[str, pd.DataFrame] | None = None, log: Callable[[str], None] | None = None,
                   isolate: bool = False, timeout: float | None = None) -> list[dict]:
    """Run protocol I; emit each record as a JSON line, then one line per (system, dataset, seed) of each
    system's best setting (``"best": true``); write ``I.md`` / ``I.jsonl`` to ``out_dir``."""
    from featvec.bench.ratings import load

    chosen = select_systems(systems)
    peer_names = select_peers(peers)
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    seeds = [int(s) for s in ([seeds] if isinstance(seeds, int) else seeds)]
    log = log or (lambda msg: None)
    rows: list[dict] = []

    def record(row):
        rows.append(row)
        if emit is not None:
            emit(json.dumps(row))

    for name in datasets:
        ratings = frames[name] if frames is not None and name in frames else load(name, data_dir).ratings
        for seed in seeds:
            task = Task.build(*split(ratings[["user_id", "item_id", "rating"]], seed))
            for system, grid in chosen.items():
                for j, params in enumerate(grid):
                    log(f"I {name} seed {seed}: {system} setting {j}")
                    p = {"seed": seed, **params}
                    record(make_row(name, seed, system, j, run_job(FeatvecJob(p, task), isolate, timeout), p))
            for peer in peer_names:
                for j, params in enumerate(GRIDS[peer]):
                    log(f"I {name} seed {seed}: {peer} setting {j}")
                    res = run_job(PeerJob(peer, params, seed, task), isolate, timeout)
                    record(make_row(name, seed, peer, j, res, params))
    best = best_settings(rows)
    for r in rows:
        if best.get((r["dataset"], r["system"])) == r["setting"] and "error" not in r:
            r["best"] = True
            if emit is not None:
                emit(json.dumps(r))
    if out_dir is not None:
        from featvec.bench.report_implicit import write_report_i

        write_report_i(rows, out_dir)
    return rows
