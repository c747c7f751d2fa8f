"""``featvec fit --model user`` and ``featvec infer``: demographics from bags of events."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from featvec.cli.io import bag_columns, load_model, read_table

INFER_HELP = "per-user class probabilities from a saved UserModel"


def fit_user(args) -> int:
    from featvec import UserModel

    if not args.bags or not args.targets:
        raise ValueError("--model user needs --bags (list columns) and --targets (columns to predict)")
    df = read_table(args.records, "records")
    recipe = "small_data" if getattr(args, "small_data", False) else args.recipe
    bags, df = bag_columns(df, args.bags, "tfidf" if recipe == "small_data" else None)
    params = {"attributes": args.attributes or [], "seed": args.seed, "show_progress": args.progress,
              "recipe": recipe, "id_col": args.id_col}
    for name in ("dim", "epochs", "lr", "batch_size", "valid_frac", "device"):
        if getattr(args, name, None) is not None:
            params[name] = getattr(args, name)
    if recipe == "small_data":
        dim = params.pop("dim", 32)
        bags = [replace(b, dim=dim) for b in bags]
    model = UserModel(bags=bags, targets=args.targets, **params).fit(df)
    print(f"fitted UserModel ({model.recipe_} recipe) on {len(df):,} users from {args.records}: bags "
          f"{[b if isinstance(b, str) else b.column for b in bags]}, targets {args.targets}")
    print(pd.DataFrame(model.history_).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("temperatures " + ", ".join(f"{k} {v:.3f}" for k, v in model.temperatures_.items()))
    if args.out:
        print(f"saved the model to {model.save(Path(args.out).expanduser())}")
    return 0


def add_infer_parser(sub, formatter) -> None:
    p = sub.add_parser("infer", formatter_class=formatter, help=INFER_HELP,
                       description="Write every user's calibrated class probabilities for every target of a "
                                   "saved UserModel (one column per target=class) and the predicted classes.",
                       epilog="example:\n  featvec infer --model-dir user-model --records users.csv --bags "
                              "movies genres --out probs.csv")
    p.add_argument("--model-dir", required=True, metavar="DIR", help="folder of a saved UserModel")
    p.add_argument("--records", required=True, metavar="FILE", help="one row per user, with the model's bag columns")
    p.add_argument("--bags", nargs="+", default=[], metavar="COL[:WEIGHTS][:SEP]",
                   help="text list columns to split (Parquet list columns need nothing)")
    p.add_argument("--id-col", metavar="COL", help="a column to copy into the output (default: the first column)")
    p.add_argument("--out", metavar="FILE", help="CSV to write (default: print)")
    p.set_defaults(func=cmd_infer)


def cmd_infer(args) -> int:
    from featvec import UserModel

    model = load_model(args.model_dir, (UserModel.__name__,), "infer")
    df = read_table(args.records, "records")
    _, df = bag_columns(df, args.bags)
    id_col = args.id_col or df.columns[0]
    if id_col not in df.columns:
        raise ValueError(f"--id-col {id_col!r}: no such column; the file has {list(df.columns)}")
    out = df[[id_col]].copy()
    pred = model.predict(df)
    for target, proba in model.predict_proba(df).items():
        out[target] = pred[target].to_numpy()
        for c in proba.columns:
            out[f"{target}={c}"] = proba[c].to_numpy()
    if args.out:
        out.to_csv(args.out, index=False)
        print(f"wrote {len(out):,} users' probabilities to {args.out}")
    else:
        print(out.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def add_fit_options(p) -> None:
    """``featvec fit``'s user-model options, as one group of the fit parser ``p``."""
    g = p.add_argument_group("user")
    g.add_argument("--bags", nargs="+", metavar="COL[:WEIGHTS][:SEP]", help="user model: list columns (text split "
                   "on SEP, default '|'), optional weights column")
    g.add_argument("--targets", nargs="+", metavar="COL", help="user model: columns to predict together")
    g.add_argument("--attributes", nargs="+", metavar="COL", help="user model: extra categorical inputs")
    g.add_argument("--recipe", choices=["auto", "deep", "small_data"], default="auto",
                   help="user model: small_data (TF-IDF bags, a wide linear part, frozen SVD bag tables) for up to "
                        "some thousands of users, deep (an MLP, early stopping, calibration) for more; auto picks by "
                        "the number of users (small_data under 10,000)")
    g.add_argument("--small-data", action="store_true", help="user model: the same as --recipe small_data")
    g.add_argument("--id-col", metavar="COL", help="user model: the column of user ids (not an input); the model's "
                                                   "outputs are indexed by it")
