"""Run one benchmark job and measure it: fit seconds, peak RSS, and isolation in a fresh process.

Peak memory is measured per job in a fresh interpreter (``sys.executable``; the caller's sys.path and the
pickled job on stdin, the pickled result back on stdout): ``peak_rss_mb`` is that process's
peak RSS (``VmHWM``, see ``peak_rss_mb``), so it covers the interpreter, the imports the system needs (torch for featvec and fastai, ...), the train/test frames it receives and everything its fit
and predict allocate -- and nothing any other system allocated before it. 'fork' is not used on purpose:
forking a process whose OpenMP thread pool has already run torch work (libgomp, torch's CPU backend)
leaves the child spinning forever, and a forked child's RSS would also include whatever the parent held.
Spawning costs the imports once per job (about 3 s with torch, 10 s with fastai), which are not part of
``fit_s``. (Not ``multiprocessing`` 'spawn' either: it re-imports the caller's ``__main__``, which breaks
scripts without an ``if __name__ == "__main__"`` guard.)

``isolate=False`` runs the job in the calling process instead (tests, debugging): ``peak_rss_mb`` is then
the whole process's peak so far, which is monotonic over the run and only an upper bound for the job.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import resource
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB.

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark of this process image. Not ``ru_maxrss``:
    the kernel carries it across fork + exec, so a fresh child would report at least its parent's RSS.
    Elsewhere ``ru_maxrss`` (KiB; bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def known_names(selection, known, what: str) -> list[str]:
    """``selection`` (a name or an iterable of names) as a list, each checked against ``known``."""
    names = [selection] if isinstance(selection, str) else list(selection)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; known: {list(known)}")
    return names


def error_text(exc: BaseException) -> str:
    msg = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ImportError):
        msg += " (peers are optional: pip install 'featvec[bench]')"
    return msg


def rmse(pred, y, scale: tuple[float, float]) -> float:
    """RMSE of predictions clipped to the rating scale; non-finite predictions are an error, not a score."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.size == 0:
        raise ValueError("empty test set")
    if pred.shape != y.shape:
        raise ValueError(f"got {pred.shape[0]} predictions for {y.shape[0]} test rows")
    if not np.isfinite(pred).all():
        raise ValueError(f"{int((~np.isfinite(pred)).sum())} non-finite predictions")
    return float(np.sqrt(np.mean((np.clip(pred, *scale) - y) ** 2)))


def gpu_memory(device: str) -> dict:
    """On a CUDA ``device``: the card's name and the peak GPU memory torch allocated (MB); else nothing."""
    import torch

    if device in (None, "cpu") or not torch.cuda.is_available():
        return {}
    return {"gpu": torch.cuda.get_device_name(), "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20}


def run_job(job: Callable[[], dict], isolate: bool = True, timeout: float | None = None,
            env: dict | None = None) -> dict:
    """Run ``job()`` (a picklable callable returning a dict of metrics) and add ``peak_rss_mb``.

    Returns the job's dict, or ``{"error": "..."}`` if it raised, crashed or timed out. The job's own
    stdout goes to stderr so that stdout carries only the JSON lines. ``env``: variables set in the
    measuring process before it starts (thread counts); ignored with ``isolate=False``.
    """
    if not isolate:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                out = job()
        except Exception as exc:  # a failing system is reported, not fatal
            return {"error": error_text(exc)}
        out["peak_rss_mb"] = peak_rss_mb()
        return out
    # A fresh interpreter (not multiprocessing 'spawn', which re-imports the caller's
    # __main__ and so breaks unguarded scripts). It gets sys.path, then the job, on stdin.
    payload = pickle.dumps(list(sys.path)) + pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    proc = subprocess.Popen([sys.executable, "-c", _BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    try:
        data, _ = proc.communicate(payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": f"timed out after {timeout} s"}
    try:
        return pickle.loads(data)
    except Exception:
        return {"error": f"the benchmark process died (exit code {proc.returncode})"}


_BOOT = ("import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
         "from featvec.bench.measure import _child; _child()")


def _child() -> None:
    """The measuring process: read the pickled job on stdin, pickle its result to stdout."""
    result = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    try:
        job = pickle.load(stdin)
        out = job()
        out["peak_rss_mb"] = peak_rss_mb()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out = {"error": error_text(exc)}
    pickle.dump(out, result)
    result.close()


class Timer:
    """``with Timer() as t: ...`` then ``t.s``: wall seconds by ``time.perf_counter``."""

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.s = time.perf_counter() - self._t0

