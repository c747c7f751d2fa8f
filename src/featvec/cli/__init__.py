"""The ``featvec`` command line: fit, evaluate, recommend, similar, factors, bench, demo.

Every command is a thin layer over the Python API; ``main(argv)`` returns the exit status (0 ok, 1 a failed
benchmark system, 2 bad input or usage). Bad input (a missing file, a missing column, an unknown id) prints
one line ``featvec: error: ...`` to stderr, without a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from featvec.cli.io import load_model, read_ratings, read_table

PROG = "featvec"
class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks; appends a default where there is one worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS) and "default" not in text
                and action.option_strings):
            shown = " ".join(map(str, action.default)) if isinstance(action.default, list) else action.default
            text += f" (default: {shown})"
        return text


# ---------------------------------------------------------------- reading input

def _data_dir(args):
    if args.data:
        return args.data
    from featvec.datasets import find_data_dir

    return find_data_dir()


def _load_dataset(args):
    from featvec.datasets import load_movielens

    return load_movielens(args.dataset, data_dir=_data_dir(args))


def _parse_ids(raw: list[str], known: list, what: str) -> list:
    """Command-line ids (strings) as the type of the model's ids."""
    sample = known[:100]
    if sample and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in sample):
        kind, conv = "integers", int
    elif sample and all(isinstance(v, (float, np.floating)) for v in sample):
        kind, conv = "numbers", float
    else:
        return [str(x) for x in raw]
    out = []
    for x in raw:
        try:
            out.append(conv(x))
        except ValueError:
            raise ValueError(f"{what} id {x!r} is not valid: this model's {what} ids are {kind}") from None
    return out


def _titles(args, item_col: str) -> pd.Series | None:
    """Item id -> title from --titles FILE or the items of --dataset; None when neither was given."""
    if getattr(args, "titles", None):
        df = read_table(args.titles, "titles")
        if "title" not in df.columns:
            raise ValueError(f"titles file {args.titles} needs a 'title' column; it has {list(df.columns)[:20]}")
        id_col = item_col if item_col in df.columns else df.columns[0]
        if id_col == "title":
            raise ValueError(f"titles file {args.titles} needs an item id column ({item_col!r} or the first one)")
        return df.drop_duplicates(id_col).set_index(id_col)["title"]
    if getattr(args, "dataset", None):
        items = _load_dataset(args).items
        return items.drop_duplicates("item_id").set_index("item_id")["title"]
    return None


def _emit(df: pd.DataFrame, fmt: str) -> None:
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        print(df.to_json(orient="records", force_ascii=False))
    else:
        print(df.to_string(index=False) if len(df) else "(nothing)")


def _errors(pred: np.ndarray, y: np.ndarray) -> dict:
    d = np.asarray(pred, np.float64) - np.asarray(y, np.float64)
    return {"rmse": float(np.sqrt(np.mean(d ** 2))), "mae": float(np.mean(np.abs(d))), "n": int(len(d))}


# ---------------------------------------------------------------- commands

def cmd_fit(args) -> int:
    from featvec import DeepRecommender, MatrixFactorization

    implicit = args.model == "implicit"
    if args.model in ("feat2vec", "user") or args.records:
        if args.model not in ("feat2vec", "user") or not args.records:
            raise ValueError("--records goes with --model feat2vec or user (and they read --records FILE)")
        if args.model == "user":
            from featvec.cli.user import fit_user

            return fit_user(args)
        from featvec.cli.feat2vec import fit_feat2vec

        return fit_feat2vec(args)
    if args.dataset:
        data = _load_dataset(args)
        ratings, cols = data.ratings, ("user_id", "item_id", "rating")
        source = f"MovieLens {args.dataset}"
    else:
        cols = (args.user_col, args.item_col, args.rating_col)
        need_rating = not implicit or args.min_rating is not None
        ratings = read_ratings(args.ratings, cols[0], cols[1], cols[2] if need_rating else None)
        source = str(args.ratings)
    if implicit:
        return _fit_implicit(args, ratings, cols, source)
    user_features = read_table(args.user_features, "user features") if args.user_features else None
    item_features = read_table(args.item_features, "item features") if args.item_features else None
    test = None
    if args.test_frac:
        if not 0 < args.test_frac < 1:
            raise ValueError(f"--test-frac must be between 0 and 1, got {args.test_frac}")
        from featvec.evaluation.splits import random_split

        ratings, test = random_split(ratings, test_frac=args.test_frac, seed=args.seed)
    cls = {"mf": MatrixFactorization, "deep": DeepRecommender}[args.model]
    params = {"user_col": cols[0], "item_col": cols[1], "rating_col": cols[2], "seed": args.seed,
              "implicit": args.implicit, "show_progress": args.progress}
    for name in ("dim", "epochs", "lr", "batch_size", "valid_frac"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    model = cls(**params).fit(ratings, user_features=user_features, item_features=item_features)
    n_users, n_items = ratings[cols[0]].nunique(), ratings[cols[1]].nunique()
    print(f"fitted {cls.__name__}(dim={model.dim}) on {len(ratings):,} ratings from {source} "
          f"({n_users:,} users, {n_items:,} items)")
    if model.history_:
        print(pd.DataFrame(model.history_).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if test is not None:
        print("test " + json.dumps(_errors(model.predict(test), test[cols[2]].to_numpy())))
    if args.out:
        path = model.save(Path(args.out).expanduser())
        print(f"saved the model to {path}")
    return 0


def _fit_implicit(args, events: pd.DataFrame, cols, source: str) -> int:
    from featvec import ImplicitRecommender, evaluate

    if args.min_rating is not None:
        from featvec.validation import numeric_values

        y = numeric_values(events, cols[2], f"{source}")
        events = events[y >= args.min_rating]
        if len(events) == 0:
            raise ValueError(f"no row of {source} has {cols[2]} >= {args.min_rating}")
    test = None
    if args.test_frac:
        if not 0 < args.test_frac < 1:
            raise ValueError(f"--test-frac must be between 0 and 1, got {args.test_frac}")
        from featvec.evaluation.splits import per_user_split

        events, test = per_user_split(events, test_frac=args.test_frac, seed=args.seed, user_col=cols[0],
                                      item_col=cols[1])
    params = {"user_col": cols[0], "item_col": cols[1], "seed": args.seed, "show_progress": args.progress,
              "loss": args.loss, "solver": args.solver}
    for name in ("dim", "epochs", "lr", "batch_size", "valid_frac"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    model = ImplicitRecommender(**params).fit(events[[cols[0], cols[1]]])
    what = "ALS" if args.solver == "als" else args.loss
    print(f"fitted ImplicitRecommender({what}, dim={model.dim}) on {len(events):,} interactions from {source} "
          f"({events[cols[0]].nunique():,} users, {events[cols[1]].nunique():,} items)")
    if model.history_:
        print(pd.DataFrame(model.history_).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if test is not None:
        print("test " + json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                    for k, v in evaluate(model, test, k=(10, 20)).items()}))
    if args.out:
        print(f"saved the model to {model.save(Path(args.out).expanduser())}")
    return 0


def cmd_evaluate(args) -> int:
    model = load_model(args.model_dir)
    from featvec import ImplicitRecommender

    if isinstance(model, ImplicitRecommender) or args.ranking:
        from featvec.evaluation.ranking import evaluate

        names = (args.user_col or model.user_col, args.item_col or model.item_col)
        df = read_ratings(args.ratings, *names, None, what="test interactions")
        df = df.rename(columns=dict(zip(names, (model.user_col, model.item_col))))
        out = evaluate(model, df, k=args.k, sampled=args.sampled)
        print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}))
        return 0
    names = (args.user_col or model.user_col, args.item_col or model.item_col, args.rating_col or model.rating_col)
    df = read_ratings(args.ratings, *names, what="test ratings")
    df = df.rename(columns=dict(zip(names, (model.user_col, model.item_col, model.rating_col))))
    from featvec.validation import numeric_values

    y = numeric_values(df, model.rating_col, f"test ratings file {args.ratings}")
    out = _errors(model.predict(df), y)
    out["unknown_users"] = int((model.users_.rows(df[model.user_col].to_numpy()) == 0).sum())
    out["unknown_items"] = int((model.items_.rows(df[model.item_col].to_numpy()) == 0).sum())
    print(json.dumps(out))
    return 0


def cmd_recommend(args) -> int:
    model = load_model(args.model_dir)
    users = _parse_ids(args.users, model.users_.vocab.values, "user")
    out = model.recommend(users, k=args.k, filter_seen=not args.no_filter_seen)
    titles = _titles(args, model.item_col)
    if titles is not None:
        out["title"] = out[model.item_col].map(titles)
    _emit(out, args.format)
    return 0


def cmd_similar(args) -> int:
    model = load_model(args.model_dir)
    from featvec import Feat2Vec

    if isinstance(model, Feat2Vec):
        from featvec.cli.feat2vec import similar_values

        return similar_values(model, args, _emit)
    if args.values:
        raise ValueError("--values is for Feat2Vec models; this model takes --items or --users")
    if args.items:
        ids = _parse_ids(args.items, model.items_.vocab.values, "item")
        out = model.similar_items(ids, k=args.k)
        titles = _titles(args, model.item_col)
        if titles is not None:
            out.insert(1, "title", out[model.item_col].map(titles))
            out["similar_title"] = out[f"similar_{model.item_col}"].map(titles)
    else:
        ids = _parse_ids(args.users, model.users_.vocab.values, "user")
        out = model.similar_users(ids, k=args.k)
    _emit(out, args.format)
    return 0


def cmd_factors(args) -> int:
    from featvec.evaluation.factors import latent_factors

    model = load_model(args.model_dir)
    lf = latent_factors(model, top_n=args.top_n, n_components=args.components, titles=_titles(args, model.item_col),
                        out=Path(args.out).expanduser() if args.out else None, n_ends=args.ends)
    print(f"PCA of the item vectors of the {len(lf.components):,} most-rated items")
    print("explained variance ratio: " + ", ".join(f"pc{i + 1} {v:.1%}"
                                                   for i, v in enumerate(lf.explained_variance_ratio)))
    for comp, part in lf.ends.groupby("component", sort=False):
        for end, side in part.groupby("end", sort=False):
            print(f"\n{comp} {end}: " + "; ".join(f"{t} ({v:+.2f})" for t, v in zip(side["title"], side["value"])))
    for kind, path in lf.files.items():
        print(f"wrote {path}")
    return 0


def cmd_bench(args) -> int:
    from featvec.bench import main as bench_main

    seeds = args.seeds if args.seeds is not None else ([0] if args.protocol.upper() == "T" else [0, 1, 2])
    return bench_main(protocol=args.protocol, data_dir=_data_dir(args), datasets=args.datasets, seeds=seeds,
                      peers=args.peers, out_dir=args.out, systems=args.systems, threads=args.threads)


def cmd_demo(args) -> int:
    from featvec.cli.demo import run_demo

    run_demo(Path(args.out).expanduser(), seed=args.seed, quick=args.quick, echo=print)
    return 0


# ---------------------------------------------------------------- parser

def _add_cols(p, defaults: tuple | None) -> None:
    u, i, r = defaults or (None, None, None)
    tail = " (default: the model's)" if defaults is None else ""
    p.add_argument("--user-col", default=u, help="user id column" + tail)
    p.add_argument("--item-col", default=i, help="item id column" + tail)
    p.add_argument("--rating-col", default=r, help="rating column" + tail)


def _add_data(p) -> None:
    p.add_argument("--data", default=os.environ.get("FEATVEC_DATA"), metavar="DIR",
                   help="folder holding the datasets (ml-100k/, ...); default $FEATVEC_DATA, else ../shared/data "
                        "when found")


def _add_titles(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--titles", metavar="FILE",
                   help="table with the item id (the model's item column, else the first column) and a 'title' "
                        "column, to show titles")
    g.add_argument("--dataset", metavar="NAME", help="take the titles from this MovieLens dataset (see --data)")
    _add_data(p)


def _add_format(p) -> None:
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format")


FILE_HELP = ("Rating files: .csv (comma), .tsv/.data/.base/.test (tab), .dat ('::'), .parquet; optionally "
             ".gz-compressed. A file without a header row (like MovieLens u.data) is read as user, item, rating, "
             "timestamp.")


def _add_fit(sub) -> None:
    """The fit: train a model and print its history."""
    p = sub.add_parser("fit", formatter_class=_Formatter, help="train a recommender on a ratings file or dataset",
                       description="Train a MatrixFactorization (mf), DeepRecommender (deep), ImplicitRecommender "
                                   "(implicit), Feat2Vec (feat2vec) or UserModel (user) and print the training "
                                   "history; --out saves the model.\n\n" + FILE_HELP,
                       epilog="examples:\n  featvec fit --ratings ratings.csv --dim 32 --epochs 10 --out model\n"
                              "  featvec fit --dataset ml-100k --test-frac 0.1 --out ml100k-model")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ratings", metavar="FILE", help="ratings file (user, item, rating columns)")
    src.add_argument("--dataset", metavar="NAME", help="a MovieLens dataset by name: ml-100k, ml-latest-small, ...")
    src.add_argument("--records", metavar="FILE", help="any table of records, for --model feat2vec")
    _add_data(p)
    _add_cols(p, ("user_id", "item_id", "rating"))
    p.add_argument("--model", choices=["mf", "deep", "implicit", "feat2vec", "user"], default="mf",
                   help="mf: dot product + biases; deep: MLP; implicit: top-K from interactions without ratings; "
                        "feat2vec: a vector for every value of every --groups column, from --records; "
                        "user: demographics (--targets) from bags of events (--bags), one row per user in --records")
    _add_fit_model_options(p)
    t = p.add_argument_group("training (every model)")
    t.add_argument("--dim", type=int, help="vector size (default: the model's, 64 for mf, 32 for deep)")
    t.add_argument("--epochs", type=int, help="training epochs (default: the model's)")
    t.add_argument("--lr", type=float, help="peak learning rate (default: the model's)")
    t.add_argument("--batch-size", type=int, help="ratings per step (default: the model's)")
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.add_argument("--valid-frac", type=float, help="hold out this fraction to report a validation loss each epoch")
    t.add_argument("--test-frac", type=float, help="hold out this fraction as a test set and print its RMSE/MAE "
                                                    "(implicit: of each user's rows, and print ranking metrics)")
    t.add_argument("--progress", action="store_true", help="show a progress bar")
    t.add_argument("--out", metavar="DIR", help="save the fitted model to this folder")
    p.set_defaults(func=cmd_fit)


def _add_fit_model_options(p) -> None:
    """fit's options that belong to one kind of model, in one group each."""
    from featvec.cli.feat2vec import GROUPS_HELP

    g = p.add_argument_group("mf / deep")
    g.add_argument("--implicit", action="store_true", help="add the SVD++ implicit term (the items each user rated)")
    g.add_argument("--user-features", metavar="FILE", help="user side-feature table keyed by the user id column")
    g.add_argument("--item-features", metavar="FILE", help="item side-feature table keyed by the item id column")
    g = p.add_argument_group("implicit")
    g.add_argument("--loss", choices=["bpr", "bce", "sampled_softmax"], default="bpr",
                   help="implicit model's loss (SGD solver)")
    g.add_argument("--solver", choices=["sgd", "als"], default="sgd", help="implicit model's solver")
    g.add_argument("--min-rating", type=float,
                   help="implicit model: keep only rows with rating >= this as interactions (e.g. 4)")
    g = p.add_argument_group("feat2vec")
    g.add_argument("--groups", nargs="+", metavar="SPEC", help="feat2vec " + GROUPS_HELP)
    g.add_argument("--tie", action="append", metavar="G1,G2", help="feat2vec: groups resampled together (repeatable)")
    g.add_argument("--bias-only", nargs="+", metavar="GROUP", help="feat2vec: groups with a bias and no vector")
    g.add_argument("--objective", choices=["nce", "negative_sampling"], default="nce", help="feat2vec objective")
    g.add_argument("--negatives", type=int, help="feat2vec: negatives per record (default 5)")
    g = p.add_argument_group("user")
    g.add_argument("--bags", nargs="+", metavar="COL[:WEIGHTS][:SEP]", help="user model: list columns (text split "
                   "on SEP, default '|'), optional weights column")
    g.add_argument("--targets", nargs="+", metavar="COL", help="user model: columns to predict together")
    g.add_argument("--attributes", nargs="+", metavar="COL", help="user model: extra categorical inputs")
    g.add_argument("--small-data", action="store_true",
                   help="user model: UserModel.small_data's recipe for hundreds to a few thousand users (TF-IDF "
                        "bags, a wide linear part, frozen SVD bag tables)")


def _add_evaluate(sub) -> None:
    """The evaluate: score a saved model."""
    p = sub.add_parser("evaluate", formatter_class=_Formatter, help="RMSE/MAE or ranking metrics of a saved model",
                       description="Score a saved model on held-out ratings; prints JSON with rmse, mae, n and "
                                   "the number of test rows with users/items unknown to the model. Implicit "
                                   "models (and any model with --ranking) get full-ranking metrics instead: "
                                   "recall, ndcg, precision, hit_rate, map and coverage at each k, every item "
                                   "ranked for every test user with the user's training items masked; "
                                   "--sampled N ranks against N random items instead (keys say so).\n\n"
                                   + FILE_HELP,
                       epilog="examples:\n  featvec evaluate --model-dir model --ratings test.csv\n"
                              "  featvec evaluate --model-dir model --ratings test.csv --ranking -k 10 20")
    p.add_argument("--model-dir", required=True, metavar="DIR", help="folder of a saved model")
    p.add_argument("--ratings", required=True, metavar="FILE", help="test ratings (or interactions) file")
    _add_cols(p, None)
    p.add_argument("--ranking", action="store_true", help="full-ranking top-K metrics instead of RMSE")
    p.add_argument("-k", type=int, nargs="+", default=[10, 20], help="cut-offs for the ranking metrics")
    p.add_argument("--sampled", type=int, metavar="N", help="sampled ranking metrics against N random items")
    p.set_defaults(func=cmd_evaluate)


def _add_recommend(sub) -> None:
    """The recommend: top-k items per user."""
    p = sub.add_parser("recommend", formatter_class=_Formatter, help="top-k items for some users",
                       description="Top-k items for each user by predicted rating (items the user rated in "
                                   "training are left out unless --no-filter-seen).",
                       epilog="example:\n  featvec recommend --model-dir model --users 1 2 3 -k 5 --format csv")
    p.add_argument("--model-dir", required=True, metavar="DIR", help="folder of a saved model")
    p.add_argument("--users", required=True, nargs="+", metavar="ID", help="user ids")
    p.add_argument("-k", "--k", type=int, default=10, help="items per user")
    p.add_argument("--no-filter-seen", action="store_true", help="keep the items the user rated in training")
    _add_format(p)
    _add_titles(p)
    p.set_defaults(func=cmd_recommend)


def _add_similar(sub) -> None:
    """The similar: nearest items, users or values."""
    p = sub.add_parser("similar", formatter_class=_Formatter, help="nearest items (or users) by vector cosine",
                       description="The k most similar items (or users, or Feat2Vec feature values) by cosine of their vectors.",
                       epilog="examples:\n  featvec similar --model-dir model --items 50 181 -k 5\n"
                              "  featvec similar --model-dir model --users 1 -k 5 --format json\n"
                              "  featvec similar --model-dir f2v --values genres=Comedy -k 5")
    p.add_argument("--model-dir", required=True, metavar="DIR", help="folder of a saved model")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--items", nargs="+", metavar="ID", help="item ids")
    who.add_argument("--users", nargs="+", metavar="ID", help="user ids")
    who.add_argument("--values", nargs="+", metavar="GROUP=VALUE", help="feature values of a Feat2Vec model")
    p.add_argument("--groups", nargs="+", metavar="GROUP", help="Feat2Vec: only neighbours from these groups")
    p.add_argument("-k", "--k", type=int, default=10, help="neighbours per id")
    _add_format(p)
    _add_titles(p)
    p.set_defaults(func=cmd_similar)


def _add_factors(sub) -> None:
    """The factors: PCA of the item vectors."""
    p = sub.add_parser("factors", formatter_class=_Formatter, help="PCA latent factors of the item vectors",
                       description="PCA of the item vectors of the most-rated items (notebook 004): the explained "
                                   "variance and the items at both ends of each component; --out writes "
                                   "latent_factors.png (pc1 vs pc2) and CSVs.",
                       epilog="example:\n  featvec factors --model-dir ml100k-model --dataset ml-100k --out factors")
    p.add_argument("--model-dir", required=True, metavar="DIR", help="folder of a saved model")
    p.add_argument("--top-n", type=int, default=2000, help="analyse the N most-rated items")
    p.add_argument("--components", type=int, default=3, help="number of principal components")
    p.add_argument("--ends", type=int, default=10, help="items listed at each end of each component")
    p.add_argument("--out", metavar="DIR", help="write latent_factors.png, latent_factors.csv and "
                                                "latent_factor_ends.csv here")
    _add_titles(p)
    p.set_defaults(func=cmd_factors)


def _add_bench(sub) -> None:
    """The bench: a benchmark protocol."""
    p = sub.add_parser("bench", formatter_class=_Formatter, help="run a benchmark protocol of BENCHMARKS.md",
                       description="Run a benchmark protocol (E, I, U, L, F, T, S) against featvec and its peers: "
                                   "JSON lines on stdout, a markdown table and JSONL in --out.",
                       epilog="example:\n  featvec bench E --dataset ml-100k --seeds 0 --no-peers")
    p.add_argument("protocol", metavar="PROTOCOL", help="protocol letter, e.g. E")
    _add_data(p)
    p.add_argument("--dataset", action="append", dest="datasets", metavar="NAME",
                   help="dataset to run on (repeatable; default: the protocol's)")
    p.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                   help="random seeds (default: 0 1 2; protocol T: 0)")
    p.add_argument("--threads", nargs="+", type=int, metavar="N",
                   help="thread counts to measure (protocol T; default: 1 2)")
    p.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True,
                   help="also run the peer libraries (surprise, fastai, ...) where installed")
    p.add_argument("--systems", nargs="+", metavar="NAME", help="run only these systems")
    p.add_argument("--out", default="bench-results", metavar="DIR", help="results folder")
    p.set_defaults(func=cmd_bench)


def _add_demo(sub) -> None:
    """The demo: the self-contained tour."""
    p = sub.add_parser("demo", formatter_class=_Formatter, help="a one-minute tour on synthetic data (no downloads)",
                       description="Plant known structure in synthetic ratings, train a MatrixFactorization and "
                                   "show that it recovers it: test RMSE vs a bias-only baseline and the noise "
                                   "floor, recommendations with their true ratings, neighbours with the cosine of "
                                   "their true factors, and a latent-factor plot. Writes everything to --out.",
                       epilog="example:\n  featvec demo --out featvec-demo")
    p.add_argument("--out", default="featvec-demo", metavar="DIR", help="output folder")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quick", action="store_true", help="a much smaller run (seconds; for tests)")
    p.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=_Formatter,
        description="featvec: embeddings and recommenders for behavioural and tabular data.",
        epilog="Run 'featvec COMMAND --help' for a command's options. Start with 'featvec demo'.")
    from featvec import __version__

    parser.add_argument("--version", action="version", version=f"featvec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_fit(sub)
    _add_evaluate(sub)
    _add_recommend(sub)
    _add_similar(sub)
    from featvec.cli.lookalike import add_parser as add_lookalike
    from featvec.cli.user import add_infer_parser
    add_lookalike(sub, _Formatter)
    add_infer_parser(sub, _Formatter)
    _add_factors(sub)
    _add_bench(sub)
    _add_demo(sub)
    return parser


def _message(e: BaseException) -> str:
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    return str(e) or type(e).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the ``featvec`` command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors: argparse has printed what it had to say
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        return 1
    except (ValueError, OSError, KeyError, NotImplementedError) as e:
        print(f"{PROG}: error: {_message(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
