"""Protocol F report: each system's mean (± std over seeds) percentile ranks and hit rates."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from featvec.bench.report import mean_std_cell, write_files

COLUMNS = [("mpr_movie", "movie MPR ↓"), ("hit1_movie", "movie top-1"), ("hit10_movie", "movie top-10"),
           ("mpr_rating", "rating MPR ↓"), ("hit1_rating", "rating top-1"), ("fit_s", "fit s"),
           ("records_per_s", "records/s")]


def _cell(vals: list[float], key: str) -> str:
    if not vals:
        return ""
    if key in ("fit_s", "records_per_s"):
        return f"{np.mean(vals):,.0f}" if key == "records_per_s" else f"{np.mean(vals):.1f}"
    return mean_std_cell(vals)


def markdown_f(rows: list[dict]) -> str:
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == dataset]
        seeds = sorted({r["seed"] for r in mine})
        n_test = sorted({r.get("n_test") for r in mine if "n_test" in r})
        lines += [f"### {dataset} (seeds {', '.join(map(str, seeds))}; test records {n_test})", "",
                  "| system | " + " | ".join(h for _, h in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
        for system in dict.fromkeys(r["system"] for r in mine):
            rs = [r for r in mine if r["system"] == system]
            errs = [r["error"] for r in rs if "error" in r]
            if errs:
                lines.append(f"| {system} | error: {errs[0]} |" + " |" * (len(COLUMNS) - 1))
                continue
            lines.append(f"| {system} | " + " | ".join(_cell([r[k] for r in rs if k in r], k) for k, _ in COLUMNS) + " |")
        lines.append("")
    return "\n".join(lines)


def write_report_f(rows: list[dict], out_dir) -> Path:
    return write_files(rows, out_dir, "F", "## Protocol F\n\n" + markdown_f(rows) + "\n")[0]
