"""Protocol L report: mean (± std over seeds) look-alike AUC per system, per category, and block shares."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from featvec.bench.report import mean_std_cell, write_files




def markdown_l(rows: list[dict]) -> str:
    seeds = sorted({r["seed"] for r in rows})
    ok = [r for r in rows if "error" not in r]
    cats = list(dict.fromkeys(c for r in ok for c in r.get("auc_by_category", {})))
    lines = [f"### localytics (seeds {', '.join(map(str, seeds))})", "",
             "| system | AUC (audience) | AUC (single top funder) | " + " | ".join(cats) + " | fit s |",
             "|---" * (4 + len(cats)) + "|"]
    for system in dict.fromkeys(r["system"] for r in rows):
        rs = [r for r in rows if r["system"] == system]
        errs = [r["error"] for r in rs if "error" in r]
        if errs:
            lines.append(f"| {system} | error: {errs[0]} |" + " |" * (2 + len(cats)))
            continue
        per = [mean_std_cell([r["auc_by_category"].get(c) for r in rs]) for c in cats]
        lines.append(f"| {system} | {mean_std_cell([r['auc'] for r in rs])} | {mean_std_cell([r.get('auc_single') for r in rs])} | "
                     + " | ".join(per) + f" | {np.mean([r.get('fit_s', 0) for r in rs]):.1f} |")
    for key, what in (("block_share", "normalised blocks, equal weights"),
                      ("block_share_raw", "raw blocks concatenated as in notebook 001 (latitude/longitude in degrees)")):
        for system in dict.fromkeys(r["system"] for r in ok if key in r):
            shares = [r[key] for r in ok if r["system"] == system and key in r]
            keys = list(shares[0])
            lines += ["", f"{system}, {what}: each block's share of the absolute score contributions (mean over "
                      "categories and seeds): " + ", ".join(f"{k} {np.mean([s[k] for s in shares]):.2f}" for k in keys)]
    return "\n".join(lines) + "\n"


def write_report_l(rows: list[dict], out_dir) -> Path:
    return write_files(rows, out_dir, "L", "## Protocol L\n\n" + markdown_l(rows))[0]
