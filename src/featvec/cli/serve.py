"""``featvec serve``: saved models behind an HTTP API (FastAPI + uvicorn)."""
from __future__ import annotations

from featvec.cli.io import Formatter, add_meta_options, explore_options, meta_tables


def cmd_serve(args) -> int:
    try:
        import uvicorn

        from featvec.serve import create_app
    except ImportError as e:
        raise ImportError(f"featvec serve needs FastAPI and uvicorn: pip install 'featvec[serve]' ({e})") from None
    app = create_app(args.model_dirs, max_ids=args.max_ids, max_k=args.max_k, reload_every=args.reload_every or None,
                     meta=meta_tables(args), explore=explore_options(args), ann=args.ann)
    names = ", ".join(app.state.registry.models)
    print(f"serving {names} on http://{args.host}:{args.port} (API docs at /docs, explorer at /explore)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("serve", formatter_class=Formatter, help="serve saved models over HTTP",
                       description="Load saved models and answer recommend, predict, similar, infer and vectors "
                                   "requests over HTTP (JSON, batch-first), each model under its folder's name: "
                                   "POST /models/NAME/recommend {\"users\": [1, 2], \"k\": 10}. Bad requests get "
                                   "a 422 naming the field, unknown ids a 404 naming them; OpenAPI docs at /docs.",
                       epilog="example:\n  featvec serve ml100k-model imodel --port 8000\n"
                              "  curl -s localhost:8000/models/ml100k-model/recommend -d '{\"users\": [1], \"k\": 5}' "
                              "-H 'content-type: application/json'")
    p.add_argument("model_dirs", nargs="+", metavar="MODEL_DIR", help="folders of saved models")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--max-ids", type=int, default=1000, help="ids, rows or records per request at most")
    p.add_argument("--max-k", type=int, default=1000, help="items or neighbours per id at most")
    p.add_argument("--reload-every", type=float, default=2.0, metavar="SECONDS",
                   help="look for a newer save in each folder this often and swap it in once loaded (0: never)")
    p.add_argument("--ann", default="auto", choices=["auto", "off"],
                   help="auto: recommend and similar over 100,000+ items from a faiss index when faiss is installed "
                        "(candidates approximate, scores exact); off: always exact")
    add_meta_options(p)
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn's log level")
    p.set_defaults(func=cmd_serve)
