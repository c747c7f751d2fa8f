"""What the explorer page shows of one model, as one JSON-able dict: per vector table a 2-D map of (up to
``max_points``) rows, their metadata, each row's nearest neighbours; for a recommender each shown user's
history and top-K; for a UserModel given users the per-user probabilities; for a look-alike index the
segment map coloured by match score."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from featvec import ann
from featvec.validation import json_value, plain

# tables up to this size get exact neighbours over the whole table; larger ones approximate ones from a faiss
# index when faiss is installed, else exact ones among the rows shown
EXACT_NEIGHBOURS = 200_000


def explorer_data(model, name: str, meta: Mapping[str, pd.DataFrame] | None = None, data: pd.DataFrame | None = None,
                  max_points: int = 20_000, k: int = 10, projection: str = "auto", seed: int = 0) -> dict:
    """The explorer's view of ``model`` (served or exported under ``name``). ``meta``: table -> a frame of
    metadata indexed by (or with a first column of) the table's ids, e.g. {"items": movies with title and
    genres}; a column named title / name labels the points. ``data``: for a UserModel, users (its bags and
    id column) to show with their probabilities. ``projection``: "pca", "umap" (needs umap-learn) or "auto"."""
    from featvec.models.recommender import Recommender

    if max_points < 1 or k < 1:
        raise ValueError(f"max_points and k must be >= 1, got {max_points} and {k}")
    method = _projection(projection)
    meta = {t: meta_frame(t, m) for t, m in (meta or {}).items()}
    kind = type(model).__name__
    vectors = model.vectors_
    unknown = [t for t in meta if t not in vectors and not (kind == "UserModel" and t == "users")]
    if unknown:
        raise ValueError(f"meta names table(s) {unknown} that the model does not have; it has {list(vectors)}")
    out = {"model": {"name": name, "kind": kind, "params": _params(model)}, "tables": [], "k": k}
    counts = training_counts(model)
    cross = "all" if "all" in vectors else None
    names = sorted(vectors, key=lambda t: t != "items")  # a recommender's items first
    for t in names:
        if t == cross or t in ("user.id", "item.id"):  # the id parts of users / items: those tables again
            continue
        m, order = meta.get(t), None
        if t in counts and len(counts[t]) == len(vectors[t]):  # most trained first; the count shown
            order = np.argsort(-counts[t], kind="stable")
            m = _with_column(m, vectors[t].labels, "training rows", counts[t])
        table = _table(t, vectors[t], order, m, max_points, k, method, seed,
                       neighbours=vectors[cross] if cross else None, prefix=f"{t}=" if cross else "")
        out["tables"].append(table)
    if isinstance(model, Recommender):
        _add_user_lists(model, out, k)
    if kind == "UserModel" and data is not None:
        out["tables"].insert(0, _user_model_table(model, data, meta.get("users"), max_points, k, method, seed))
    if kind == "LookalikeIndex":
        _add_audience(model, out)
    return out


def _with_column(meta, labels: list, name: str, values) -> pd.DataFrame:
    extra = pd.Series(np.asarray(values), index=pd.Index(labels), name=name)
    if meta is None:
        return extra.to_frame()
    out = meta.reindex(meta.index.union(extra.index, sort=False))
    out[name] = extra
    return out


def _projection(name: str) -> str:
    if name not in ("auto", "pca", "umap"):
        raise ValueError(f"projection must be 'auto', 'pca' or 'umap', got {name!r}")
    if name == "pca":
        return name
    import importlib.util

    if importlib.util.find_spec("umap") is None:
        if name == "umap":
            raise ImportError("projection='umap' needs umap-learn: pip install umap-learn")
        return "pca"
    return "umap"


def meta_frame(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ValueError(f"meta for {table!r} must be a non-empty DataFrame")
    if frame.index.name is None and isinstance(frame.index, pd.RangeIndex):
        frame = frame.set_index(frame.columns[0])
    if not frame.index.is_unique:
        dup = frame.index[frame.index.duplicated()][0]
        raise ValueError(f"meta for {table!r}: id {plain(dup)!r} appears in more than one row")
    return frame


def _params(model) -> dict:
    from featvec.io.persistence import params_to_json

    try:
        return params_to_json(model.get_params())
    except (TypeError, ValueError):
        return {k: str(v) for k, v in model.get_params().items()}


def training_counts(model) -> dict:
    """A recommender's training rows per item and per user (in table order)."""
    seen = getattr(model, "seen_", None)
    if seen is None:
        return {}
    ptr, idx = (np.asarray(x) for x in seen)
    return {"items": np.bincount(idx, minlength=len(model.items_))[1:], "users": np.diff(ptr)[1:]}


def project(x: np.ndarray, method: str, seed: int) -> tuple[np.ndarray, list[float]]:
    """2-D coordinates (and, for PCA, the share of variance of each axis)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 3 or x.shape[1] < 2:
        xy = np.zeros((len(x), 2))
        xy[:, 0] = np.arange(len(x))
        return xy, []
    if method == "umap":
        import umap

        xy = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(x) - 1)).fit_transform(x)
        return np.asarray(xy, dtype=np.float64), []
    c = x - x.mean(0)
    _, s, vt = np.linalg.svd(c, full_matrices=False)
    xy = c @ vt[:2].T
    var = s ** 2
    return xy, [float(v) for v in var[:2] / max(var.sum(), 1e-12)]


def _table(name: str, vecs, order, meta, max_points: int, k: int, method: str, seed: int, neighbours=None,
           prefix: str = "") -> dict:
    n = len(vecs)
    rows = np.arange(n) if order is None else np.asarray(order)
    rows = rows[:max_points]
    labels = [vecs.labels[r] for r in rows]
    xy, explained = project(vecs.matrix[rows], method, seed)
    out = {"name": name, "size": n, "dim": vecs.dim, "ids": [_cell(v) for v in labels],
           "xy": _round(_scale(xy)), "projection": method, "explained": explained,
           "meta": _meta_columns(meta, labels), "label_col": label_col(meta)}
    space = neighbours if neighbours is not None else vecs
    queries = [f"{prefix}{v}" for v in labels] if prefix else labels
    if len(space) > EXACT_NEIGHBOURS and ann.available():  # too large to search exactly for every shown row
        near = space.similar(queries, k=k, approximate=True)
        out["neighbour_scope"] = "approximate"
    elif len(space) > EXACT_NEIGHBOURS:  # and no index: among the shown rows
        near = space.similar(queries, k=k, candidates=queries)
        out["neighbour_scope"] = "shown"
    else:
        near = space.similar(queries, k=k)
        out["neighbour_scope"] = "all" if neighbours is not None else "table"
    out["neighbours"] = _neighbour_lists(near, queries)
    return out


def _neighbour_lists(near: pd.DataFrame, queries: list) -> list:
    groups = {q: g for q, g in near.groupby("query", sort=False)}
    out = []
    for q in queries:
        g = groups.get(q)
        out.append([] if g is None else [[_cell(lab), round(float(s), 4)] for lab, s in zip(g["label"], g["score"])])
    return out


def _scale(xy: np.ndarray) -> np.ndarray:
    """Centred, the middle 98% of the points of the wider axis in [-0.9, 0.9] (a few outliers would squeeze
    the rest into a dot; they lie beyond, the page zooms out to them)."""
    if not len(xy):
        return xy
    lo, hi = np.percentile(xy, 1, axis=0), np.percentile(xy, 99, axis=0)
    span = float(max(hi - lo))
    if span <= 0:
        lo, hi = xy.min(0), xy.max(0)
        span = float(max(hi - lo)) or 1.0
    return (xy - (lo + hi) / 2) * (1.8 / span)


def _round(xy: np.ndarray) -> list:
    return np.round(xy, 4).tolist()


def label_col(meta) -> str | None:
    if meta is None:
        return None
    for c in meta.columns:
        if str(c).lower() in ("title", "name", "label"):
            return str(c)
    return None


def _meta_columns(meta, labels: list) -> dict:
    if meta is None:
        return {}
    m = meta.reindex(labels)
    return {str(c): [_cell(v) for v in m[c]] for c in m.columns}


def _cell(v):
    """A JSON value: numbers and text as they are, lists joined, missing as None."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return "|".join(str(x) for x in v)
    v = json_value(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def _add_user_lists(model, out: dict, k: int, history: int = 50) -> None:
    """Each shown user's training items (up to ``history``) and their top-k (seen items left out)."""
    users = next((t for t in out["tables"] if t["name"] == "users"), None)
    if users is None or not users["ids"]:
        return
    ids = users["ids"]
    ptr, idx = (np.asarray(x) for x in model.seen_)
    rows = model.users_.rows(ids, "users")
    item_labels = model.items_.vocab.values
    hist = []
    for r in rows:
        items = idx[ptr[r]:ptr[r + 1]][:history] if r + 1 < len(ptr) else []
        hist.append([_cell(item_labels[i - 1]) for i in items])
    recs = model.recommend(ids, k=k, approximate=ann.worth_it(len(model.items_) - 1, model))
    groups = {u: g for u, g in recs.groupby(model.user_col, sort=False)}
    top = []
    for u in ids:
        g = groups.get(u)
        top.append([] if g is None else [[_cell(i), round(float(s), 4)] for i, s in zip(g[model.item_col], g["score"])])
    users["history"], users["recommended"], users["items_table"] = hist, top, "items"


def _user_model_table(model, data: pd.DataFrame, meta, max_points: int, k: int, method: str, seed: int) -> dict:
    """Users as the UserModel represents them, with each task's predicted class and probabilities."""
    from featvec.vectors import Vectors

    data = data.iloc[:max_points]
    reps = model.transform(data)
    vecs = Vectors([_cell(v) for v in reps.index], reps.to_numpy(), name="users")
    probs = model.predict_proba(data)
    extra = {}
    for task, frame in probs.items():
        p = frame.to_numpy()
        extra[task + " (predicted)"] = [str(frame.columns[i]) for i in p.argmax(1)]
        for j, c in enumerate(frame.columns):
            extra[f"P({task}={c})"] = [round(float(v), 4) for v in p[:, j]]
    table = _table("users", vecs, None, meta, max_points, k, method, seed)
    table["meta"].update(extra)
    table["probabilities"] = {task: [str(c) for c in frame.columns] for task, frame in probs.items()}
    return table


def _add_audience(index, out: dict) -> None:
    """Match scores of every user against each segment, and the segment map (users at their coordinates)."""
    from featvec.audience.segment_map import project as geo_project

    users = out["tables"][0]
    ids = users["ids"]
    attrs = index.attributes_.reindex(ids)
    users["meta"].update({str(c): [_cell(v) for v in attrs[c]] for c in attrs.columns})
    for seg in index.segments_:
        m = index.lookalikes(segment=seg, top=len(index.ids), exclude_seed=False).set_index("id")["score"]
        users["meta"][f"match: {seg}"] = [round(float(v), 4) for v in m.reindex(ids).fillna(0.0)]
        members = set(index.members(seg))
        users["meta"][f"in {seg}"] = ["yes" if u in members else "no" for u in ids]
    users["segments"] = list(index.segments_)
    lat, lon = _geo_columns(attrs)
    if lat is None:
        return
    lat_v = pd.to_numeric(attrs[lat], errors="coerce").to_numpy(float)
    lon_v = pd.to_numeric(attrs[lon], errors="coerce").to_numpy(float)
    px, py, visible = geo_project(lat_v, lon_v)  # SVG coordinates: y grows downwards
    keep = np.flatnonzero(visible)
    xy = _scale(np.stack([px[keep], -py[keep]], axis=1))
    geo = {"name": "segment map", "size": len(keep), "dim": 2, "ids": [ids[i] for i in keep], "xy": _round(xy),
           "projection": "map", "explained": [], "label_col": None, "neighbour_scope": "table",
           "meta": {c: [v[i] for i in keep] for c, v in users["meta"].items()},
           "neighbours": [users["neighbours"][i] for i in keep], "neighbours_table": "users"}
    out["tables"].insert(0, geo)


def _geo_columns(attrs: pd.DataFrame) -> tuple[str | None, str | None]:
    cols = {c.lower(): c for c in map(str, attrs.columns)}
    for lat, lon in (("location_latitude", "location_longitude"), ("latitude", "longitude"), ("lat", "lon")):
        if lat in cols and lon in cols:
            return cols[lat], cols[lon]
    return None, None
