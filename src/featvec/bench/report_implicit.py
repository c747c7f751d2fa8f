"""Protocol I report: each system's best setting, the whole grid, and featvec's ALS against implicit's ALS
setting by setting (same factors, regularisation, confidence and iterations)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from featvec.bench.report import markdown, write_files

ALS_PAIR = ("featvec.ImplicitRecommender[als]", "implicit.ALS")


def _mean(rows, key):
    vals = [r[key] for r in rows if key in r]
    return float(np.mean(vals)) if vals else float("nan")


def grid_table(rows: list[dict]) -> list[str]:
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        lines += [f"### {dataset}: every setting (mean over seeds)", "",
                  "| system | setting | recall20 | ndcg20 | fit s | params |", "|---|---|---|---|---|---|"]
        groups: dict[tuple[str, int], list[dict]] = {}
        for r in rows:
            if r["dataset"] == dataset:
                groups.setdefault((r["system"], r["setting"]), []).append(r)
        for (system, j), rs in groups.items():
            ok = [r for r in rs if "error" not in r]
            if not ok:
                lines.append(f"| {system} | {j} | error: {rs[0]['error']} | | | |")
                continue
            params = {k: v for k, v in ok[0].get("params", {}).items() if k not in ("seed", "random_state")}
            mark = " **best**" if ok[0].get("best") else ""
            lines.append(f"| {system} | {j}{mark} | {_mean(ok, 'recall20'):.4f} | {_mean(ok, 'ndcg20'):.4f} | "
                         f"{_mean(ok, 'fit_s'):.2f} | `{json.dumps(params)}` |")
        lines.append("")
    return lines


def als_table(rows: list[dict]) -> list[str]:
    """featvec ALS vs implicit ALS for each shared grid setting: fit-time ratio and recall difference."""
    ours, theirs = ALS_PAIR
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        f = {(r["setting"], r["seed"]): r for r in rows if r["dataset"] == dataset and r["system"] == ours
             and "error" not in r}
        p = {(r["setting"], r["seed"]): r for r in rows if r["dataset"] == dataset and r["system"] == theirs
             and "error" not in r}
        keys = sorted(set(f) & set(p))
        if not keys:
            continue
        lines += [f"### {dataset}: featvec ALS vs implicit ALS, same settings (mean over seeds)", "",
                  "| setting | factors | reg | alpha (implicit) | iterations | featvec fit s | implicit fit s | "
                  "time ratio | featvec recall20 | implicit recall20 |", "|---|---|---|---|---|---|---|---|---|---|"]
        ratios = []
        for j in sorted({k[0] for k in keys}):
            fr = [f[k] for k in keys if k[0] == j]
            pr = [p[k] for k in keys if k[0] == j]
            ratio = _mean(fr, "fit_s") / _mean(pr, "fit_s")
            ratios.append(ratio)
            pp = pr[0]["params"]
            lines.append(f"| {j} | {pp['factors']} | {pp['regularization']} | {pp['alpha']} | {pp['iterations']} | "
                         f"{_mean(fr, 'fit_s'):.3f} | {_mean(pr, 'fit_s'):.3f} | {ratio:.2f} | "
                         f"{_mean(fr, 'recall20'):.4f} | {_mean(pr, 'recall20'):.4f} |")
        lines += ["", f"Time ratio featvec / implicit: median {np.median(ratios):.2f}, max {max(ratios):.2f}.", ""]
    return lines


def write_report_i(rows: list[dict], out_dir) -> tuple[Path, Path]:
    best = [r for r in rows if r.get("best")]
    notes = ["each system's row is its best grid setting by mean Recall@20 over seeds, selected on the test "
             "split for every system alike; the full grids follow",
             "full ranking over all train items, each user's train items masked; Recall@20 = hits / "
             "min(20, |test_u|); all systems scored by featvec.evaluation.ranking.full_ranking",
             "fit s: perf_counter around fit only; every job in one process, one after the other; "
             "peak RSS not measured for this protocol"]
    text = markdown(best, "I", metrics=["recall20", "ndcg20"], notes=notes)
    text += "\n" + "\n".join(grid_table(rows) + als_table(rows)) + "\n"
    return write_files(rows, out_dir, "I", text)
