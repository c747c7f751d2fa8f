"""``featvec recommend``: top-k items per user."""
from __future__ import annotations

from featvec.cli.io import RECOMMENDERS, Formatter, add_format, add_titles, emit, load_model, parse_ids, item_titles


def cmd_recommend(args) -> int:
    model = load_model(args.model_dir, RECOMMENDERS, "recommend")
    users = parse_ids(args.users, model.users_.vocab.values, "user")
    out = model.recommend(users, k=args.k, filter_seen=not args.no_filter_seen)
    titles = item_titles(args, model.item_col)
    if titles is not None:
        out["title"] = out[model.item_col].map(titles)
    emit(out, args.format)
    return 0


def add_parser(sub) -> None:
    """The recommend: top-k items per user."""
    p = sub.add_parser("recommend", formatter_class=Formatter, help="top-k items for some users",
                       description="Top-k items for each user by predicted rating (items the user rated in "
                                   "training are left out unless --no-filter-seen).",
                       epilog="example:\n  featvec recommend --model-dir model --users 1 2 3 -k 5 --format csv")
    p.add_argument("--model-dir", required=True, metavar="DIR", help="folder of a saved model")
    p.add_argument("--users", required=True, nargs="+", metavar="ID", help="user ids")
    p.add_argument("-k", "--k", type=int, default=10, help="items per user")
    p.add_argument("--no-filter-seen", action="store_true", help="keep the items the user rated in training")
    add_format(p)
    add_titles(p)
    p.set_defaults(func=cmd_recommend)
