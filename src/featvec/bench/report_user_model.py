"""Protocol U report: per task, each system's pooled metrics (mean ± std over seeds)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from featvec.bench.report import mean_std_cell, write_files

TASKS = (("gender", ("auc", "accuracy", "macro_f1", "log_loss", "ece")),
         ("age", ("accuracy", "macro_f1", "log_loss", "ece")),
         ("occupation", ("accuracy", "macro_f1", "log_loss", "ece")))




def markdown_u(rows: list[dict]) -> str:
    seeds = sorted({r["seed"] for r in rows})
    lines = [f"### ml-100k users, 5-fold (seeds {', '.join(map(str, seeds))})", ""]
    systems = list(dict.fromkeys(r["system"] for r in rows))
    for task, metrics in TASKS:
        lines += [f"**{task}**", "", "| system | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        for s in systems:
            rs = [r for r in rows if r["system"] == s]
            errs = [r["error"] for r in rs if "error" in r]
            if errs:
                lines.append(f"| {s} | error: {errs[0]} |" + " |" * (len(metrics) - 1))
                continue
            lines.append(f"| {s} | " + " | ".join(mean_std_cell([r[f"{task}_{m}"] for r in rs]) for m in metrics) + " |")
        lines.append("")
    fit = {s: np.mean([r.get("fit_s", 0) for r in rows if r["system"] == s and "error" not in r] or [0]) for s in systems}
    lines.append("fit seconds (5 folds): " + ", ".join(f"{s} {v:.1f}" for s, v in fit.items()))
    return "\n".join(lines) + "\n"


def write_report_u(rows: list[dict], out_dir) -> Path:
    return write_files(rows, out_dir, "U", "## Protocol U\n\n" + markdown_u(rows))[0]
