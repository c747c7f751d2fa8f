"""Protocol L (BENCHMARKS.md): look-alike audiences on the Localytics events (notebook 001).

Data: ``data.json.gz`` read by ``featvec.io.readers.read_events``, cleaned by ``clean_attributes``
(gender "U" taken from the user's other events; conflicts resolved by the most frequent value), one row
per user (``session_id``). Split: users in ascending id order, ``perm = default_rng(seed).permutation``,
the first 70% are train users, the rest held out.

Task: for each category c, the seed audience is the train users who funded c; every held-out user is
scored from their attributes only (age, gender, marital status, device, location); metric: ROC-AUC of
the score for "funded c", averaged over the categories (``auc``); ``auc_single``: the notebook's variant
whose seed is one user, the category's top train funder (by amount), for the similarity systems.

Systems (same split, same run):
- ``random``: a seeded uniform score.
- ``onehot.cosine``: cosine of one-hot attributes to the seed audience's mean one-hot vector.
- ``sklearn.LogisticRegression``: one model per category on one-hot attributes of the train users
  (funded c or not) -- supervised, it also sees the train users who did not fund c.
- ``featvec.lookalike``: a TabularModel learns attribute embeddings from the train users (target: funded
  or not, one row per user x category, category an input); user vectors are the embedding blocks of age,
  gender, marital status, device and state plus standardised latitude/longitude, each block centred and
  normalised, equal weights (``featvec.lookalike``); score = similarity to the seed audience minus
  similarity to the train users who did not fund c (``against=``). ``[centroid]``: the similarity to the
  seed audience alone. ``featvec.TabularModel[audience model]``: that TabularModel's own probability of
  funding c, the supervised counterpart of the LogisticRegression peer (same one-hot information).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from featvec.bench.measure import Timer, known_names, run_job
from featvec.datasets.localytics import CATEGORICAL, EVENTS, GEO, USERS

DATASETS = ("localytics",)


def load_users(path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(users: one row per session_id with cleaned attributes, funded: users x categories booleans,
    amounts: users x categories summed amounts), users in ascending id order."""
    from featvec.audience.pipeline import audience_from_events
    from featvec.io.readers import read_events

    a = audience_from_events(read_events(path), **EVENTS)
    return a.users, a.funded, a.amounts


def localytics_path(data_dir) -> str:
    from pathlib import Path

    from featvec.datasets import find_data_dir

    root = Path(data_dir) if data_dir is not None else find_data_dir()
    if root is None:
        raise FileNotFoundError("no data directory: pass --data DIR or set FEATVEC_DATA")
    p = Path(root) / "localytics-data-viz-challenge" / "data.json.gz"
    if not p.exists():
        raise FileNotFoundError(f"Localytics events not found at {p} (see ../shared/data/README.md)")
    return str(p)


@dataclass
class Task:
    train: pd.DataFrame
    test: pd.DataFrame
    funded: pd.DataFrame  # users x categories, bool
    amounts: pd.DataFrame
    seed: int

    @classmethod
    def build(cls, users, funded, amounts, seed: int) -> "Task":
        users = users.sort_values("session_id").reset_index(drop=True)
        perm = np.random.default_rng(seed).permutation(len(users))
        n_train = int(round(0.7 * len(users)))
        return cls(users.iloc[perm[:n_train]].reset_index(drop=True),
                   users.iloc[perm[n_train:]].reset_index(drop=True), funded, amounts, seed)

    @property
    def categories(self) -> list[str]:
        return list(self.funded.columns)

    def seeds(self, c: str) -> tuple[np.ndarray, str]:
        """(train users who funded c, the top train funder of c by amount)."""
        ids = self.train["session_id"]
        f = self.funded.loc[ids, c].to_numpy()
        top = self.amounts.loc[ids, c].idxmax()
        return ids.to_numpy()[f], top

    def auc(self, scores: dict[str, np.ndarray]) -> dict:
        from featvec.evaluation.metrics import roc_auc

        per = {c: roc_auc(self.funded.loc[self.test["session_id"], c].to_numpy(), s) for c, s in scores.items()}
        return {"auc": float(np.mean(list(per.values()))), "auc_by_category": {c: round(v, 4) for c, v in per.items()}}


def _onehot(train: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray:
    blocks = []
    for col in CATEGORICAL:
        values = sorted(train[col].astype(str).unique())
        idx = pd.Index(values).get_indexer(frame[col].astype(str))
        x = np.zeros((len(frame), len(values)))
        x[np.arange(len(frame))[idx >= 0], idx[idx >= 0]] = 1.0
        blocks.append(x)
    return np.concatenate(blocks, axis=1)


@dataclass
class RandomJob:
    task: Task

    def __call__(self) -> dict:
        rng = np.random.default_rng(self.task.seed)
        n = len(self.task.test)
        out = self.task.auc({c: rng.random(n) for c in self.task.categories})
        out["auc_single"] = out["auc"]
        return {**out, "fit_s": 0.0}


@dataclass
class OneHotCosineJob:
    task: Task

    def __call__(self) -> dict:
        t = self.task
        xtr, xte = _onehot(t.train, t.train), _onehot(t.train, t.test)
        pos = pd.Index(t.train["session_id"])
        norm = np.linalg.norm(xte, axis=1)

        def cos(centre):
            return xte @ centre / np.maximum(norm * np.linalg.norm(centre), 1e-12)

        scores, single = {}, {}
        for c in t.categories:
            ids, top = t.seeds(c)
            scores[c] = cos(xtr[pos.get_indexer(ids)].mean(0))
            single[c] = cos(xtr[pos.get_loc(top)])
        return {**t.auc(scores), "auc_single": t.auc(single)["auc"], "fit_s": 0.0}


@dataclass
class LogisticJob:
    task: Task

    def __call__(self) -> dict:
        from sklearn.linear_model import LogisticRegression

        t = self.task
        xtr, xte = _onehot(t.train, t.train), _onehot(t.train, t.test)
        scores = {}
        with Timer() as timer:
            for c in t.categories:
                y = t.funded.loc[t.train["session_id"], c].to_numpy()
                scores[c] = LogisticRegression(max_iter=2000).fit(xtr, y).predict_proba(xte)[:, 1]
        return {**t.auc(scores), "fit_s": timer.s}


@dataclass
class LookalikeJob:
    task: Task
    params: dict

    def __call__(self) -> dict:
        from featvec.audience.pipeline import embed_users
        from featvec.audience.lookalike import block_shares, user_vectors

        t = self.task
        everyone = pd.concat([t.train, t.test], ignore_index=True)
        with Timer() as timer:
            uv, model = embed_users(t.train, t.funded, everyone, seed=t.seed, **{**USERS, **self.params})
        # notebook 001's way, for comparison: the raw blocks concatenated (latitude/longitude in degrees)
        raw = user_vectors(everyone, "session_id", vectors={c: model.vectors_[c] for c in CATEGORICAL},
                           numeric={"geo": GEO}, normalize=False)
        test_ids, train_ids = t.test["session_id"], t.train["session_id"]
        blocks = list(uv.blocks)
        scores = {"lookalike": {}, "centroid": {}, "model": {}}
        shares = {"lookalike": [], "centroid": [], "raw": []}
        single = {}
        for c in t.categories:
            ids, top = t.seeds(c)
            rest = train_ids[~t.funded.loc[train_ids, c].to_numpy()]
            for variant, against in (("lookalike", rest), ("centroid", None)):
                contrib = uv.contributions(ids, candidates=test_ids, against=against)
                scores[variant][c] = contrib["score"].to_numpy()
                shares[variant].append(block_shares(contrib, blocks))
            shares["raw"].append(block_shares(raw.contributions(ids, candidates=test_ids), blocks))
            single[c] = uv.contributions([top], candidates=test_ids)["score"].to_numpy()
            # the TabularModel's own P(funded c | attributes)
            scores["model"][c] = model.predict_proba(t.test.assign(category=c))[1].to_numpy()

        def mean_share(parts) -> dict:
            return {k: round(float(v), 3) for k, v in pd.concat(parts, axis=1).mean(axis=1).items()}

        auc_single = t.auc(single)["auc"]
        out = {v: {**t.auc(s), "fit_s": timer.s} for v, s in scores.items()}
        for v in ("lookalike", "centroid"):
            out[v].update(auc_single=auc_single, block_share=mean_share(shares[v]))
        out["centroid"]["block_share_raw"] = mean_share(shares["raw"])
        return out


SYSTEMS = ("featvec.lookalike", "random", "onehot.cosine", "sklearn.LogisticRegression")
FEATVEC_PARAMS: dict = {}  # embed_users' defaults


def run_protocol_l(data_dir=None, datasets: Iterable[str] = DATASETS, seeds: Iterable[int] = (0, 1, 2),
                   systems=None, peers=True, out_dir="bench-results", emit: Callable[[str], None] | None = print,
                   *, path=None, log: Callable[[str], None] | None = None, isolate: bool = False,
                   timeout: float | None = None) -> list[dict]:
    """Run protocol L; one JSON line per (system, seed); ``L.md`` / ``L.jsonl`` in ``out_dir``.
    ``path``: the events file (default: localytics under ``data_dir``)."""
    names = list(SYSTEMS[:1] if systems is None else known_names(systems, SYSTEMS[:1], "featvec system"))
    if peers:
        names += list(SYSTEMS[1:]) if peers is True else known_names(peers, SYSTEMS[1:], "peer")
    seeds = [int(s) for s in ([seeds] if isinstance(seeds, int) else seeds)]
    log = log or (lambda msg: None)
    users, funded, amounts = load_users(path or localytics_path(data_dir))
    rows = []
    for seed in seeds:
        task = Task.build(users, funded, amounts, seed)
        for name in names:
            log(f"L seed {seed}: {name}")
            job = {"featvec.lookalike": lambda: LookalikeJob(task, FEATVEC_PARAMS), "random": lambda: RandomJob(task),
                   "onehot.cosine": lambda: OneHotCosineJob(task), "sklearn.LogisticRegression": lambda: LogisticJob(task)}[name]()
            res = run_job(job, isolate, timeout)
            parts = {name: res}
            if name == "featvec.lookalike" and "error" not in res:
                parts = {"featvec.lookalike": res["lookalike"], "featvec.lookalike[centroid]": res["centroid"],
                         "featvec.TabularModel[audience model]": res["model"]}
            for system, r in parts.items():
                row = {"protocol": "L", "dataset": "localytics", "seed": seed, "system": system}
                row.update({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()})
                row["n_train_users"], row["n_test_users"] = len(task.train), len(task.test)
                rows.append(row)
                if emit is not None:
                    emit(json.dumps(row))
    if out_dir is not None:
        from featvec.bench.report_lookalike import write_report_l

        write_report_l(rows, out_dir)
    return rows
