"""Protocol W (BENCHMARKS.md): ``featvec serve`` under load, on loopback only.

Per dataset: a model is fitted and saved (ML-100K: ``MatrixFactorization()``; ``synthetic-1M-items``: an
ALS ``ImplicitRecommender`` over a generated catalogue of about a million items), ``featvec serve`` is started
on 127.0.0.1 in its own process, and a client in this process sends ``requests`` requests per endpoint over
``clients`` keep-alive connections, each thread from its own seeded stream: recommend k=10 for a random known
user, similar k=10 for a random item. Bounded in count and in time (``time_limit`` seconds per endpoint).
Reported: req/s (requests / wall seconds), p50 / p95 / p99 latency (ms, as the client sees it), errors (any
status but 200 or a failed connection), the requests sent, the server's peak RSS (VmHWM), and how the server
searched: exact, or a faiss index (catalogues of ``featvec.ann.MIN_ROWS`` items or more, faiss installed),
with its recall@10 against the exact answer on 200 random users / items (measured in this process).
"""
from __future__ import annotations

import http.client
import itertools
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

DATASETS = ("ml-100k", "synthetic-1M-items")
ENDPOINTS = ("recommend", "similar")


def build_model(dataset: str, data_dir, folder: Path, seed: int) -> tuple[Path, list, list]:
    """Fit and save the dataset's model; returns (its folder, the user ids, the item ids)."""
    import featvec

    if dataset.startswith("synthetic-"):
        n_items = _size(dataset.removeprefix("synthetic-").removesuffix("-items"))
        from featvec.datasets import synthetic_ratings

        r = synthetic_ratings(n_users=max(100, n_items // 50), n_items=n_items, n_ratings=3 * n_items, seed=seed,
                              zipf=0.0).ratings[["user_id", "item_id"]]
        model = featvec.ImplicitRecommender(solver="als", dim=64, iterations=3, seed=seed).fit(r)
    else:
        from featvec.bench.ratings import load

        model = featvec.MatrixFactorization(seed=seed).fit(load(dataset, data_dir).ratings)
    path = model.save(folder / dataset)
    return path, list(model.users_.vocab.values), list(model.items_.vocab.values)


def _size(text: str) -> int:
    units = {"K": 1_000, "M": 1_000_000}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1:].upper() in units else int(text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: Path, port: int, timeout: float = 120.0) -> subprocess.Popen:
    """``featvec serve`` on 127.0.0.1:``port``, answering /health (or a RuntimeError with its output)."""
    proc = subprocess.Popen([sys.executable, "-m", "featvec.cli", "serve", str(path), "--port", str(port),
                             "--log-level", "warning", "--reload-every", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"featvec serve exited: {proc.stdout.read()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"featvec serve did not answer within {timeout:.0f} s")


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def load_test(port: int, make: Callable[[np.random.Generator], tuple[str, dict]], requests: int, clients: int,
              time_limit: float, seed: int, server_pid: int | None = None) -> dict:
    """Send ``requests`` POSTs (``make(rng) -> (path, body)``) over ``clients`` keep-alive connections; with the
    CPU milliseconds per request that this process (the client) and the server (``server_pid``) spent."""
    counter, lock = itertools.count(), threading.Lock()
    latencies, errors = [], [0]
    stop_at = time.monotonic() + time_limit

    def client(i: int) -> None:
        rng = np.random.default_rng([seed, i])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        while next(counter) < requests and time.monotonic() < stop_at:
            path, body = make(rng)
            t = time.perf_counter()
            try:
                conn.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - t)
            bad += not ok
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    server0, client0 = cpu_seconds(server_pid), time.process_time()
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    client_cpu, server1 = time.process_time() - client0, cpu_seconds(server_pid)
    ms = np.asarray(latencies) * 1e3
    n = max(1, len(ms))
    return {"requests": len(ms), "req_per_s": len(ms) / wall, "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "p99_ms": float(np.percentile(ms, 99)), "errors": errors[0],
            "wall_s": wall, "client_cpu_ms": 1e3 * client_cpu / n,
            "server_cpu_ms": None if server0 is None or server1 is None else 1e3 * (server1 - server0) / n}


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (None where /proc cannot tell)."""
    import os

    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_protocol_w(data_dir=None, datasets: Iterable[str] = DATASETS, seeds: Iterable[int] = (0,),
                   out_dir="bench-results", emit: Callable[[str], None] | None = print,
                   log: Callable[[str], None] | None = None, requests: int = 10_000, clients: int = 8,
                   time_limit: float = 300.0) -> list[dict]:
    """Run protocol W; one JSON line per (dataset, seed, endpoint); ``W.md`` / ``W.jsonl`` in ``out_dir``."""
    log = log or (lambda msg: None)
    rows = []
    with tempfile.TemporaryDirectory(prefix="featvec-w-") as tmp:
        for dataset in datasets:
            for seed in seeds:
                log(f"W {dataset} seed {seed}: fitting the model")
                path, users, items = build_model(dataset, data_dir, Path(tmp), seed)
                rows += _serve_and_load(path, users, items, dataset, seed, requests, clients, time_limit, emit, log)
    if out_dir is not None:
        from featvec.bench.report import write_files

        write_files(rows, out_dir, "W", markdown_w(rows, f"{clients} concurrent keep-alive connections on "
                                                         f"127.0.0.1, at most {requests:,} requests and "
                                                         f"{time_limit:.0f} s per endpoint; k=10; latency as the "
                                                         f"client sees it, request sent to answer read"))
    return rows


def markdown_w(rows: list[dict], note: str) -> str:
    """The report: the header line of every protocol, then one table per dataset, one row per endpoint."""
    from featvec.bench.report import environment

    env = environment()
    vers = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items() if v is not None)
    lines = ["# Protocol W", "", f"{env.get('date')} · {env.get('platform')} · Python {env.get('python')} · "
             f"{env.get('cpu_count')} CPUs · torch threads {env.get('torch_threads')} · {vers}", ""]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == dataset]
        lines += [f"## {dataset} ({mine[0]['n_items']:,} items)", "",
                  "| system | seed | search | recall@10 | requests | req/s | p50 ms | p95 ms | p99 ms | errors | "
                  "CPU ms / request: server, client | server peak RSS MB |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['system']} | {r['seed']} | {r.get('index', 'exact')} | "
                  f"{'-' if r.get('recall_at_10') is None else format(r['recall_at_10'], '.3f')} | {r['requests']:,} | "
                  f"{r['req_per_s']:.1f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | "
                  f"{_ms(r.get('server_cpu_ms'))}, {_ms(r.get('client_cpu_ms'))} | {(r['server_peak_rss_mb'] or 0):,.0f} |"
                  for r in mine]
        lines.append("")
    return "\n".join(lines + [f"- {note}", ""])


def ann_recall(path: Path, users: list, items: list, seed: int, n: int = 200, k: int = 10) -> dict:
    """How the server searches this model and, for a faiss index, recall@k of its answers against the exact
    ones for ``n`` random users (recommend) and items (similar)."""
    import featvec
    from featvec import ann

    if len(items) < ann.MIN_ROWS or not ann.available():
        return {"index": "exact"}
    model = featvec.load(path)
    rng = np.random.default_rng(seed)
    us = [users[i] for i in rng.choice(len(users), min(n, len(users)), replace=False)]
    its = [items[i] for i in rng.choice(len(items), min(n, len(items)), replace=False)]

    def recall(exact, approx, key, col) -> float:
        e, a = exact.groupby(key)[col].apply(set), approx.groupby(key)[col].apply(set)
        return float(sum(len(e[q] & a.get(q, set())) for q in e.index) / max(1, sum(len(v) for v in e)))
    vecs = model.vectors_["items"]
    return {"index": "faiss IVF",
            "recall_recommend": recall(model.recommend(us, k=k), model.recommend(us, k=k, approximate=True),
                                       model.user_col, model.item_col),
            "recall_similar": recall(vecs.similar(its, k=k), vecs.similar(its, k=k, approximate=True), "query",
                                     "label")}


def _ms(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _serve_and_load(path, users, items, dataset, seed, requests, clients, time_limit, emit, log) -> list[dict]:
    name = path.name
    make = {"recommend": lambda rng: (f"/models/{name}/recommend",
                                      {"users": [users[rng.integers(len(users))]], "k": 10}),
            "similar": lambda rng: (f"/models/{name}/similar", {"ids": [items[rng.integers(len(items))]], "k": 10})}
    search = ann_recall(path, users, items, seed)
    port = _free_port()
    proc = start_server(path, port)
    rows = []
    try:
        for endpoint in ENDPOINTS:
            log(f"W {dataset} seed {seed}: {endpoint}")
            res = load_test(port, make[endpoint], requests, clients, time_limit, seed, proc.pid)
            row = {"protocol": "W", "dataset": dataset, "seed": seed, "system": f"featvec.serve[{endpoint}]",
                   "n_items": len(items), **{k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()},
                   "server_peak_rss_mb": peak_rss_mb(proc.pid), "index": search["index"],
                   "recall_at_10": search.get(f"recall_{endpoint}")}
            rows.append(row)
            if emit is not None:
                emit(json.dumps(row))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows
