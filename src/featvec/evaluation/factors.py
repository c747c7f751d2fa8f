"""Latent factor analysis of a recommender's item vectors (notebook 004): PCA over the most-rated items.

The item vectors of a factorisation model are hard to read one coordinate at a time; their principal
components usually are not (for MovieLens: "serious / acclaimed" against "popular blockbuster", "old" against
"new"). ``latent_factors`` takes the ``top_n`` items with the most training interactions, centres their full
item vectors (``model.vectors_["items"]``), projects them on the first principal axes (numpy SVD) and lists
the items at both ends of each axis.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

PNG_FILE = "latent_factors.png"
CSV_FILE = "latent_factors.csv"
ENDS_FILE = "latent_factor_ends.csv"


@dataclass
class LatentFactors:
    """The result of :func:`latent_factors`.

    ``components``: one row per analysed item (index: the item id, most-rated first), columns ``pc1`` ..
    ``pcN`` (the item's coordinate on each principal axis), ``count`` (its training interactions) and
    ``title`` when titles were given. ``explained_variance_ratio``: the share of the item vectors' variance
    each component explains (sums to at most 1). ``axes``: the principal axes in vector space
    (n_components x dim). ``ends``: for each component the ``n_ends`` items with the highest (``end='+'``)
    and lowest (``end='-'``) values, columns component, end, rank, item, title, value.
    """

    components: pd.DataFrame
    explained_variance_ratio: np.ndarray
    axes: np.ndarray
    ends: pd.DataFrame
    item_col: str = "item_id"
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def n_components(self) -> int:
        return len(self.explained_variance_ratio)

    def _titles(self) -> pd.Series:
        if "title" in self.components.columns:
            return self.components["title"].astype(str)
        return pd.Series([str(i) for i in self.components.index], index=self.components.index)

    def plot(self, path: str | os.PathLike, n_labels: int = 20, x: str = "pc1", y: str = "pc2",
             title: str | None = None) -> Path:
        """Write a PNG scatter of ``x`` against ``y`` (default pc1 vs pc2), labelling the ``n_labels`` items
        at the extremes of both axes with their titles. Returns the path."""
        for c in (x, y):
            if c not in self.components.columns or not c.startswith("pc"):
                have = [c for c in self.components.columns if c.startswith("pc")]
                raise ValueError(f"cannot plot {c!r}: the components are {have} "
                                 f"(a scatter needs n_components >= 2)")
        from matplotlib.figure import Figure  # a bare Figure renders with Agg; no pyplot global state

        comp = self.components
        evr = dict(zip([f"pc{i + 1}" for i in range(self.n_components)], self.explained_variance_ratio))
        fig = Figure(figsize=(11, 9), dpi=100)
        ax = fig.add_subplot()
        ax.scatter(comp[x], comp[y], s=8, alpha=0.35, color="tab:blue", linewidths=0)
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax.axvline(0, color="0.8", lw=0.8, zorder=0)
        labelled = _extremes(comp, [x, y], n_labels)
        titles = self._titles()
        ax.scatter(comp.loc[labelled, x], comp.loc[labelled, y], s=14, color="tab:red")
        for item in labelled:
            ax.annotate(_shorten(titles[item]), (comp.at[item, x], comp.at[item, y]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(f"{x} ({evr[x]:.1%} of variance)")
        ax.set_ylabel(f"{y} ({evr[y]:.1%} of variance)")
        ax.set_title(title or f"Latent factors of the {len(comp)} most-rated items")
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
        return path

    def save(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """Write the PNG (when there are two components or more), the components CSV and the ends CSV."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = {}
        if self.n_components >= 2:
            files["png"] = self.plot(out / PNG_FILE)
        self.components.to_csv(out / CSV_FILE, index_label=self.item_col)
        files["csv"] = out / CSV_FILE
        self.ends.to_csv(out / ENDS_FILE, index=False)
        files["ends"] = out / ENDS_FILE
        self.files.update(files)
        return files


def latent_factors(model, top_n: int = 2000, n_components: int = 3, titles=None, out=None,
                   n_ends: int = 10) -> LatentFactors:
    """PCA of the item vectors of the ``top_n`` most-rated items of a fitted recommender.

    ``titles``: a Series or dict item id -> title, or a DataFrame with the item id (column or index) and a
    ``title`` column; items without a title are shown by id. Each component's sign is fixed so that the
    item furthest from the centre along it is positive (results do not flip between runs). ``out``: a
    folder to write ``latent_factors.png``, ``latent_factors.csv`` and ``latent_factor_ends.csv`` to.
    """
    if not getattr(model, "is_fitted", False) or getattr(model, "seen_", None) is None:
        raise ValueError(f"latent_factors needs a fitted recommender; this {type(model).__name__} is not "
                         "fitted (call fit() or featvec.load() first)")
    for name, v in (("top_n", top_n), ("n_components", n_components), ("n_ends", n_ends)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    vecs = model.vectors_["items"]
    if n_components > vecs.dim:
        raise ValueError(f"n_components={n_components} is more than the item vectors' dimension ({vecs.dim})")
    if top_n < n_components:
        raise ValueError(f"top_n={top_n} items cannot give {n_components} components: top_n must be "
                         f">= n_components")

    # counts per item row from the training interactions; item row r is vector position r - 1
    indices = np.asarray(model.seen_[1])
    counts = np.bincount(indices, minlength=len(vecs) + 1)[1:]
    rated = np.flatnonzero(counts > 0)
    order = rated[np.argsort(-counts[rated], kind="stable")][:top_n]
    if len(order) < n_components + 1:
        raise ValueError(f"only {len(order)} rated items: too few for {n_components} components")
    x = vecs.matrix[order].astype(np.float64)
    x -= x.mean(axis=0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    var = s ** 2
    total = var.sum()
    evr = var[:n_components] / total if total > 0 else np.zeros(n_components)
    scores = u[:, :n_components] * s[:n_components]
    axes = vt[:n_components].copy()
    for c in range(n_components):
        if scores[np.argmax(np.abs(scores[:, c])), c] < 0:
            scores[:, c] *= -1
            axes[c] *= -1

    item_col = getattr(model, "item_col", "item_id")
    ids = np.asarray(vecs.labels, dtype=object)[order]
    index = pd.Index(list(ids), name=item_col)
    comp = pd.DataFrame(scores, index=index, columns=[f"pc{i + 1}" for i in range(n_components)])
    comp["count"] = counts[order].astype(np.int64)
    if titles is not None:
        comp["title"] = _title_map(titles, item_col).reindex(index).to_numpy(dtype=object)
        missing = comp["title"].isna().to_numpy()
        comp.loc[missing, "title"] = [str(i) for i in index[missing]]
    result = LatentFactors(comp, evr.astype(np.float64), axes, _ends(comp, n_components, n_ends), item_col)
    if out is not None:
        result.save(out)
    return result


def _title_map(titles, item_col: str) -> pd.Series:
    """Item id -> title from a dict, a Series or a DataFrame (id column or index + a title column)."""
    if isinstance(titles, dict):
        s = pd.Series(titles, dtype=object)
    elif isinstance(titles, pd.Series):
        s = titles
    elif isinstance(titles, pd.DataFrame):
        df = titles
        if item_col in df.columns:
            df = df.set_index(item_col)
        elif df.index.name != item_col and len(df.columns) > 1:
            raise ValueError(f"titles table needs a column (or index) named {item_col!r} with the item ids; "
                             f"it has {list(titles.columns)[:20]}")
        if "title" in df.columns:
            s = df["title"]
        elif len(df.columns) == 1:
            s = df.iloc[:, 0]
        else:
            raise ValueError(f"titles table needs a 'title' column; it has {list(df.columns)[:20]}")
    else:
        raise ValueError(f"titles must be a dict, Series or DataFrame, got {type(titles).__name__}")
    s = s[~s.index.duplicated()]
    return s.astype(object)


def _ends(comp: pd.DataFrame, n_components: int, n: int) -> pd.DataFrame:
    has_title = "title" in comp.columns
    rows = []
    for c in range(n_components):
        name = f"pc{c + 1}"
        col = comp[name]
        for end, picked in (("+", col.sort_values(ascending=False, kind="stable")[:n]),
                            ("-", col.sort_values(ascending=True, kind="stable")[:n])):
            for rank, (item, value) in enumerate(picked.items(), start=1):
                rows.append((name, end, rank, item, comp.at[item, "title"] if has_title else str(item),
                             float(value)))
    return pd.DataFrame(rows, columns=["component", "end", "rank", "item", "title", "value"])


def _extremes(comp: pd.DataFrame, cols: list[str], n: int) -> list:
    """About ``n`` distinct items at the four ends of the two plotted axes, taken in turn."""
    lists = []
    for c in cols:
        lists.append(comp[c].sort_values(ascending=False, kind="stable").index.tolist())
        lists.append(comp[c].sort_values(ascending=True, kind="stable").index.tolist())
    picked, seen = [], set()
    for depth in range(len(comp)):
        for lst in lists:
            if len(picked) >= min(n, len(comp)):
                return picked
            item = lst[depth]
            if item not in seen:
                seen.add(item)
                picked.append(item)
    return picked


def _shorten(text: str, width: int = 32) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
