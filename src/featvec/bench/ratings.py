"""Protocol E (BENCHMARKS.md): explicit ratings, random 90/10 split, RMSE, fit seconds, peak memory.

For each dataset and seed the split is built once (``featvec.evaluation.splits.random_split``: ``perm =
default_rng(seed).permutation(n)``, test = ``perm[: n // 10]``) and every featvec system and every peer is
run on that same split in this same run, one after the other.

Measurement (see ``featvec.bench.measure``):
- ``fit_s``: ``time.perf_counter`` around the system's fit call only, which includes the library's own data
  preparation (featvec's id encoding, Surprise's trainset, fastai's DataLoaders) but not imports, and not
  predict.
- ``peak_rss_mb``: each (system, dataset, seed) runs in a fresh Python process and reports its own
  peak RSS (VmHWM) -- interpreter + imports (every job imports featvec, hence torch) + the split it receives
  + fit + predict. The report notes the baseline of such a process that does nothing, per dataset.
  With ``isolate=False`` everything runs in this process and the number is the process peak so far.
- ``rmse``: on the test rows, predictions clipped to the rating scale (the train ratings' min and max).
  Test users/items absent from train get predictions from every system (featvec: bias-only; Surprise:
  native; fastai: its ``#na#`` category, see ``peers``).

Model seeds: featvec systems get ``seed=<split seed>`` unless their factory sets one; Surprise gets
``random_state=seed``; fastai ``set_seed(seed)``.

The featvec systems' configurations live in ONE place, ``FEATVEC_SYSTEMS`` below.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from featvec.bench.measure import Timer, known_names, rmse, run_job
from featvec.bench.peers import PEERS, peers_for

DATASETS = ("ml-100k", "ml-latest-small")
COLS = ["user_id", "item_id", "rating"]

# name -> factory(dataset_name, data) -> {"model": constructor kwargs, "fit": fit kwargs[, "cls": class name]}
# ``data`` is the loaded ``featvec.datasets.MovieLens`` (``.ratings``, ``.users``, ``.items``), or None when
# the benchmark is given bare rating frames. "cls" defaults to the part of the name after "featvec.".
def side_features(data) -> dict:
    """The dataset's user and item tables as side features (ids + demographics / year + genres), without
    free text (titles) and zip codes; empty when the benchmark runs on bare frames."""
    if data is None:
        return {}
    out = {"item_features": data.items.drop(columns=["title"])}
    if data.users is not None:
        out["user_features"] = data.users.drop(columns=["zip"])
    return out


FEATVEC_SYSTEMS: dict[str, Callable[[str, object], dict]] = {
    # with side features: the settings tuned for them (the defaults before 2026-12-05; the new ones, tuned
    # without side tables, score 0.8832 / 0.8219 here on seed 0 against 0.8797 / 0.8197)
    "featvec.MatrixFactorization": lambda dataset, data: {
        "model": {"dim": 64, "epochs": 20, "reg": 0.04, "bias_reg": 0.0}, "fit": side_features(data)},
    "featvec.DeepRecommender": lambda dataset, data: {"model": {}, "fit": {}},
    # what a user gets out of the box: no argument, no side table
    "featvec.MatrixFactorization()": lambda dataset, data: {"model": {}, "fit": {}, "cls": "MatrixFactorization"},
}
# run only when named (--systems): the same fits data-parallel in two processes (issue 17)
DATA_PARALLEL: dict[str, Callable[[str, object], dict]] = {
    f"{name}[nproc=2]": (lambda factory, cls: lambda dataset, data: {**factory(dataset, data), "cls": cls, "nproc": 2})(
        factory, name.split(".", 1)[-1].rstrip("()"))
    for name, factory in FEATVEC_SYSTEMS.items() if "MatrixFactorization" in name}


@dataclass
class FeatvecJob:
    """Fit and score one featvec preset (runs in the measuring process)."""

    cls: str
    model: dict
    fit_kwargs: dict
    train: pd.DataFrame
    test: pd.DataFrame
    scale: tuple[float, float]
    nproc: int = 1

    def __call__(self) -> dict:
        import featvec

        model = getattr(featvec, self.cls)(**self.model)
        with Timer() as t:
            if self.nproc > 1:
                model = featvec.fit_parallel(model, self.train, nproc=self.nproc, **self.fit_kwargs)
            else:
                model.fit(self.train, **self.fit_kwargs)
        score = rmse(model.predict(self.test), self.test["rating"].to_numpy(), self.scale)
        return {"rmse": score, "fit_s": t.s}


@dataclass
class PeerJob:
    """Fit and score one peer from ``peers.PEERS``."""

    name: str
    seed: int
    train: pd.DataFrame
    test: pd.DataFrame
    scale: tuple[float, float]

    def __call__(self) -> dict:
        peer = PEERS[self.name](self.seed).setup()
        with Timer() as t:
            peer.fit(self.train, self.scale)
        score = rmse(peer.predict(self.test), self.test["rating"].to_numpy(), self.scale)
        return {"rmse": score, "fit_s": t.s, "params": peer.params}


@dataclass
class NullJob:
    """Receives the split and does nothing: the memory baseline of a measuring process."""

    train: pd.DataFrame = field(repr=False)
    test: pd.DataFrame = field(repr=False)

    def __call__(self) -> dict:
        return {}


def select_systems(systems=None) -> dict[str, Callable]:
    """None = every entry of ``FEATVEC_SYSTEMS``; an iterable of names = those; a mapping name -> factory
    is used as given (ad-hoc configurations, tests)."""
    if systems is None:
        return dict(FEATVEC_SYSTEMS)
    if isinstance(systems, Mapping):
        return dict(systems)
    every = {**FEATVEC_SYSTEMS, **DATA_PARALLEL}
    names = known_names(systems, every, "featvec system")
    return {n: every[n] for n in names}


def split(ratings: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The protocol E split of ``ratings`` (rows in file order) for ``seed``."""
    from featvec.evaluation.splits import random_split

    return random_split(ratings, test_frac=0.1, seed=seed)


def load(name: str, data_dir):
    """The MovieLens dataset ``name`` from ``data_dir`` (or ``featvec.datasets.find_data_dir()``)."""
    from featvec.datasets import find_data_dir, load_movielens

    data_dir = data_dir if data_dir is not None else find_data_dir()
    if data_dir is None:
        raise FileNotFoundError("no data directory: pass --data DIR or set FEATVEC_DATA "
                                "(see BENCHMARKS.md for the expected layout)")
    return load_movielens(name, data_dir=data_dir)


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (int, float, str, bool)) or obj is None:
        return obj
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return f"<{type(obj).__name__} {obj.shape}>"
    return repr(obj)


def make_row(dataset: str, seed: int, system: str, result: dict, params: dict | None = None) -> dict:
    """One protocol E output record in the BENCHMARKS.md key order (or the error form)."""
    row = {"protocol": "E", "dataset": dataset, "seed": int(seed), "system": system}
    if "error" in result:
        row["error"] = str(result["error"])
        return row
    row["rmse"] = round(float(result["rmse"]), 6)
    row["fit_s"] = round(float(result["fit_s"]), 3)
    row["peak_rss_mb"] = round(float(result["peak_rss_mb"]), 1)
    row["params"] = _jsonable(result.get("params", params or {}))
    return row


def run_protocol_e(data_dir=None, datasets: Iterable[str] = DATASETS, seeds: Iterable[int] = (0, 1, 2),
                   systems=None, peers=True, out_dir="bench-results", emit: Callable[[str], None] | None = print,
                   *, frames: Mapping[str, pd.DataFrame] | None = None, isolate: bool = True,
                   timeout: float | None = None, log: Callable[[str], None] | None = None) -> list[dict]:
    """Run protocol E; return the result records, ``emit`` each as a JSON line as soon as it is known, and
    write ``<out_dir>/E.md`` and ``E.jsonl`` (unless ``out_dir`` is None).

    ``systems``: featvec systems (see ``select_systems``); ``peers``: True (all peers meant for the dataset),
    False, or peer names. ``frames`` maps a dataset name to a ratings frame (user_id, item_id, rating) used
    instead of loading it. ``isolate`` runs each system in a fresh Python process (fair peak memory);
    ``timeout`` (seconds) bounds each isolated job.
    """
    chosen = select_systems(systems)
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    seeds = [int(s) for s in ([seeds] if isinstance(seeds, int) else seeds)]
    rows: list[dict] = []
    baselines: dict[str, float] = {}
    log = log or (lambda msg: None)

    def record(row):
        rows.append(row)
        if emit is not None:
            emit(json.dumps(row))

    for name in datasets:
        peer_names = peers_for(name, peers)
        if frames is not None and name in frames:
            data, ratings = None, frames[name]
        else:
            data = load(name, data_dir)
            ratings = data.ratings
        ratings = ratings[COLS]
        for seed in seeds:
            train, test = split(ratings, seed)
            train, test = train.reset_index(drop=True), test.reset_index(drop=True)
            scale = (float(train["rating"].min()), float(train["rating"].max()))
            if isolate and name not in baselines:
                base = run_job(NullJob(train, test), isolate=True, timeout=timeout)
                if "peak_rss_mb" in base:
                    baselines[name] = base["peak_rss_mb"]
            for system, factory in chosen.items():
                log(f"E {name} seed {seed}: {system}")
                record(_run_featvec(system, factory, name, data, seed, (train, test, scale), isolate, timeout))
            for peer in peer_names:
                log(f"E {name} seed {seed}: {peer}")
                result = run_job(PeerJob(peer, seed, train, test, scale), isolate, timeout)
                record(make_row(name, seed, peer, result))
    if out_dir is not None:
        from featvec.bench.report import write_report

        write_report(rows, out_dir, "E", notes=_notes(isolate, baselines))
    return rows


def _run_featvec(system: str, factory, name: str, data, seed: int, split_data: tuple, isolate: bool,
                 timeout) -> dict:
    """One featvec system on one split: its result row (a broken configuration is reported like a failing
    system)."""
    train, test, scale = split_data
    try:
        spec = factory(name, data)
        model = {"seed": seed, **spec.get("model", {})}
        fit_kwargs = dict(spec.get("fit", {}))
        cls = spec.get("cls", system.split(".", 1)[-1])
    except Exception as exc:
        return make_row(name, seed, system, {"error": f"{type(exc).__name__}: {exc}"})
    params = {**model, **({"fit": sorted(fit_kwargs)} if fit_kwargs else {})}
    nproc = int(spec.get("nproc", 1))
    if nproc > 1:
        params["nproc"] = nproc
    result = run_job(FeatvecJob(cls, model, fit_kwargs, train, test, scale, nproc), isolate, timeout)
    return make_row(name, seed, system, result, params)


def _notes(isolate: bool, baselines: dict) -> list[str]:
    """The report's notes on peak RSS and timing."""
    if isolate:
        rss = ("peak RSS: VmHWM of a fresh Python process per (system, seed) -- interpreter, "
               "imports (featvec/torch for every job), the split, fit and predict; baseline of such a "
               "process doing nothing: " + ", ".join(f"{k} {v:.0f} MB" for k, v in baselines.items()))
    else:
        rss = "peak RSS: process-wide peak so far (monotonic over the run; not isolated)"
    return [rss, "fit s: perf_counter around fit only (includes the library's own data preparation); "
                 "RMSE on test, predictions clipped to the rating scale; std over seeds with ddof=1"]
