"""Protocol S out of core (issue 17): protocol S's interactions written as Parquet shards, then each stage in
a fresh process, timed, with its peak RSS: generate (train / test Parquet folders, 20% of each user's items
held out for users with 5 or more), ingest (``featvec.data.ingest`` of the train folder), fit ALS and fit BPR
from the ingested folder (saved), evaluate each (full ranking, train items masked, recall@20 / ndcg@20 on the
test folder). Nothing holds the raw log in memory; the fits hold the encoded pairs.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

SIZES = {"100K": (1_000, 2_000, 100_000), "2M": (13_849, 26_744, 2_000_026), "20M": (138_493, 26_744, 20_000_263),
         "200M": (1_384_930, 26_744, 200_002_630)}
ALS = {"solver": "als", "dim": 64, "reg": 0.2, "alpha": 1.0, "reg_exponent": 1.0, "iterations": 15}
BPR = {"solver": "sgd", "loss": "bpr", "dim": 64, "epochs": 3}
STAGES = ("generate", "ingest", "fit_als", "evaluate_als", "fit_bpr", "evaluate_bpr")
# asked for by name (--systems): the fits data-parallel in two processes (featvec.fit_parallel) and their scores
PARALLEL_STAGES = ("fit_als_2proc", "evaluate_als_2proc", "fit_bpr_2proc", "evaluate_bpr_2proc")


@dataclass
class Stage:
    stage: str
    size: str
    seed: int
    root: str

    def __call__(self) -> dict:
        t = time.perf_counter()
        out = getattr(self, "_" + self.stage.split("_")[0])()
        out["seconds"] = time.perf_counter() - t
        return out

    def _generate(self) -> dict:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from featvec.datasets.synthetic import interaction_blocks

        n_users, n_items, n = SIZES[self.size]
        rows = {"train": 0, "test": 0}
        for name in rows:
            (Path(self.root) / name).mkdir(parents=True, exist_ok=True)
        for b, block in enumerate(interaction_blocks(n_users, n_items, n, seed=self.seed)):
            test = _held_out(block["user_id"].to_numpy(), np.random.default_rng([self.seed, b, 1]))
            for name, part in (("train", block[~test]), ("test", block[test])):
                pq.write_table(pa.Table.from_pandas(part, preserve_index=False), Path(self.root) / name / f"{b:05d}.parquet")
                rows[name] += len(part)
        return {"train_rows": rows["train"], "test_rows": rows["test"]}

    def _ingest(self) -> dict:
        from featvec.data import Interactions, ingest

        out = ingest(Path(self.root) / "train", Path(self.root) / "encoded")
        data = Interactions(out)
        return {"rows": data.rows, "users": len(data.users), "items": len(data.items)}

    def _fit(self) -> dict:
        import featvec
        from featvec.data import Interactions

        kind = self.stage.split("_")[1]
        params = ALS if kind == "als" else BPR
        model, data = featvec.ImplicitRecommender(seed=self.seed, **params), Interactions(Path(self.root) / "encoded")
        if self.stage.endswith("_2proc"):  # the children's memory is not in this process's peak RSS
            featvec.fit_parallel(model, data, nproc=2).save(Path(self.root) / f"model-{kind}-2proc")
            return {"params": {**params, "nproc": 2}}
        model.fit(data).save(Path(self.root) / f"model-{kind}")
        return {"params": params}

    def _evaluate(self) -> dict:
        import pandas as pd

        import featvec

        kind = self.stage.split("_")[1]
        model = featvec.load(Path(self.root) / f"model-{kind}{'-2proc' if self.stage.endswith('_2proc') else ''}")
        test = pd.read_parquet(Path(self.root) / "test")
        res = featvec.evaluate(model, test, k=20)
        return {k: v for k, v in res.items() if k in ("recall@20", "ndcg@20", "n_users", "dropped_rows")}


def _held_out(users: np.ndarray, rng: np.random.Generator, frac: float = 0.2, min_items: int = 5) -> np.ndarray:
    """A mask of rows held out: ``frac`` of each user's rows (rounded) where the user has ``min_items`` or more."""
    order = np.lexsort((rng.random(len(users)), users))
    u = users[order]
    starts = np.r_[0, np.flatnonzero(np.diff(u)) + 1]
    counts = np.diff(np.r_[starts, len(u)])
    rank = np.arange(len(u)) - np.repeat(starts, counts)
    take = np.repeat(np.where(counts >= min_items, np.round(frac * counts), 0), counts)
    mask = np.zeros(len(users), bool)
    mask[order[rank < take]] = True
    return mask


def run_protocol_o(sizes=("20M",), seeds=(0,), root=None, out_dir="bench-results",
                   emit: Callable[[str], None] | None = print, log: Callable[[str], None] | None = None,
                   stages=STAGES, timeout: float | None = None) -> list[dict]:
    """Run the stages for each size and seed; one JSON row per stage (seconds, peak RSS, what it measured).
    ``root``: where the folders go (default: a temporary folder, removed after)."""
    from featvec.bench.measure import run_job

    log = log or (lambda msg: None)
    rows = []
    for size in ([sizes] if isinstance(sizes, str) else sizes):
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; one of {list(SIZES)}")
        unknown = [st for st in stages if st not in STAGES + PARALLEL_STAGES]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; stages: {list(STAGES + PARALLEL_STAGES)}")
        for seed in ([seeds] if isinstance(seeds, int) else seeds):
            where = Path(root) if root else Path(tempfile.mkdtemp(prefix=f"featvec-o-{size}-"))
            try:
                for stage in stages:
                    log(f"O {size} seed {seed}: {stage}")
                    res = run_job(Stage(stage, size, int(seed), str(where)), isolate=True, timeout=timeout)
                    row = {"protocol": "O", "dataset": f"synthetic-{size}-parquet", "seed": int(seed),
                           "system": f"featvec.{stage}", **{k: _round(v) for k, v in res.items()}}
                    rows.append(row)
                    if emit is not None:
                        emit(json.dumps(row))
                    if "error" in res:
                        break
            finally:
                if not root:
                    shutil.rmtree(where, ignore_errors=True)
    if out_dir is not None:
        from featvec.bench.report import write_files

        write_files(rows, out_dir, "O", markdown_o(rows))
    return rows


def _round(v):
    return round(v, 4) if isinstance(v, float) else v


def markdown_o(rows: list[dict]) -> str:
    from featvec.bench.report import environment

    env = environment()
    lines = ["# Protocol O (S out of core)", "", f"{env.get('date')} · {env.get('platform')} · {env.get('cpu_count')} CPUs",
             "", "| dataset | seed | stage | seconds | peak RSS MB | measured |", "|---|---|---|---|---|---|"]
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in ("protocol", "dataset", "seed", "system", "seconds",
                                                        "peak_rss_mb", "params")}
        lines.append(f"| {r['dataset']} | {r['seed']} | {r['system']} | {r.get('seconds', float('nan')):.1f} | "
                     f"{(r.get('peak_rss_mb') or 0):,.0f} | {json.dumps(extra)} |")
    return "\n".join(lines + [""])
