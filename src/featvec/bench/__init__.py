"""featvec benchmarks: the protocols of BENCHMARKS.md, run against peers on the same split in one run.

``main`` is what ``featvec bench`` calls; ``run_protocol_e`` is protocol E; ``write_report`` /
``markdown`` turn records of any protocol into the markdown table. Peers are optional
(``pip install 'featvec[bench]'``) and imported only when run.
"""
from __future__ import annotations

import sys
from typing import Iterable

from featvec.bench.feat2vec import DATASETS as F_DATASETS, run_protocol_f
from featvec.bench.implicit import DATASETS as I_DATASETS, run_protocol_i
from featvec.bench.ratings import DATASETS, FEATVEC_SYSTEMS, run_protocol_e
from featvec.bench.report import markdown, write_report

PROTOCOLS = ("E", "I", "U", "L", "F", "T", "S", "W", "O")

__all__ = ["main", "run_protocol_e", "run_protocol_i", "run_protocol_f", "FEATVEC_SYSTEMS", "PROTOCOLS", "markdown", "write_report"]


def main(protocol: str, data_dir=None, datasets: Iterable[str] | None = None, seeds: Iterable[int] = (0, 1, 2),
         peers=True, out_dir="bench-results", systems=None, threads: Iterable[int] | None = None,
         device: str = "cpu") -> int:
    """Run ``protocol``: JSON lines on stdout (one per system, dataset and seed), the markdown table and the
    JSONL in ``out_dir``. Returns 0, or 1 when a featvec system failed (failing peers are reported in their
    rows and do not change the exit status). Progress goes to stderr.
    """
    p = str(protocol).strip().upper()
    if p not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
    emit = lambda line: print(line, flush=True)  # noqa: E731
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if p == "W":
        from featvec.bench.serving import DATASETS as W_DATASETS, run_protocol_w

        rows = run_protocol_w(data_dir, datasets=tuple(datasets) if datasets else W_DATASETS, seeds=seeds,
                              out_dir=out_dir, emit=emit, log=log)
        return 1 if any(r.get("errors") for r in rows) else 0
    if p == "T":
        from featvec.bench.throughput import DATASETS as T_DATASETS, THREADS, run_protocol_t

        rows = run_protocol_t(data_dir, datasets=tuple(datasets) if datasets else T_DATASETS, seeds=seeds,
                              systems=systems, peers=peers, out_dir=out_dir, threads=threads or THREADS,
                              emit=emit, log=log, device=device)
        return 1 if any("error" in r and r["system"].startswith("featvec.") for r in rows) else 0
    if p == "U":
        from featvec.bench.user_model import run_protocol_u

        rows = run_protocol_u(data_dir, seeds=seeds, systems=systems, peers=peers, out_dir=out_dir,
                              emit=emit, log=log)
        return 1 if any("error" in r and r["system"].startswith("featvec.") for r in rows) else 0
    if p == "L":
        from featvec.bench.lookalike import run_protocol_l

        rows = run_protocol_l(data_dir, seeds=seeds, systems=systems, peers=peers, out_dir=out_dir,
                              emit=emit, log=log)
        return 1 if any("error" in r and r["system"].startswith("featvec.") for r in rows) else 0
    if p == "O":
        from featvec.bench.outofcore import run_protocol_o

        sizes = [str(d).replace("synthetic-", "") for d in datasets] if datasets else ["20M"]
        rows = run_protocol_o(sizes, seeds=seeds, out_dir=out_dir, emit=emit, log=log,
                              **({"stages": tuple(systems)} if systems else {}))
        return 1 if any("error" in r for r in rows) else 0
    if p == "S":
        from featvec.bench.scale import run_protocol_s

        sizes = [str(d).replace("synthetic-", "") for d in datasets] if datasets else ["20M"]
        rows = run_protocol_s(sizes, seeds=seeds, peers=peers, out_dir=out_dir,
                              emit=emit, log=log, device=device)
        return 1 if any("error" in r and r["system"].startswith("featvec.") for r in rows) else 0
    runner = {"E": run_protocol_e, "I": run_protocol_i, "F": run_protocol_f}[p]
    default = {"E": DATASETS, "I": I_DATASETS, "F": F_DATASETS}[p]
    rows = runner(data_dir, datasets=tuple(datasets) if datasets else default, seeds=seeds,
                          systems=systems, peers=peers, out_dir=out_dir,
                          emit=emit, log=log)
    failed = [r for r in rows if "error" in r and r["system"].startswith("featvec.")]
    return 1 if failed else 0
