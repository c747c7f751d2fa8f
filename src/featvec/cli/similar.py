"""``featvec similar``: nearest items or users of a recommender (Feat2Vec's values: ``featvec.cli.feat2vec``)."""
from __future__ import annotations

from featvec.cli.io import Formatter, add_format, add_titles, emit, parse_ids, item_titles


def cmd_similar(args, model) -> int:
    """Neighbours of ``--items`` or ``--users`` of the loaded recommender ``model``."""
    if args.values:
        raise ValueError("--values is for Feat2Vec models; this model takes --items or --users")
    if args.items:
        ids = parse_ids(args.items, model.items_.vocab.values, "item")
        out = model.similar_items(ids, k=args.k)
        titles = item_titles(args, model.item_col)
        if titles is not None:
            out.insert(1, "title", out[model.item_col].map(titles))
            out["similar_title"] = out[f"similar_{model.item_col}"].map(titles)
    else:
        ids = parse_ids(args.users, model.users_.vocab.values, "user")
        out = model.similar_users(ids, k=args.k)
    emit(out, args.format)
    return 0


def add_parser(sub) -> None:
    """The similar: nearest items, users or values."""
    p = sub.add_parser("similar", formatter_class=Formatter, help="nearest items (or users) by vector cosine",
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
    add_format(p)
    add_titles(p)
    p.set_defaults(func=cmd_similar)
