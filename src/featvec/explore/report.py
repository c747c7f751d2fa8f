"""``featvec report``: one self-contained HTML file about a saved model: its configuration, vector tables,
training curves and final metrics from its history, the latent-factor plot (PCA of the main table) and the
nearest neighbours of its most frequent items. Plots are inline SVG (matplotlib); no script, no network."""
from __future__ import annotations

import html
import io
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from featvec.explore.data import project, training_counts

CSS = """body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2430;max-width:1100px;margin:24px auto;
padding:0 18px}h1{font-size:22px;margin:0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d4d9e1;padding-bottom:4px}
.sub{color:#5a6476}table{border-collapse:collapse;font-size:13px;margin:6px 0}td,th{border:1px solid #d4d9e1;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f1f3f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:12px}.grid figure{margin:0}figcaption{font-size:12px;color:#5a6476}svg{max-width:100%;height:auto}
.note{color:#5a6476;font-size:12px}"""


def report_html(model, name: str, meta: dict | None = None, n_items: int = 12, k: int = 5) -> str:
    """The report of ``model`` (saved as ``name``) as one HTML text. ``meta``: table -> frame with a title
    column (e.g. {"items": movies}) to name items."""
    from featvec import __version__

    meta = meta or {}
    kind = type(model).__name__
    main = _main_table(model)
    titles = _titles(meta.get(main))
    parts = [f"<h1>{_e(name)}</h1><p class=sub>{_e(kind)} · featvec {_e(__version__)}</p>",
             _section("Configuration", _params(model)), _section("Vector tables", _tables(model)),
             _section("Training", _training(getattr(model, "history_", None) or [])),
             _section("Latent factors", _factors(model, main, titles)),
             _section(f"Nearest neighbours of the most frequent {main}", _neighbours(model, main, titles, n_items, k))]
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>featvec report: " + _e(name) +
            "</title><link rel=icon href='data:,'><style>" + CSS + "</style></head><body>" + "".join(parts) +
            "</body></html>")


def write_report(model, name: str, out, meta: dict | None = None) -> Path:
    """Write ``report_html`` to ``out`` (written beside and renamed into place)."""
    out = Path(out)
    text = report_html(model, name, meta)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _e(v) -> str:
    return html.escape(str(v), quote=True)


def _section(title: str, body: str) -> str:
    return f"<h2>{_e(title)}</h2>{body}"


def _main_table(model) -> str:
    names = list(model.vectors_)
    for t in ("items", "users"):
        if t in names:
            return t
    names = [t for t in names if t != "all"] or names
    return max(names, key=lambda t: len(model.vectors_[t]))


def _titles(meta) -> pd.Series | None:
    if meta is None:
        return None
    from featvec.explore.data import label_col, meta_frame

    m = meta_frame("items", meta)
    col = label_col(m)
    return None if col is None else m[col].astype(str)


def _params(model) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_short(v))}</td></tr>" for k, v in model.get_params().items())
    recipe = getattr(model, "recipe_", None)
    if recipe:
        rows += f"<tr><th>recipe (chosen)</th><td>{_e(recipe)}</td></tr>"
    return f"<table id=config>{rows}</table>"


def _short(v, width: int = 160) -> str:
    text = str(v)
    return text if len(text) <= width else text[:width - 1] + "…"


def _tables(model) -> str:
    rows = "".join(f"<tr><td>{_e(t)}</td><td class=num>{len(v):,}</td><td class=num>{v.dim}</td></tr>"
                   for t, v in model.vectors_.items())
    return f"<table id=tables><tr><th>table</th><th>rows</th><th>dim</th></tr>{rows}</table>"


def _series(history: list) -> dict:
    keys = []
    for h in history:
        keys += [k for k, v in h.items() if k not in keys and k not in ("epoch", "seconds", "lr")
                 and isinstance(v, (int, float)) and not isinstance(v, bool)]
    out = {}
    for k in keys:
        pts = [(h.get("epoch", i + 1), float(h[k])) for i, h in enumerate(history)
               if isinstance(h.get(k), (int, float)) and math.isfinite(float(h[k]))]
        if pts:
            out[k] = pts
    return out


def _training(history: list) -> str:
    if not history:
        return "<p class=note>No training history was saved with this model.</p>"
    series = _series(history)
    figs = []
    groups = {}
    for k in series:  # one chart per measure; train_ and val_ of the same measure together
        groups.setdefault(k.split("_", 1)[-1] if k.startswith(("train_", "val_")) else k, []).append(k)
    for title, keys in groups.items():
        figs.append(f"<figure>{_line_svg({k: series[k] for k in keys}, title)}<figcaption>{_e(', '.join(keys))} by epoch"
                    f"</figcaption></figure>")
    last = history[-1]
    rows = "".join(f"<tr><th>{_e(k)}</th><td class=num>{_num(last[k])}</td><td class=num>{_num(_best(k, series[k]))}</td></tr>"
                   for k in series if k in last)
    secs = sum(float(h.get("seconds", 0) or 0) for h in history)
    metrics = (f"<table id=metrics><tr><th>measure</th><th>last epoch</th><th>best</th></tr>{rows}</table>"
               f"<p class=note>{len(history)} epochs, {secs:.2f} s of training.</p>")
    return metrics + "<div class=grid id=curves>" + "".join(figs) + "</div>"


def _best(key: str, pts: list) -> float:
    vals = [v for _, v in pts]
    higher = any(w in key for w in ("auc", "acc", "precision", "recall", "ndcg", "map", "hit"))
    return max(vals) if higher else min(vals)


def _num(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else _e(v)


def _figure(w: float = 5.2, h: float = 3.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _line_svg(series: dict, title: str) -> str:
    fig, ax = _figure()
    for k, pts in series.items():
        x, y = zip(*pts)
        ax.plot(x, y, marker="o" if len(pts) < 30 else None, markersize=3, label=k)
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _svg(fig)


def _order(model, table: str) -> np.ndarray | None:
    counts = training_counts(model).get(table)
    if counts is None or len(counts) != len(model.vectors_[table]):
        return None
    return np.argsort(-counts, kind="stable")


def _factors(model, table: str, titles: pd.Series | None, top_n: int = 1000, n_labels: int = 16) -> str:
    vecs = model.vectors_[table]
    order = _order(model, table)
    rows = (np.arange(len(vecs)) if order is None else order)[:top_n]
    if len(rows) < 3:
        return "<p class=note>Too few rows for a latent-factor plot.</p>"
    xy, explained = project(vecs.matrix[rows], "pca", 0)
    names = [_name(vecs.labels[r], titles) for r in rows]
    fig, ax = _figure(7.5, 5.6)
    ax.scatter(xy[:, 0], xy[:, 1], s=8, alpha=0.5, color="#3b7dd8", linewidths=0)
    ends = set()
    for c in (0, 1):
        o = np.argsort(xy[:, c])
        ends.update(o[:n_labels // 4].tolist() + o[-(n_labels // 4):].tolist())
    for i in sorted(ends):
        ax.annotate(_short(names[i], 28), xy[i], fontsize=7, alpha=0.85)
    ev = [f"{100 * v:.1f}%" for v in explained]
    ax.set_xlabel(f"PC1 ({ev[0]} of variance)" if ev else "PC1")
    ax.set_ylabel(f"PC2 ({ev[1]} of variance)" if ev else "PC2")
    what = f"the {len(rows):,} most frequent" if order is not None else f"{len(rows):,}"
    ax.set_title(f"{table}: {what}, first two principal components")
    ax.grid(alpha=0.3)
    lists = []
    for c in (0, 1):
        o = np.argsort(xy[:, c])
        lo = ", ".join(_e(_short(names[i], 40)) for i in o[:5])
        hi = ", ".join(_e(_short(names[i], 40)) for i in o[::-1][:5])
        lists.append(f"<tr><th>PC{c + 1} +</th><td>{hi}</td></tr><tr><th>PC{c + 1} −</th><td>{lo}</td></tr>")
    return f"<figure id=factors>{_svg(fig)}</figure><table id=factor-ends>{''.join(lists)}</table>"


def _name(label, titles: pd.Series | None) -> str:
    if titles is not None and label in titles.index:
        return str(titles[label])
    return str(label)


def _neighbours(model, table: str, titles: pd.Series | None, n: int, k: int) -> str:
    vecs = model.vectors_[table]
    order = _order(model, table)
    rows = (np.arange(len(vecs)) if order is None else order)[:n]
    if not len(rows):
        return "<p class=note>The table is empty.</p>"
    labels = [vecs.labels[r] for r in rows]
    near = vecs.similar(labels, k=k)
    groups = {q: g for q, g in near.groupby("query", sort=False)}
    body = []
    for lab in labels:
        g = groups.get(lab)
        cells = "" if g is None else ", ".join(f"{_e(_short(_name(v, titles), 40))} <span class=note>{s:.2f}</span>"
                                               for v, s in zip(g["label"], g["score"]))
        body.append(f"<tr><td>{_e(_short(_name(lab, titles), 48))}</td><td>{cells}</td></tr>")
    scope = "most trained" if order is not None else "first"
    return (f"<table id=neighbours><tr><th>{_e(table)} ({scope} {len(labels)})</th><th>{k} nearest by cosine</th></tr>"
            + "".join(body) + "</table>")

