"""Markdown (and JSONL) reports of benchmark records, for any protocol.

Records are the protocol's output dicts: ``dataset``, ``seed``, ``system``, metric keys (any other numeric
key, e.g. ``rmse``, ``recall20``, ``accuracy_gender``), optionally ``fit_s``, ``peak_rss_mb``, ``params``,
or ``error``. ``markdown`` groups them into one table per dataset with one row per system: every metric as
mean ± std over seeds, the per-seed values of the primary metric (the first one), mean fit seconds and the
largest peak RSS.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

NON_METRIC = {"protocol", "dataset", "seed", "system", "fit_s", "peak_rss_mb", "params", "error"}


def metric_keys(rows: Iterable[dict]) -> list[str]:
    """Metric keys in order of first appearance: numeric values outside the bookkeeping keys."""
    keys: list[str] = []
    for r in rows:
        for k, v in r.items():
            if k not in NON_METRIC and k not in keys and isinstance(v, (int, float)) and not isinstance(v, bool):
                keys.append(k)
    return keys


def _mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def _fmt(v: float, digits: int = 4) -> str:
    return f"{v:.{digits}f}"


def summarize(rows: Iterable[dict], metrics: Sequence[str] | None = None) -> dict[str, list[dict]]:
    """dataset -> per-system summaries ``{"system", "n", "errors", "<m>_mean", "<m>_std", "<m>_by_seed",
    "fit_s", "peak_rss_mb"}``, datasets and systems in order of first appearance."""
    rows = list(rows)
    metrics = list(metrics) if metrics is not None else metric_keys(rows)
    groups: dict[str, dict[str, list[dict]]] = {}
    for r in rows:
        groups.setdefault(str(r.get("dataset", "")), {}).setdefault(str(r["system"]), []).append(r)
    out: dict[str, list[dict]] = {}
    for dataset, systems in groups.items():
        out[dataset] = []
        for system, rs in systems.items():
            ok = [r for r in rs if "error" not in r]
            s = {"system": system, "n": len(ok), "errors": [r["error"] for r in rs if "error" in r]}
            for m in metrics:
                vals = [(r.get("seed"), float(r[m])) for r in ok if isinstance(r.get(m), (int, float))]
                s[f"{m}_by_seed"] = vals
                s[f"{m}_mean"], s[f"{m}_std"] = _mean_std([v for _, v in vals]) if vals else (None, None)
            fits = [float(r["fit_s"]) for r in ok if r.get("fit_s") is not None]
            peaks = [float(r["peak_rss_mb"]) for r in ok if r.get("peak_rss_mb") is not None]
            s["fit_s"] = sum(fits) / len(fits) if fits else None
            s["peak_rss_mb"] = max(peaks) if peaks else None
            out[dataset].append(s)
    return out


def environment() -> dict:
    """Date, machine and library versions for the report header."""
    env = {"date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
           "platform": platform.platform(), "python": platform.python_version(),
           "cpu_count": os.cpu_count()}
    try:
        import torch

        env["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is a dependency
        env["torch_threads"] = None
    versions = {}
    for dist in ("featvec", "torch", "numpy", "pandas", "scikit-surprise", "fastai", "implicit", "lightfm"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    if versions["featvec"] is None:  # running from a source tree that is not installed
        try:
            import featvec

            versions["featvec"] = featvec.__version__
        except Exception:  # pragma: no cover
            pass
    env["versions"] = versions
    return env


def markdown(rows: Iterable[dict], protocol: str, metrics: Sequence[str] | None = None,
             notes: Sequence[str] = (), env: dict | None = None, digits: int = 4) -> str:
    """The report: a header line (date, machine, versions), one table per dataset, then ``notes``."""
    rows = list(rows)
    metrics = list(metrics) if metrics is not None else metric_keys(rows)
    env = env if env is not None else environment()
    vers = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items() if v is not None)
    lines = [f"# Protocol {protocol}", "",
             f"{env.get('date')} · {env.get('platform')} · Python {env.get('python')} · "
             f"{env.get('cpu_count')} CPUs · torch threads {env.get('torch_threads')} · {vers}", ""]
    primary = metrics[0] if metrics else None
    for dataset, systems in summarize(rows, metrics).items():
        seeds = sorted({r.get("seed") for r in rows if str(r.get("dataset", "")) == dataset
                        and r.get("seed") is not None})
        head = ["system"] + [f"{m} (mean ± std)" for m in metrics]
        if primary is not None:
            head.append(f"{primary} per seed ({', '.join(str(s) for s in seeds)})")
        head += ["fit s (mean)", "peak RSS MB"]
        lines += [f"## {dataset}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for s in systems:
            cells = [s["system"]]
            if s["n"] == 0:
                err = "; ".join(sorted(set(s["errors"])))
                cells += [f"error: {err}"] + [""] * (len(head) - 2)
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
                continue
            for m in metrics:
                mean, std = s[f"{m}_mean"], s[f"{m}_std"]
                cells.append("" if mean is None else _fmt(mean, digits) + ("" if std is None
                                                                           else f" ± {_fmt(std, digits)}"))
            if primary is not None:
                by = dict(s[f"{primary}_by_seed"])
                per = ", ".join(_fmt(by[k], digits) if k in by else "error" for k in seeds)
                if s["errors"]:
                    per += f" ({len(s['errors'])} error{'s' if len(s['errors']) > 1 else ''})"
                cells.append(per)
            cells.append("" if s["fit_s"] is None else f"{s['fit_s']:.2f}")
            cells.append("" if s["peak_rss_mb"] is None else f"{s['peak_rss_mb']:.0f}")
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    for n in notes:
        lines.append(f"- {n}")
    return "\n".join(lines).rstrip() + "\n"


def mean_std_cell(values, digits: int = 4) -> str:
    """A table cell "mean ± std" (population std over the seeds) of the values that are not None; the value
    alone when there is one, "" when there is none. (The F, L and U tables use it.)"""
    vals = [v for v in values if v is not None]
    if not vals:
        return ""
    if len(vals) == 1:
        return _fmt(vals[0], digits)
    return f"{_fmt(float(np.mean(vals)), digits)} ± {_fmt(float(np.std(vals)), digits)}"


def write_files(rows: Iterable[dict], out_dir, protocol: str, text: str) -> tuple[Path, Path]:
    """Write ``text`` to ``<out_dir>/<protocol>.md`` and the rows to ``<out_dir>/<protocol>.jsonl``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, jl = out / f"{protocol}.md", out / f"{protocol}.jsonl"
    md.write_text(text, encoding="utf-8")
    jl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return md, jl


def write_report(rows: Iterable[dict], out_dir, protocol: str, metrics: Sequence[str] | None = None,
                 notes: Sequence[str] = ()) -> tuple[Path, Path]:
    """Write ``<out_dir>/<protocol>.md`` and ``<out_dir>/<protocol>.jsonl``; return both paths."""
    rows = list(rows)
    return write_files(rows, out_dir, protocol, markdown(rows, protocol, metrics, notes))
