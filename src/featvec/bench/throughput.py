"""Protocol T (BENCHMARKS.md): training throughput and peak memory, featvec against its peers in one run.

For each dataset, seed and thread count every system fits in a fresh process (``measure.run_job``), with
torch, numba, OpenMP and BLAS limited to that many threads before anything is imported. Reported per job:

- ``samples_per_s`` = training samples x epochs run / ``fit_s`` (``fit_s``: ``perf_counter`` around the fit
  call, the library's own data preparation included). A sample is a rating (rating models), a positive
  interaction (implicit models; the negatives it draws are part of its cost), a record (Feat2Vec, with its
  negatives), a row (tabular) or a user (UserModel).
- ``peak_rss_mb``: the process's peak RSS (interpreter, imports, data, fit, evaluation).
- the model's quality on the held-out rows where the protocol defines one (``rmse``: protocol E's split;
  ``recall20``: protocol I's split), so a faster fit that learns less shows.
- ``bytes_per_sample``: what featvec's engine reads and writes per sample (embedding rows, optimiser
  state, the sample itself; see ``bytes_per_sample``), and ``bound_samples_per_s`` = the machine's
  streaming bandwidth (``bandwidth_gbs``, a STREAM-style copy measured in the same run with the same
  threads) / bytes per sample: the rate at which every touched byte comes from memory. Small data
  stays in cache and can beat it.

Systems meet their peers at equal factors and epochs: MatrixFactorization (dim 64) and Surprise SVD /
SVD++ (64 factors, the same epochs); ImplicitRecommender BPR (one negative per positive) and sampled
softmax against implicit BPR and LightFM BPR / WARP (64 factors, the same epochs); ALS against implicit
ALS (64 factors, 15 iterations, the same confidence and L2). fastai's collab and tabular learners run
their own defaults (batch 64) for fewer epochs (throughput is per epoch), with the same factors / layers.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from featvec.bench.measure import Timer, gpu_memory, known_names, run_job, rmse

DATASETS = ("ml-100k", "ml-latest-small", "synthetic-1M", "synthetic-20M")
THREADS = (1, 2)
SYNTHETIC = {"synthetic-1M": (6_040, 3_706, 1_000_209), "synthetic-20M": (138_493, 26_744, 20_000_263)}
DIM = 64
REPEATS = {"ml-100k": 3, "ml-latest-small": 3}  # fits per job on the small sets: the median is reported


def synthetic_shape(dataset: str) -> tuple[int, int, int]:
    """(users, items, ratings) of a generated dataset: the named ML-1M / ML-20M shapes, or ``synthetic-<n>``
    (``20k``, ``3M``...) with ML-20M's proportions."""
    if dataset in SYNTHETIC:
        return SYNTHETIC[dataset]
    text = dataset.removeprefix("synthetic-").strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    try:
        n = int(float(text.rstrip("km")) * scale)
    except ValueError:
        raise ValueError(f"unknown dataset {dataset!r}; protocol T runs on {list(DATASETS)} or synthetic-<n>") from None
    users = max(100, n // 144)
    return users, max(50, n // 750, -(-4 * n // users)), n  # at most a quarter of the pairs rated


def is_synthetic(dataset: str) -> bool:
    return dataset.startswith("synthetic-")


def runs_on(system: str, dataset: str) -> bool:
    """Whether ``system`` is measured on ``dataset`` (other generated sizes: as on synthetic-1M)."""
    spec = SYSTEMS[system].datasets
    return dataset in spec or (is_synthetic(dataset) and dataset not in SYNTHETIC and "synthetic-1M" in spec)


def epochs_for(dataset: str, kind: str) -> int:
    """Equal epochs for every system of a kind on a dataset (fewer on the largest sets)."""
    big = dataset == "synthetic-20M"
    mid = dataset == "synthetic-1M"
    return {"rating": 10 if big else 20, "pairs": 3 if big else (10 if mid else 30), "als": 15,
            "fastai": 1 if mid else 5}[kind]


# ----------------------------------------------------------------------------------------- systems
@dataclass(frozen=True)
class System:
    kind: str  # rating | pairs | als | records | tabular | users
    datasets: tuple[str, ...]
    featvec: bool = True
    threads: tuple[int, ...] = THREADS  # thread counts it runs with (Surprise: one)


ML = ("ml-100k", "ml-latest-small")
SYSTEMS: dict[str, System] = {
    "featvec.MatrixFactorization": System("rating", DATASETS),
    "featvec.MatrixFactorization[side]": System("rating", ML),
    "featvec.MatrixFactorization[svdpp]": System("rating", ("ml-100k",)),
    "featvec.DeepRecommender": System("rating", ML + ("synthetic-1M",)),
    "featvec.ImplicitRecommender[bpr]": System("pairs", DATASETS),
    "featvec.ImplicitRecommender[softmax]": System("pairs", DATASETS),
    "featvec.ImplicitRecommender[als]": System("als", DATASETS),
    "featvec.Feat2Vec": System("records", ("ml-100k", "synthetic-1M")),
    "featvec.TabularModel": System("tabular", ("ml-100k", "synthetic-1M")),
    "featvec.UserModel": System("users", ("ml-100k", "synthetic-1M")),
    "featvec.UserModel[small_data]": System("users", ("ml-100k",)),
    "surprise.SVD": System("rating", DATASETS, False, (1,)),
    "surprise.SVDpp": System("rating", ("ml-100k",), False, (1,)),
    "fastai.EmbeddingDotBias": System("rating", ML + ("synthetic-1M",), False),
    "fastai.tabular": System("tabular", ("ml-100k", "synthetic-1M"), False),
    "implicit.BPR": System("pairs", DATASETS, False),
    "lightfm.BPR": System("pairs", ML + ("synthetic-1M",), False),
    "lightfm.WARP": System("pairs", ML + ("synthetic-1M",), False),
    "implicit.ALS": System("als", DATASETS, False),
}

# The settings each featvec system runs with (model constructor keywords; ``seed`` is added).
def featvec_params(system: str, dataset: str) -> dict:
    e_rating, e_pairs = epochs_for(dataset, "rating"), epochs_for(dataset, "pairs")
    return {
        # L2 as in the runs documented so far (the defaults until 2026-12-05): the peers' tables stay comparable
        "featvec.MatrixFactorization": {"dim": DIM, "epochs": e_rating, "reg": 0.04, "bias_reg": 0.0},
        "featvec.MatrixFactorization[side]": {"dim": DIM, "epochs": e_rating, "reg": 0.04, "bias_reg": 0.0},
        "featvec.MatrixFactorization[svdpp]": {"dim": DIM, "epochs": e_rating, "implicit": True, "reg": 0.04,
                                               "bias_reg": 0.0},
        "featvec.DeepRecommender": {"dim": DIM, "epochs": epochs_for(dataset, "fastai")},
        "featvec.ImplicitRecommender[bpr]": {"loss": "bpr", "dim": DIM, "negatives": 1, "epochs": e_pairs},
        "featvec.ImplicitRecommender[softmax]": {"loss": "sampled_softmax", "dim": DIM, "epochs": e_pairs},
        "featvec.ImplicitRecommender[als]": {"solver": "als", "dim": DIM, "reg": 1.0, "alpha": 4.0,
                                             "iterations": epochs_for(dataset, "als")},
        "featvec.Feat2Vec": {},
        "featvec.TabularModel": {"layers": (200, 100), "epochs": epochs_for(dataset, "fastai"), "patience": None,
                                 "valid_frac": 0.0},
        "featvec.UserModel": {},
        "featvec.UserModel[small_data]": {},
    }[system]


def peer_params(system: str, dataset: str) -> dict:
    e_pairs = epochs_for(dataset, "pairs")
    return {
        "surprise.SVD": {"n_factors": DIM, "n_epochs": epochs_for(dataset, "rating")},
        "surprise.SVDpp": {"n_factors": DIM, "n_epochs": epochs_for(dataset, "rating")},
        "fastai.EmbeddingDotBias": {"n_factors": DIM, "epochs": epochs_for(dataset, "fastai")},
        "fastai.tabular": {"layers": [200, 100], "epochs": epochs_for(dataset, "fastai")},
        "implicit.BPR": {"factors": DIM, "iterations": e_pairs},
        "lightfm.BPR": {"no_components": DIM, "epochs": e_pairs},
        "lightfm.WARP": {"no_components": DIM, "epochs": e_pairs},
        "implicit.ALS": {"factors": DIM, "regularization": 1.0, "alpha": 5.0,
                         "iterations": epochs_for(dataset, "als")},
    }[system]


def bytes_per_sample(system: str, params: dict, n_train: int, model_bytes: float | None) -> float | None:
    """Bytes featvec's engine reads and writes per training sample (float32 rows of ``dim``):

    - MatrixFactorization (fused SGD): the user and item rows and biases read and written, and the sample
      (two int32 ids and a float32 rating);
    - BPR (fused SGD): the user, positive and negative rows and biases, read and written, and the sample;
      sampled softmax: the user row, the positive and ``negatives`` candidate rows, read and written;
    - ALS: per interaction and iteration, ``cg_steps`` conjugate-gradient steps that each read the other
      side's row twice (the product and the update), for both half-steps;
    - torch presets (lazy Adam): the rows a sample touches read and written with their two moment rows,
      plus the dense parameters with their gradients and moments once per batch, shared by its rows.
    ``model_bytes`` is the size of the dense part (MLP) when known.
    """
    d4 = params.get("dim", DIM) * 4
    if system.startswith("featvec.MatrixFactorization"):
        return 2 * 2 * (d4 + 4) + 12
    if system == "featvec.ImplicitRecommender[bpr]":
        return 2 * (params.get("negatives", 1) + 2) * (d4 + 4) + 8
    if system == "featvec.ImplicitRecommender[softmax]":
        return 2 * (params.get("negatives", 16) + 2) * (d4 + 4) + 8
    if system == "featvec.ImplicitRecommender[als]":
        return 2 * 3 * 2 * d4 + 8
    if model_bytes is None:
        return None
    batch = params.get("batch_size", 1024)
    return 2 * 3 * 4 * d4 + 4 * model_bytes / batch


# ----------------------------------------------------------------------------------------- data
def _ml(name: str, data_dir):
    from featvec.bench.ratings import load

    return load(name, data_dir)


def prepare(dataset: str, seed: int, data_dir, cache: Path) -> Path:
    """The dataset's protocol E (explicit) and protocol I (implicit) splits as .npy files in ``cache``,
    written once and read by every job (each job builds its frames from them)."""
    from featvec.evaluation.splits import per_user_split, random_split

    folder = cache / f"{dataset}-{seed}"
    if (folder / "done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if is_synthetic(dataset):
        from featvec.datasets import synthetic_ratings

        ratings = synthetic_ratings(*synthetic_shape(dataset), rank=16, seed=seed).ratings
        positives = ratings[["user_id", "item_id"]]
    else:
        from featvec.bench.implicit import positives as ml_positives

        ratings = _ml(dataset, data_dir).ratings
        positives = ml_positives(ratings)
    ratings = ratings[["user_id", "item_id", "rating"]]
    frames = dict(zip(("e_train", "e_test"), random_split(ratings, 0.1, seed)))
    frames.update(zip(("i_train", "i_test"), per_user_split(positives, 0.2, 5, seed)))
    for name, df in frames.items():
        for col in df.columns:
            np.save(folder / f"{name}.{col}.npy", df[col].to_numpy())
    (folder / "done").write_text("")
    return folder


def load_frame(folder: Path, name: str) -> pd.DataFrame:
    cols = ["user_id", "item_id"] + (["rating"] if name.startswith("e_") else [])
    return pd.DataFrame({c: np.load(folder / f"{name}.{c}.npy") for c in cols})


def set_threads(n: int) -> None:
    """Limit every thread pool of this process to ``n`` (torch, featvec's kernels, BLAS)."""
    import torch

    torch.set_num_threads(n)
    try:
        import featvec

        if hasattr(featvec, "set_num_threads"):
            featvec.set_num_threads(n)
    except ImportError:  # pragma: no cover
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass


def thread_env(n: int) -> dict:
    keys = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
    return {k: str(n) for k in keys}


# ----------------------------------------------------------------------------------------- jobs
@dataclass
class Job:
    """One (system, dataset, seed, threads) measurement; runs in the measuring process."""

    system: str
    dataset: str
    seed: int
    threads: int
    folder: str
    data_dir: str | None
    evaluate: bool = True
    repeats: int = 1
    device: str = "cpu"  # featvec's systems only; the peers run on the CPU

    def __call__(self) -> dict:
        set_threads(self.threads)
        kind = SYSTEMS[self.system].kind
        return getattr(self, f"_{kind}")()

    # ---- helpers
    def _timed(self, make, fit):
        """``fit(make())`` ``repeats`` times in this process; the last object and a Timer-like result whose
        ``s`` is the median time (``first`` the first run's: imports and compilations the library does lazily
        land there)."""
        times = []
        for _ in range(self.repeats):
            obj = make()
            with Timer() as t:
                fit(obj)
            times.append(t.s)
        t.s, t.first, t.runs = float(np.median(times)), times[0], len(times)
        return obj, t

    @property
    def _params(self) -> dict:
        if SYSTEMS[self.system].featvec:
            device = {} if self.device == "cpu" else {"device": self.device}
            return {"seed": self.seed, **featvec_params(self.system, self.dataset), **device}
        return peer_params(self.system, self.dataset)

    def _result(self, n_train: int, epochs: int, fit_s, model=None, **metrics) -> dict:
        """``fit_s``: the ``_timed`` result (median, first run, runs)."""
        out = {"n_train": int(n_train), "epochs": int(epochs), "fit_s": fit_s.s, "fit_first_s": fit_s.first,
               "fit_runs": fit_s.runs, "samples_per_s": n_train * epochs / fit_s.s, **metrics}
        hist = getattr(model, "history_", None)
        if hist and all("seconds" in h for h in hist):
            loop = sum(h["seconds"] for h in hist)
            if loop > 0:
                out["train_samples_per_s"] = n_train * len(hist) / loop
        if model is not None and getattr(model, "net_", None) is not None:
            out["dense_params"] = dense_params(model.net_)
        if SYSTEMS[self.system].featvec:
            out.update(gpu_memory(self.device))
        return out

    # ---- explicit ratings
    def _rating(self) -> dict:
        folder = Path(self.folder)
        train, test = load_frame(folder, "e_train"), load_frame(folder, "e_test")
        scale = (float(train["rating"].min()), float(train["rating"].max()))
        if self.system.startswith("featvec."):
            import featvec

            cls = self.system.split(".")[1].split("[")[0]
            fit_kwargs = {}
            if self.system.endswith("[side]"):
                from featvec.bench.ratings import side_features

                fit_kwargs = side_features(_ml(self.dataset, self.data_dir))
            model, t = self._timed(lambda: getattr(featvec, cls)(**self._params),
                                   lambda m: m.fit(train, **fit_kwargs))
            epochs = len(model.history_) or self._params.get("epochs", 1)
            score = rmse(model.predict(test), test["rating"].to_numpy(), scale)
            return self._result(len(train), epochs, t, model, rmse=score)
        from featvec.bench.peers import PEERS

        params = self._params
        threads = {} if self.system.startswith("surprise.") else {"num_threads": self.threads}
        epochs = params.get("n_epochs", params.get("epochs"))
        peer, t = self._timed(lambda: PEERS[self.system](self.seed, **params, **threads).setup(),
                              lambda m: m.fit(train, scale))
        score = rmse(peer.predict(test), test["rating"].to_numpy(), scale)
        return {**self._result(len(train), epochs, t), "rmse": score, "params": params}

    # ---- implicit pairs (SGD and ALS)
    def _task(self):
        from featvec.bench.implicit import Task

        folder = Path(self.folder)
        return Task.build(load_frame(folder, "i_train"), load_frame(folder, "i_test"))

    def _pairs(self) -> dict:
        task = self._task()
        n = len(task.train)
        if self.system.startswith("featvec."):
            import featvec

            model, t = self._timed(lambda: featvec.ImplicitRecommender(**self._params), lambda m: m.fit(task.train))
            epochs = len(model.history_) or 1
            out = self._result(n, epochs, t, model)
            if self.evaluate:
                urows = model.users_.rows(task.user_ids)
                icols = model.items_.rows(task.item_ids) - 1
                out.update(task.score(lambda us: model._score_rows(urows[us])[:, icols]))
            return out
        from featvec.bench.peers_implicit import PEERS

        params = dict(self._params)
        ptr, idx = task.train_csr
        peer, t = self._timed(lambda: PEERS[self.system](self.seed, num_threads=self.threads, **params).setup(),
                              lambda m: m.fit((ptr, idx, len(task.user_ids), len(task.item_ids))))
        epochs = params.get("iterations", params.get("epochs"))
        out = {**self._result(n, epochs, t), "params": peer.params}
        if self.evaluate:
            out.update(task.score(peer.scores))
        return out

    def _als(self) -> dict:
        return self._pairs()

    # ---- feat2vec records
    def _records(self) -> dict:
        import featvec

        if self.dataset == "ml-100k":
            from featvec.bench.feat2vec import FEATVEC_SYSTEMS, records, split

            train, _ = split(records(_ml(self.dataset, self.data_dir)), self.seed)
            params = FEATVEC_SYSTEMS["featvec.Feat2Vec[nce]"]()
        else:
            from featvec.datasets import feat2vec_records

            train = feat2vec_records(synthetic_shape(self.dataset)[2], seed=self.seed)  # notebook 003's records
            params = {"groups": ["item", "id", featvec.Numeric(["attr1", "attr2", "attr3"], name="attrs"), "y"],
                      "dim": 10}
        model, t = self._timed(lambda: featvec.Feat2Vec(seed=self.seed, **params), lambda m: m.fit(train))
        n = len(train) - int(round(len(train) * model.valid_frac)) if model.patience is not None else len(train)
        return self._result(n, len(model.history_), t, model, negatives=int(model.negatives))

    # ---- tabular rows
    def _tabular_frames(self):
        folder = Path(self.folder)
        train, test = load_frame(folder, "e_train"), load_frame(folder, "e_test")
        cats, nums = ["user_id", "item_id"], []
        if self.dataset == "ml-100k":
            users = _ml(self.dataset, self.data_dir).users[["user_id", "age", "gender", "occupation"]]
            train, test = (f.merge(users, on="user_id", how="left") for f in (train, test))
            cats, nums = cats + ["gender", "occupation"], ["age"]
        for c in cats:
            train[c], test[c] = train[c].astype(str), test[c].astype(str)
        return train, test, cats, nums

    def _tabular(self) -> dict:
        train, test, cats, nums = self._tabular_frames()
        scale = (float(train["rating"].min()), float(train["rating"].max()))
        if self.system.startswith("featvec."):
            import featvec

            model, t = self._timed(lambda: featvec.TabularModel(categorical=cats, numeric=nums, target="rating",
                                                                task="regression", **self._params),
                                   lambda m: m.fit(train))
            score = rmse(model.predict(test), test["rating"].to_numpy(), scale)
            return self._result(len(train), len(model.history_), t, model, rmse=score)
        from featvec.bench.peers import FastaiTabular

        params = self._params
        peer, t = self._timed(lambda: FastaiTabular(self.seed, cats, nums, num_threads=self.threads, **params).setup(),
                              lambda m: m.fit(train, scale))
        score = rmse(peer.predict(test), test["rating"].to_numpy(), scale)
        return {**self._result(len(train), params["epochs"], t), "rmse": score, "params": peer.params}

    # ---- users (bags of events)
    def _users(self) -> dict:
        import featvec

        if self.dataset == "ml-100k":
            from featvec.bench.user_model import TARGETS, folds, user_table

            table = user_table(_ml(self.dataset, self.data_dir))
            targets, bags = list(TARGETS), ["movies", "liked"]
            weights = {"movies": "movies_weight"}
        else:
            from featvec.datasets import user_sequences

            from featvec.bench.user_model import folds

            # notebook 000's users (about 200 events each: synthetic-1M has 5,000 of them)
            n_users = max(200, synthetic_shape(self.dataset)[2] // 200)
            table, _ = user_sequences(n_users, seed=self.seed, planted=True)
            targets, bags, weights = ["marital", "children"], ["seq1", "seq2"], {}
        test_idx = folds(len(table), self.seed)[0]
        train, test = table.drop(index=test_idx), table.iloc[test_idx]
        if self.system.endswith("[small_data]"):
            make = lambda: featvec.UserModel.small_data(bags, targets, seed=self.seed)  # noqa: E731
        else:
            make = lambda: featvec.UserModel(bags=[featvec.Bag(b, weights=weights.get(b)) for b in bags],  # noqa: E731
                                             targets=targets, seed=self.seed, recipe="deep")
        model, t = self._timed(make, lambda m: m.fit(train))
        proba = model.predict_proba(test)
        acc = {f"accuracy_{y}": float(np.mean(proba[y].to_numpy().argmax(1) ==
                                              pd.Index(proba[y].columns).get_indexer(test[y].to_numpy())))
               for y in targets}
        return self._result(len(train), len(model.history_), t, model, **acc)


def dense_params(net) -> int:
    """Parameters outside the embedding tables (the MLPs and linear maps every batch reads in full)."""
    import torch

    tables = {id(m.weight) for m in net.modules() if isinstance(m, (torch.nn.Embedding, torch.nn.EmbeddingBag))}
    return int(sum(p.numel() for p in net.parameters() if id(p) not in tables))


@dataclass
class BandwidthJob:
    """The machine's streaming bandwidth with ``threads`` threads: a 256 MiB float32 copy (read + write),
    best of 5."""

    threads: int
    mib: int = 256

    def __call__(self) -> dict:
        import torch

        set_threads(self.threads)
        a = torch.ones(self.mib * 2**18)
        b = torch.empty_like(a)
        b.copy_(a)
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            b.copy_(a)
            best = min(best, time.perf_counter() - t0)
        return {"bandwidth_gbs": 2 * a.numel() * 4 / best / 1e9}


# ----------------------------------------------------------------------------------------- run
def select(systems, peers, dataset: str) -> list[str]:
    names = list(SYSTEMS) if systems is None else known_names(systems, SYSTEMS, "system")
    if systems is None and not peers:
        names = [n for n in names if SYSTEMS[n].featvec]
    elif systems is None and peers is not True:
        names = [n for n in names if SYSTEMS[n].featvec or n in known_names(peers, SYSTEMS, "peer")]
    return [n for n in names if runs_on(n, dataset)]


def make_row(job: Job, result: dict, bandwidth: float | None) -> dict:
    row = {"protocol": "T", "dataset": job.dataset, "seed": job.seed, "system": job.system, "threads": job.threads}
    if job.device != "cpu" and SYSTEMS[job.system].featvec:
        row["device"] = job.device
    if "error" in result:
        row["error"] = str(result["error"])
        return row
    for k, v in result.items():
        row[k] = round(float(v), 4) if isinstance(v, float) else v
    if SYSTEMS[job.system].featvec:
        params = featvec_params(job.system, job.dataset)
        dense = result.get("dense_params")
        b = bytes_per_sample(job.system, params, result.get("n_train", 0), None if dense is None else dense * 4 * 4)
        if b is not None:
            row["bytes_per_sample"] = round(b, 1)
            if bandwidth and job.device == "cpu":  # the bound is the CPU's memory bandwidth
                row["bandwidth_gbs"] = round(bandwidth, 2)
                row["bound_samples_per_s"] = round(bandwidth * 1e9 / b)
    return row


def run_protocol_t(data_dir=None, datasets: Iterable[str] = DATASETS, seeds: Iterable[int] = (0,),
                   systems=None, peers=True, out_dir="bench-results", threads: Iterable[int] = THREADS,
                   emit: Callable[[str], None] | None = print, log: Callable[[str], None] | None = None,
                   timeout: float | None = 3600, evaluate_large: bool = False, device: str = "cpu") -> list[dict]:
    """Run protocol T: one JSON line per (system, dataset, seed, threads); ``T.md`` / ``T.jsonl`` in
    ``out_dir``. ``evaluate_large``: also rank every item for every test user on synthetic-20M (slow; protocol S
    does it). ``device``: where featvec's systems train ("cuda": each row also names the card and its peak
    GPU memory); the peers stay on the CPU."""
    log = log or (lambda msg: None)
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    for d in datasets:
        if d not in DATASETS:
            synthetic_shape(d)  # an error naming it unless it is synthetic-<n>
    threads = [int(t) for t in ([threads] if isinstance(threads, int) else threads)]
    cache = Path(out_dir if out_dir is not None else ".") / ".t-data"
    rows: list[dict] = []
    bandwidth = {}
    for t in threads:
        res = run_job(BandwidthJob(t), isolate=True, timeout=600, env=thread_env(t))
        bandwidth[t] = res.get("bandwidth_gbs")
        log(f"T bandwidth with {t} thread(s): {bandwidth[t]} GB/s")
    for dataset in datasets:
        for seed in ([seeds] if isinstance(seeds, int) else seeds):
            names = select(systems, peers, dataset)
            if not names:
                continue
            log(f"T {dataset} seed {seed}: preparing the splits")
            folder = prepare(dataset, int(seed), data_dir, cache)
            for name in names:
                for t in threads:
                    if t not in SYSTEMS[name].threads:
                        continue
                    log(f"T {dataset} seed {seed} threads {t}: {name}")
                    job = Job(name, dataset, int(seed), t, str(folder), None if data_dir is None else str(data_dir),
                              evaluate=evaluate_large or dataset != "synthetic-20M",
                              repeats=REPEATS.get(dataset, 1), device=device)
                    row = make_row(job, run_job(job, isolate=True, timeout=timeout, env=thread_env(t)),
                                   bandwidth.get(t))
                    rows.append(row)
                    if emit is not None:
                        emit(json.dumps(row))
    if out_dir is not None:
        from featvec.bench.report_throughput import write_report_t

        write_report_t(rows, out_dir, bandwidth)
    return rows
