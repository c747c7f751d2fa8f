"""The FastAPI application: one registry of models, batch-first endpoints, bounded request sizes.

The model endpoints are ``async``: each request's work runs on the event loop, one after another. Run in
FastAPI's thread pool they only contended for the GIL (protocol W on ML-100K, 8 clients: 275 req/s, p99 49 ms
in threads; 538 req/s, p99 16 ms on the loop). The explorer's data, built once per model, stays in the pool.

Errors: a body that does not fit the schema is a 422 naming the field (FastAPI's); ids of another kind than
the model's, a k or a batch over the limits, an endpoint the model does not have are a 422 with featvec's
message; unknown ids or model names a 404 naming them.
"""
from __future__ import annotations

import contextlib
import json
import threading

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from featvec import __version__
from featvec.encoding import py_values
from featvec.serve import schemas as s
from featvec.serve.registry import Registry, Served, UnknownIdError


def create_app(model_dirs, max_ids: int = 1000, max_k: int = 1000, reload_every: float | None = 2.0,
               meta: dict | None = None, explore: dict | None = None, ann: str = "auto") -> FastAPI:
    """The service for the models saved in ``model_dirs`` (each served under its folder's name). ``max_ids``:
    ids (or rows, records) per request; ``max_k``: neighbours or items per id; ``reload_every``: seconds
    between looks for a newer save in each folder, swapped in once loaded whole (None: never). The explorer
    page is at /explore: ``meta`` (table -> frame, e.g. {"items": titles and genres}) labels its points,
    ``explore`` passes options to ``featvec.explore.explorer_data`` (max_points, k, projection). ``ann``:
    "auto" answers recommend and similar over tables of ``featvec.ann.MIN_ROWS`` rows or more from a faiss
    index (candidates approximate, scores exact) when faiss is installed; "off": always exact."""
    if ann not in ("auto", "off"):
        raise ValueError(f"ann must be 'auto' or 'off', got {ann!r}")
    registry = Registry.load(model_dirs)
    app = FastAPI(title="featvec", version=__version__, lifespan=_reloading(registry, reload_every),
                  description="Recommendations, predictions, neighbours and vectors of featvec models.")
    app.state.registry = registry
    limits = Limits(int(max_ids), int(max_k), ann == "auto")
    registry.warm_all(limits.warm)

    @app.exception_handler(UnknownIdError)
    async def _unknown(request: Request, e: UnknownIdError):
        return JSONResponse(status_code=404, content={"detail": str(e)})

    @app.exception_handler(ValueError)
    async def _invalid(request: Request, e: ValueError):
        return JSONResponse(status_code=422, content={"detail": str(e)})

    _info_routes(app, registry, limits)
    _model_routes(app, registry, limits)
    _audience_routes(app, registry, limits)
    _explore_routes(app, registry, meta or {}, explore or {})
    return app


def _info_routes(app: FastAPI, registry: Registry, limits: "Limits") -> None:
    """What the service holds: health, the models, their vectors."""
    @app.get("/health", response_model=s.Health)
    async def health():
        return s.Health(status="ok", models=len(registry.models))

    @app.get("/models", response_model=list[s.ModelInfo])
    async def models():
        return [_info(m) for m in registry.models.values()]

    @app.get("/models/{name}/vectors/{table}", response_model=s.VectorsResponse)
    async def vectors(name: str, table: str, ids: str | None = None):
        """One table's vectors: every row, or the comma-separated ``ids``."""
        vecs = _table(registry.get(name), table)
        labels = vecs.labels if ids is None else _known(vecs, _parse(ids.split(","), vecs.kind), table)
        limits.check("ids", labels)
        return s.VectorsResponse(model=name, table=table, dim=vecs.dim, ids=py_values(labels),
                                 vectors=vecs[labels].reshape(len(labels), -1).tolist())


def _model_routes(app: FastAPI, registry: Registry, limits: "Limits") -> None:
    """What the models compute: recommend, similar, predict, infer."""
    @app.post("/models/{name}/recommend", response_model=s.RecommendResponse)
    async def recommend(name: str, body: s.RecommendRequest):
        served = _recommender(registry.get(name), "recommend")
        limits.check("users", body.users, body.k)
        return _json({"model": name, "results": _recommend(served.model, body, limits)})

    @app.post("/models/{name}/similar", response_model=s.SimilarResponse)
    async def similar(name: str, body: s.SimilarRequest):
        served = registry.get(name)
        limits.check("ids", body.ids, body.k)
        table = body.table or ("all" if served.kind == "Feat2Vec" else "items")
        return _json({"model": name, "table": table, "results": _similar(served, table, body.ids, body.k, limits)})

    @app.post("/models/{name}/predict", response_model=s.PredictResponse)
    async def predict(name: str, body: s.PredictRequest):
        model = _recommender(registry.get(name), "predict").model
        limits.check("rows", body.rows)
        df = pd.DataFrame({model.user_col: [r.user for r in body.rows], model.item_col: [r.item for r in body.rows]})
        return s.PredictResponse(model=name, predictions=[float(v) for v in model.predict(df)])

    @app.post("/models/{name}/infer", response_model=s.InferResponse)
    async def infer(name: str, body: s.InferRequest):
        served = registry.get(name)
        if served.kind != "UserModel":
            raise ValueError(f"model {name!r} is a {served.kind}; infer needs a UserModel")
        limits.check("records", body.records)
        proba = served.model.predict_proba(pd.DataFrame(body.records))
        rows = [{} for _ in body.records]
        for target, frame in proba.items():
            for i, values in enumerate(frame.to_numpy()):
                rows[i][target] = {str(c): float(v) for c, v in zip(frame.columns, values)}
        return s.InferResponse(model=name, results=rows)


def _audience_routes(app: FastAPI, registry: Registry, limits: "Limits") -> None:
    @app.post("/models/{name}/lookalike", response_model=s.LookalikeResponse)
    async def lookalike(name: str, body: s.LookalikeRequest):
        """The users most like the seed users or a saved segment, with each block's contribution."""
        served = registry.get(name)
        if served.kind != "LookalikeIndex":
            raise ValueError(f"model {name!r} is a {served.kind}; lookalike needs a LookalikeIndex "
                             f"(featvec lookalike ... --save DIR)")
        from featvec.validation import json_value

        index = served.model
        limits.check("seed", body.seed or [], body.top, "top")
        users = index.vectors_["users"]
        seed = None if body.seed is None else _known(users, _parse(body.seed, users.kind), "users")
        out = index.lookalikes(seed=seed, segment=body.segment, top=body.top, weights=body.weights,
                               exclude_seed=body.exclude_seed)
        blocks = [c for c in out.columns if c.startswith("contrib_")]
        attrs = [c for c in out.columns if c not in ("id", "score", "rank", *blocks)]
        n_seed = len(seed) if seed is not None else len(index.members(body.segment))
        results = [s.Match(id=r["id"], score=float(r["score"]), rank=int(r["rank"]),
                           contributions={b[8:]: float(r[b]) for b in blocks},
                           attributes={a: json_value(r[a]) for a in attrs})
                   for r in out.to_dict("records")]
        return s.LookalikeResponse(model=name, seed_size=n_seed, results=results)


def _explore_routes(app: FastAPI, registry: Registry, meta: dict, options: dict) -> None:
    """The explorer page (the package's static files) and each model's data, built once per loaded version."""
    from fastapi.responses import RedirectResponse, Response

    from featvec import explore as ex
    from featvec.util.threads import cached

    types = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}

    @app.get("/explore", include_in_schema=False)
    def explore_root():
        return RedirectResponse("/explore/")

    @app.get("/explore/", include_in_schema=False)
    def explore_index():
        return Response(ex.static_file("index.html"), media_type=types["html"])

    @app.get("/explore/models.js", include_in_schema=False)
    def explore_models():
        return Response(ex.models_script(list(registry.models)), media_type=types["js"],
                        headers={"cache-control": "no-store"})

    @app.get("/explore/data/{name}.js", include_in_schema=False)
    def explore_data(name: str):
        served = registry.get(name)
        tables = set(served.model.vectors_) | ({"users"} if served.kind == "UserModel" else set())
        mine = {t: m for t, m in meta.items() if t in tables}
        body = cached(served, "_explorer_js", lambda: ex.data_script(
            name, ex.explorer_data(served.model, name, meta=mine, **options)))
        return Response(body, media_type=types["js"], headers={"cache-control": "no-store"})

    @app.get("/explore/{file}", include_in_schema=False)
    def explore_static(file: str):
        try:
            body = ex.static_file(file)
        except KeyError:
            raise UnknownIdError(f"no explorer file {file!r}") from None
        return Response(body, media_type=types[file.rsplit(".", 1)[-1]])


def _reloading(registry: Registry, every: float | None):
    """The app's lifespan: a thread that refreshes the registry every ``every`` seconds while it runs."""
    @contextlib.asynccontextmanager
    async def lifespan(app):
        stop = threading.Event()
        if every:
            def loop():
                while not stop.wait(every):
                    registry.refresh()
            threading.Thread(target=loop, name="featvec-reload", daemon=True).start()
        try:
            yield
        finally:
            stop.set()
    return lifespan


class Limits:
    def __init__(self, max_ids: int, max_k: int, ann: bool = False):
        self.max_ids, self.max_k, self.ann = max_ids, max_k, ann

    def approximate(self, rows: int, model=None) -> bool:
        """Whether to answer from an ANN index: large enough, faiss there, a dot-product score."""
        from featvec import ann

        return self.ann and ann.worth_it(rows, model)

    def warm(self, model) -> None:
        """Build the caches and ANN indexes requests will use, once, before the model is served (a request
        would build them while the others wait)."""
        from featvec.models.recommender import Recommender

        tables = model.vectors_
        if isinstance(model, Recommender) and self.approximate(len(model.items_) - 1, model):
            model.recommend(model.users_.vocab.values[:1], k=1, approximate=True)
        for name in tables:
            vecs = tables[name]
            if len(vecs) and self.approximate(len(vecs)):
                vecs.similar(vecs.labels[:1], k=1, approximate=True)

    def check(self, field: str, values, k: int | None = None, k_name: str = "k") -> None:
        if len(values) > self.max_ids:
            raise HTTPException(422, f"{field}: at most {self.max_ids} per request, got {len(values)}")
        if k is not None and k > self.max_k:
            raise HTTPException(422, f"{k_name}: at most {self.max_k}, got {k}")


def _info(m: Served) -> s.ModelInfo:
    from featvec.io.persistence import params_to_json

    vectors = m.model.vectors_
    history = json.loads(json.dumps(getattr(m.model, "history_", None) or [], default=_plain_number))
    return s.ModelInfo(name=m.name, kind=m.kind, path=str(m.path), params=params_to_json(m.model.get_params()),
                       tables={name: len(vectors[name]) for name in vectors}, history=history,
                       loaded_at=m.loaded_at)


def _plain_number(v):
    return v.item() if hasattr(v, "item") else str(v)


def _recommender(served: Served, what: str) -> Served:
    from featvec.models.recommender import Recommender

    if not isinstance(served.model, Recommender):
        raise ValueError(f"model {served.name!r} is a {served.kind}; {what} needs a recommender "
                         f"(MatrixFactorization, DeepRecommender or ImplicitRecommender)")
    return served


def _recommend(model, body: s.RecommendRequest, limits: Limits) -> list[dict]:
    rows = model.users_.rows(body.users, "users")  # ids of another kind than the model's: a ValueError (422)
    unknown = [u for u, r in zip(body.users, rows) if r == 0]
    if unknown:
        raise UnknownIdError(f"unknown user id(s) {unknown[:10]}")
    if not limits.approximate(len(model.items_) - 1, model):
        lists = model.recommend_lists(body.users, k=body.k, filter_seen=body.filter_seen)
        return [{"user": u, "items": [{"id": i, "score": v, "rank": r} for r, (i, v) in enumerate(zip(*pair), 1)]}
                for u, pair in zip(body.users, lists)]
    out = model.recommend(body.users, k=body.k, filter_seen=body.filter_seen, approximate=True)
    blocks = _blocks(body.users, out[model.user_col].tolist(), out["rank"].to_numpy())
    ids, scores = py_values(out[model.item_col]), out["score"].tolist()
    return [{"user": u, "items": [{"id": ids[j], "score": scores[j], "rank": j - a + 1} for j in range(a, b)]}
            for u, (a, b) in zip(body.users, blocks)]


def _json(payload: dict):
    """The answer as JSON, written here: the hot endpoints skip FastAPI's second pass over the response model
    (their response_model still documents them). Scores are finite; a NaN would raise, not be sent."""
    from fastapi.responses import Response

    return Response(json.dumps(payload, allow_nan=False, separators=(",", ":")), media_type="application/json")


def _blocks(queries: list, owners: list, rank) -> list[tuple[int, int]]:
    """Each query's (start, end) rows in an answer that lists the queries' results in their order, each block
    ranked from 1 (a query with no result has no block: (p, p))."""
    starts = np.flatnonzero(rank == 1).tolist() + [len(rank)]
    out, b = [], 0
    for q in queries:
        if b < len(starts) - 1 and owners[starts[b]] == q:
            out.append((starts[b], starts[b + 1]))
            b += 1
        else:
            out.append((starts[b], starts[b]))
    return out


def _similar(served: Served, table: str, ids: list, k: int, limits: Limits) -> list[dict]:
    vecs = _table(served, table)
    ids = _known(vecs, list(ids), table)
    out = vecs.similar(ids, k=k, approximate=limits.approximate(len(vecs)))
    blocks = _blocks(ids, out["query"].tolist(), out["rank"].to_numpy())
    labels, scores = py_values(out["label"]), out["score"].tolist()
    return [{"id": q, "neighbours": [{"id": labels[j], "score": scores[j], "rank": j - a + 1} for j in range(a, b)]}
            for q, (a, b) in zip(ids, blocks)]


def _table(served: Served, table: str):
    names = list(served.model.vectors_)
    if table not in names:
        raise UnknownIdError(f"model {served.name!r} has no vector table {table!r}; it has {names}")
    return served.model.vectors_[table]


def _parse(ids: list, kind: str | None) -> list:
    """Ids as the table's labels are (``kind``): text that spells a number becomes that number for a numeric
    table (a query string carries only text)."""
    if kind != "number":
        return list(ids)
    out = []
    for v in ids:
        if isinstance(v, str):
            try:
                v = int(v) if v.strip().lstrip("-").isdigit() else float(v)
            except ValueError:
                pass  # left as text: check_kind names it
        out.append(v)
    return out


def _known(vecs, ids: list, table: str) -> list:
    from featvec.validation import check_kind

    check_kind(vecs.kind, ids, "id", table, f"table {table!r} holds")
    unknown = [v for v in ids if v not in vecs]
    if unknown:
        raise UnknownIdError(f"unknown id(s) {unknown[:10]} in table {table!r}")
    return ids
