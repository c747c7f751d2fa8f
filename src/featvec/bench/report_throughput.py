"""Protocol T's report: per dataset, every system at every thread count, and featvec's ratios to its peers."""
from __future__ import annotations

from featvec.bench.report import environment, write_files

QUALITY = ("rmse", "recall20", "accuracy_gender", "accuracy_marital")
# featvec system -> (peer, how the two compare): "rate" = samples/s ratio, "time" = fit-time ratio (peer / featvec)
PAIRS = (
    ("featvec.MatrixFactorization", "surprise.SVD", "rate"),
    ("featvec.MatrixFactorization[svdpp]", "surprise.SVDpp", "rate"),
    ("featvec.DeepRecommender", "fastai.EmbeddingDotBias", "rate"),
    ("featvec.ImplicitRecommender[bpr]", "implicit.BPR", "rate"),
    ("featvec.ImplicitRecommender[bpr]", "lightfm.BPR", "rate"),
    ("featvec.ImplicitRecommender[softmax]", "implicit.BPR", "rate"),
    ("featvec.ImplicitRecommender[softmax]", "lightfm.WARP", "rate"),
    ("featvec.ImplicitRecommender[als]", "implicit.ALS", "time"),
    ("featvec.TabularModel", "fastai.tabular", "rate"),
)


def _quality(row: dict) -> str:
    for k in QUALITY:
        if isinstance(row.get(k), (int, float)):
            return f"{k} {row[k]:.4f}"
    return ""


def _num(v, fmt: str = "{:,.0f}") -> str:
    return "" if v is None else fmt.format(v)


def ratios(rows: list[dict]) -> list[dict]:
    """featvec / peer throughput (or peer / featvec fit time) per dataset and thread count. A peer that runs
    single-threaded only (Surprise) is compared at its one thread count."""
    ok = [r for r in rows if "error" not in r]
    out = []
    for mine, peer, how in PAIRS:
        for r in (r for r in ok if r["system"] == mine):
            peers = [p for p in ok if p["system"] == peer and p["dataset"] == r["dataset"] and p["seed"] == r["seed"]]
            match = [p for p in peers if p["threads"] == r["threads"]] or [p for p in peers if p["threads"] == 1]
            if not match:
                continue
            p = match[0]
            ratio = (r["samples_per_s"] / p["samples_per_s"]) if how == "rate" else p["fit_s"] / r["fit_s"]
            out.append({"dataset": r["dataset"], "seed": r["seed"], "system": mine, "peer": peer,
                        "threads": r["threads"], "peer_threads": p["threads"], "how": how, "ratio": ratio,
                        "quality": _quality(r), "peer_quality": _quality(p)})
    return out


def markdown_t(rows: list[dict], bandwidth: dict, env: dict | None = None) -> str:
    env = env if env is not None else environment()
    vers = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items() if v is not None)
    lines = ["# Protocol T", "", f"{env.get('date')} · {env.get('platform')} · Python {env.get('python')} · "
             f"{env.get('cpu_count')} CPUs · {vers}", "",
             "Streaming bandwidth (256 MiB float32 copy, read + write, best of 5): "
             + ", ".join(f"{t} thread{'s' if t > 1 else ''} {b:.1f} GB/s" for t, b in bandwidth.items() if b), ""]
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    head = ["system", "threads", "samples/s", "fit s", "epochs", "train rows", "quality", "peak RSS MB",
            "bytes/sample", "bound samples/s"]
    for d in datasets:
        lines += [f"## {d}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in (r for r in rows if r["dataset"] == d):
            if "error" in r:
                cells = [r["system"], str(r["threads"]), "error: " + r["error"]] + [""] * (len(head) - 3)
            else:
                cells = [r["system"], str(r["threads"]), _num(r.get("samples_per_s")),
                         _num(r.get("fit_s"), "{:.2f}"), _num(r.get("epochs"), "{}"), _num(r.get("n_train")),
                         _quality(r), _num(r.get("peak_rss_mb")), _num(r.get("bytes_per_sample")),
                         _num(r.get("bound_samples_per_s"))]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    rat = ratios(rows)
    if rat:
        lines += ["## featvec against its peers", "",
                  "| dataset | featvec system | peer | threads (featvec / peer) | ratio | featvec quality | peer quality |",
                  "|---|---|---|---|---|---|---|"]
        for x in rat:
            what = "x samples/s" if x["how"] == "rate" else "x faster fit"
            lines.append(f"| {x['dataset']} | {x['system']} | {x['peer']} | {x['threads']} / {x['peer_threads']} | "
                         f"{x['ratio']:.2f}{what} | {x['quality']} | {x['peer_quality']} |")
        lines.append("")
    lines += ["- samples/s = training samples x epochs / fit seconds (fit: the library's own data preparation "
              "included, imports not); one fresh process per row, every thread pool limited to the row's threads",
              "- bytes/sample: what featvec's engine reads and writes per sample; bound samples/s = streaming "
              "bandwidth / bytes per sample (data that stays in cache can run faster)",
              "- quality on the protocol's held-out rows: rmse (protocol E split), recall20 (protocol I split), "
              "accuracy (protocol U's first fold)"]
    return "\n".join(lines) + "\n"


def write_report_t(rows: list[dict], out_dir, bandwidth: dict):
    return write_files(rows, out_dir, "T", markdown_t(rows, bandwidth))
