"""``featvec explore``: the explorer page for saved models, written as static files; ``featvec report``: one
HTML file about a model."""
from __future__ import annotations

from pathlib import Path

from featvec.cli.io import (Formatter, add_data, add_meta_options, bag_columns, explore_options, meta_tables,
                            read_table)

EXAMPLES = ("examples:\n  featvec explore ml100k-model --dataset ml-100k --out explorer/\n"
            "  featvec explore imodel --meta items=movies.csv users=people.parquet --out explorer/\n"
            "  featvec explore umodel --records users.csv --bags pages sections --out explorer/")


def add_parser(sub) -> None:
    p = sub.add_parser("explore", formatter_class=Formatter, help="write the embedding explorer page for saved models",
                       description="Write a folder that opens in any browser, offline (no CDN): a 2-D map of each "
                                   "vector table (PCA, or UMAP when installed) coloured by any metadata column, search "
                                   "with completion, each point's nearest neighbours, a user's history beside their "
                                   "top-K, a UserModel's probabilities, a look-alike index's segment map coloured by "
                                   "match score. featvec serve shows the same page at /explore.",
                       epilog=EXAMPLES)
    p.add_argument("model_dirs", nargs="+", metavar="MODEL_DIR", help="folders of saved models")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write (index.html and its files)")
    add_meta_options(p)
    p.add_argument("--records", metavar="FILE", help="UserModel: users to show with their probabilities")
    p.add_argument("--bags", nargs="+", default=[], metavar="COL[:SEP]", help="--records' text list columns to split")
    p.set_defaults(func=cmd_explore)


def add_report_parser(sub) -> None:
    p = sub.add_parser("report", formatter_class=Formatter, help="write one self-contained HTML report of a saved model",
                       description="One HTML file, no script and no network: the configuration, the vector tables, "
                                   "the training curves and final metrics from the model's history, the latent-factor "
                                   "plot (PCA of the item vectors, or of the largest table) and the nearest neighbours "
                                   "of the most frequent items.",
                       epilog="example:\n  featvec report ml100k-model --dataset ml-100k --out report.html")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="folder of a saved model")
    p.add_argument("--out", default="report.html", metavar="FILE", help="the HTML file to write")
    p.add_argument("--meta", nargs="+", default=[], metavar="TABLE=FILE", help="titles for a table's ids (see explore)")
    p.add_argument("--dataset", metavar="NAME", help="take the item titles from this MovieLens dataset (see --data)")
    add_data(p)
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from featvec import load
    from featvec.explore.report import write_report

    model = load(args.model_dir)
    out = write_report(model, Path(args.model_dir).resolve().name, args.out, meta=meta_tables(args))
    print(f"wrote {out}")
    return 0


def cmd_explore(args) -> int:
    from featvec import load
    from featvec.explore import explorer_data, write_explorer

    meta, options, payloads = meta_tables(args), explore_options(args), {}
    records = None
    if args.records:
        _, records = bag_columns(read_table(args.records, "records"), args.bags)
    for d in args.model_dirs:
        model, name = load(d), Path(d).resolve().name
        if name in payloads:
            raise ValueError(f"two model folders are named {name!r}; the page names models by their folder")
        tables = set(model.vectors_) | ({"users"} if records is not None else set())
        mine = {t: m for t, m in meta.items() if t in tables}
        data = records if type(model).__name__ == "UserModel" else None
        payloads[name] = explorer_data(model, name, meta=mine, data=data, **options)
        shown = ", ".join(f"{t['name']} {len(t['ids']):,}" for t in payloads[name]["tables"])
        print(f"{name} ({type(model).__name__}): {shown}")
    out = write_explorer(payloads, args.out)
    print(f"wrote {out / 'index.html'}")
    return 0
