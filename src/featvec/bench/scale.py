"""Protocol S (BENCHMARKS.md), implicit part: fit + full evaluation at scale on generated data.

Data: ``featvec.datasets.synthetic_ratings(n_users, n_items, n_ratings, rank=16, seed)`` (Zipf item
popularity, planted factors); every generated (user, item) row is an interaction (an event log without
ratings). Split: ``per_user_split(interactions, 0.2, 5, seed)`` as in protocol I. Each system fits on train
and is ranked by ``featvec.evaluation.ranking.full_ranking`` (every item for every test user, train items masked).

Each job runs in a fresh process (``measure.run_job``): ``peak_rss_mb`` is that process's peak (the
interpreter, imports, the split it receives, fit and evaluation). Reported: fit_s, eval_s, total_s,
recall20, ndcg20. Sizes: ``1M`` (6,040 users x 3,706 items, ML-1M shape) and ``20M`` (138,493 users x
26,744 items, ML-20M shape), ``100M`` (5x the users). ``device``: where featvec's ALS fits and scores
("cuda" on a GPU machine: its name and peak GPU memory are reported).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

from featvec.bench.implicit import Task
from featvec.bench.measure import Timer, gpu_memory, run_job

SIZES = {"1M": (6_040, 3_706, 1_000_209), "20M": (138_493, 26_744, 20_000_263),
         "100M": (692_465, 26_744, 100_001_315)}  # the GPU run of issue 17 (ML-20M's density, 5x the users)
ALS_PARAMS = {"dim": 64, "reg": 0.2, "alpha": 1.0, "reg_exponent": 1.0, "iterations": 15}


@dataclass
class ScaleJob:
    size: str
    seed: int
    system: str
    device: str = "cpu"

    def __call__(self) -> dict:
        from featvec.evaluation.splits import per_user_split
        from featvec.datasets import synthetic_ratings

        n_users, n_items, n = SIZES[self.size]
        with Timer() as tg:
            data = synthetic_ratings(n_users, n_items, n, rank=16, seed=self.seed)
            inter = data.ratings[["user_id", "item_id"]]
            del data
            task = Task.build(*per_user_split(inter, 0.2, 5, self.seed))
            del inter
        out = {"n_train": int(task.train_csr[1].size), "n_test": int(task.test_csr[1].size),
               "generate_s": tg.s}
        if self.system == "featvec.ImplicitRecommender[als]":
            import featvec

            model = featvec.ImplicitRecommender(seed=self.seed, solver="als", device=self.device, **ALS_PARAMS)
            with Timer() as t:
                model.fit(task.train)
            out.update(gpu_memory(self.device))
            urows = model.users_.rows(task.user_ids)
            icols = model.items_.rows(task.item_ids) - 1
            score_fn = lambda us: model._score_rows(urows[us])[:, icols]  # noqa: E731
            out["params"] = {"seed": self.seed, **ALS_PARAMS}
        elif self.system == "implicit.ALS":
            from featvec.bench.peers_implicit import ImplicitALS

            peer = ImplicitALS(self.seed, factors=64, regularization=10.0, alpha=1.0, iterations=15).setup()
            ptr, idx = task.train_csr
            with Timer() as t:
                peer.fit((ptr, idx, len(task.user_ids), len(task.item_ids)))
            score_fn = peer.scores
            out["params"] = peer.params
        else:
            from featvec.bench.peers_implicit import Popularity

            peer = Popularity(self.seed)
            ptr, idx = task.train_csr
            with Timer() as t:
                peer.fit((ptr, idx, len(task.user_ids), len(task.item_ids)))
            score_fn = peer.scores
            out["params"] = {}
        t0 = time.perf_counter()
        out.update(task.score(score_fn))
        out["eval_s"] = time.perf_counter() - t0
        out["fit_s"] = t.s
        out["total_s"] = out["fit_s"] + out["eval_s"]
        return out


SYSTEMS = ("featvec.ImplicitRecommender[als]", "implicit.ALS", "popularity")


def run_protocol_s(sizes=("20M",), seeds=(0,), systems=SYSTEMS, peers=True, out_dir="bench-results",
                   emit: Callable[[str], None] | None = print, log: Callable[[str], None] | None = None,
                   timeout: float | None = None, device: str = "cpu") -> list[dict]:
    log = log or (lambda msg: None)
    rows = []
    for size in ([sizes] if isinstance(sizes, str) else sizes):
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; one of {list(SIZES)}")
        for seed in ([seeds] if isinstance(seeds, int) else seeds):
            for system in systems:
                if not peers and not system.startswith("featvec."):
                    continue
                log(f"S {size} seed {seed}: {system}")
                res = run_job(ScaleJob(size, int(seed), system, device), isolate=True, timeout=timeout)
                row = {"protocol": "S", "dataset": f"synthetic-{size}", "seed": int(seed), "system": system}
                if "error" in res:
                    row["error"] = res["error"]
                else:
                    for k in ("recall20", "ndcg20", "fit_s", "eval_s", "total_s", "generate_s", "peak_rss_mb"):
                        row[k] = round(float(res[k]), 4 if k in ("recall20", "ndcg20") else 1)
                    row.update({k: res[k] for k in ("n_train", "n_test", "params")})
                rows.append(row)
                if emit is not None:
                    emit(json.dumps(row))
    if out_dir is not None:
        from featvec.bench.report import write_report

        write_report(rows, out_dir, "S", metrics=["recall20", "ndcg20", "total_s", "eval_s"],
                     notes=["fit + full evaluation (every item ranked for every test user, train items masked); "
                            "peak RSS: VmHWM of a fresh process per job (generation and split included)",
                            "synthetic interactions: item choice is Zipf-popularity driven, so recall is close "
                            "to popularity's by construction; the point here is time and memory"])
    return rows

