"""``featvec fit`` for the recommenders (mf, deep, implicit); feat2vec and user models are fitted by their own
modules, chosen in ``featvec.cli.main``."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from featvec.cli.io import (FILE_HELP, Formatter, add_cols, add_data, errors, load_dataset, read_ratings,
                            read_table)


def cmd_fit(args) -> int:
    from featvec import DeepRecommender, MatrixFactorization

    implicit = args.model == "implicit"
    if args.data_dir:
        return _fit_data_dir(args)
    if args.dataset:
        data = load_dataset(args)
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
              "implicit": args.implicit, "show_progress": args.progress, **_training_options(args, cls)}
    model = cls(**params).fit(ratings, user_features=user_features, item_features=item_features)
    n_users, n_items = ratings[cols[0]].nunique(), ratings[cols[1]].nunique()
    print(f"fitted {cls.__name__}(dim={model.dim}) on {len(ratings):,} ratings from {source} "
          f"({n_users:,} users, {n_items:,} items)")
    if model.history_:
        print(pd.DataFrame(model.history_).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if test is not None:
        print("test " + json.dumps(errors(model.predict(test), test[cols[2]].to_numpy())))
    if args.out:
        path = model.save(Path(args.out).expanduser())
        print(f"saved the model to {path}")
        _write_split(path, ratings, test)
    return 0


TRAINING_OPTIONS = ("dim", "epochs", "lr", "batch_size", "valid_frac", "reg", "alpha", "iterations", "device")


def _training_options(args, cls) -> dict:
    """The training options given on the command line, each refused where the model has no such parameter."""
    out = {}
    for name in TRAINING_OPTIONS:
        value = getattr(args, name, None)
        if value is None:
            continue
        if name not in cls._param_names():
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} does not apply to --model {args.model} ({cls.__name__} has no {name})")
        out[name] = value
    return out


def _write_split(path: Path, train: pd.DataFrame, test: pd.DataFrame | None) -> None:
    """With ``--test-frac``: the training and test rows beside the model, for ``featvec evaluate``."""
    if test is None:
        return
    train.to_csv(path / "train.csv", index=False)
    test.to_csv(path / "test.csv", index=False)
    print(f"wrote {path / 'train.csv'} ({len(train):,} rows) and {path / 'test.csv'} ({len(test):,} rows); "
          f"score again with: featvec evaluate --model-dir {path} --ratings {path / 'test.csv'}")


def _fit_data_dir(args) -> int:
    """A MatrixFactorization (the folder's weight column as the rating) or an ImplicitRecommender from an
    ingested folder (featvec ingest), without the raw log."""
    from featvec import ImplicitRecommender, MatrixFactorization
    from featvec.data import Interactions

    if args.model not in ("implicit", "mf"):
        raise ValueError(f"--data-dir trains --model implicit (ALS or BPR) or mf, not --model {args.model}")
    for flag, value in (("--test-frac", args.test_frac), ("--min-rating", args.min_rating)):
        if value is not None:
            raise ValueError(f"{flag} does not apply to --data-dir (split or filter before featvec ingest)")
    data = Interactions(Path(args.data_dir).expanduser())
    cols = data.columns
    common = {"user_col": cols["user"], "item_col": cols["item"], "seed": args.seed, "show_progress": args.progress}
    if args.model == "mf":
        if cols.get("weight") is None:
            raise ValueError(f"{data.path} has no weight column to read as the rating: ingest with --weight-col")
        model = MatrixFactorization(**common, rating_col=cols["weight"],
                                    **_training_options(args, MatrixFactorization)).fit(data)
        what = f"MatrixFactorization(dim={model.dim})"
    else:
        model = ImplicitRecommender(**common, weight_col=cols.get("weight"), loss=args.loss, solver=args.solver,
                                    **_training_options(args, ImplicitRecommender)).fit(data)
        what = f"ImplicitRecommender({'ALS' if args.solver == 'als' else args.loss}, dim={model.dim})"
    print(f"fitted {what} on {data.rows:,} rows from {data.path} ({len(data.users):,} users, "
          f"{len(data.items):,} items)")
    if model.history_:
        print(pd.DataFrame(model.history_).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.out:
        print(f"saved the model to {model.save(Path(args.out).expanduser())}")
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
              "loss": args.loss, "solver": args.solver, **_training_options(args, ImplicitRecommender)}
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
        path = model.save(Path(args.out).expanduser())
        print(f"saved the model to {path}")
        _write_split(path, events, test)
    return 0


def add_parser(sub, model_options=()) -> None:
    """The fit: train a model and print its history. ``model_options``: functions adding the options of the
    models other modules fit (feat2vec, user), each given the parser."""
    p = sub.add_parser("fit", formatter_class=Formatter, help="train a recommender on a ratings file or dataset",
                       description="Train a MatrixFactorization (mf), DeepRecommender (deep), ImplicitRecommender "
                                   "(implicit), Feat2Vec (feat2vec) or UserModel (user) and print the training "
                                   "history; --out saves the model.\n\n" + FILE_HELP,
                       epilog="examples:\n  featvec fit --ratings ratings.csv --dim 32 --epochs 10 --out model\n"
                              "  featvec fit --dataset ml-100k --test-frac 0.1 --out ml100k-model")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ratings", metavar="FILE", help="ratings file (user, item, rating columns)")
    src.add_argument("--dataset", metavar="NAME", help="a MovieLens dataset by name: ml-100k, ml-latest-small, ...")
    src.add_argument("--records", metavar="FILE", help="any table of records, for --model feat2vec")
    src.add_argument("--data-dir", metavar="DIR", help="an ingested folder (featvec ingest), for --model implicit or "
                     "mf (its weight column the rating): trains without loading the raw log")
    add_data(p)
    add_cols(p, ("user_id", "item_id", "rating"))
    p.add_argument("--model", choices=["mf", "deep", "implicit", "feat2vec", "user"], default="mf",
                   help="mf: dot product + biases; deep: MLP; implicit: top-K from interactions without ratings; "
                        "feat2vec: a vector for every value of every --groups column, from --records; "
                        "user: demographics (--targets) from bags of events (--bags), one row per user in --records")
    _add_fit_model_options(p)
    for add in model_options:
        add(p)
    t = p.add_argument_group("training (every model)")
    t.add_argument("--dim", type=int, help="vector size (default: the model's, 64 for mf, 32 for deep)")
    t.add_argument("--epochs", type=int, help="training epochs (default: the model's)")
    t.add_argument("--lr", type=float, help="peak learning rate (default: the model's)")
    t.add_argument("--batch-size", type=int, help="ratings per step (default: the model's)")
    t.add_argument("--reg", type=float, help="L2 regularisation of the vectors (mf, implicit; default: the model's)")
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.add_argument("--valid-frac", type=float, help="hold out this fraction to report a validation loss each epoch")
    t.add_argument("--test-frac", type=float, help="hold out this fraction as a test set and print its RMSE/MAE "
                                                    "(implicit: of each user's rows, and print ranking metrics)")
    t.add_argument("--device", metavar="DEVICE", help="cpu (default), cuda or auto: a GPU when there is one")
    t.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train data-parallel in N processes on this machine (gloo over loopback, the cores shared "
                        "out; rank 0 saves); several machines: torchrun, see docs/distributed.md")
    t.add_argument("--progress", action="store_true", help="show a progress bar")
    t.add_argument("--out", metavar="DIR", help="save the fitted model to this folder")
    p.set_defaults(func=cmd_fit)


def _add_fit_model_options(p) -> None:
    """fit's options for the recommenders, one group per kind of model."""
    g = p.add_argument_group("mf / deep")
    g.add_argument("--implicit", action="store_true", help="add the SVD++ implicit term (the items each user rated)")
    g.add_argument("--user-features", metavar="FILE", help="user side-feature table keyed by the user id column")
    g.add_argument("--item-features", metavar="FILE", help="item side-feature table keyed by the item id column")
    g = p.add_argument_group("implicit")
    g.add_argument("--loss", choices=["bpr", "bce", "sampled_softmax"], default="bpr",
                   help="implicit model's loss (SGD solver)")
    g.add_argument("--solver", choices=["sgd", "als"], default="sgd", help="implicit model's solver")
    g.add_argument("--alpha", type=float, help="ALS: confidence per interaction, 1 + alpha x weight (default 1)")
    g.add_argument("--iterations", type=int, help="ALS: alternating sweeps (default 15)")
    g.add_argument("--min-rating", type=float,
                   help="implicit model: keep only rows with rating >= this as interactions (e.g. 4)")
