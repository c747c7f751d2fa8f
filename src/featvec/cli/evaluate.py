"""``featvec evaluate``: RMSE/MAE or full-ranking metrics of a saved model."""
from __future__ import annotations

import json
import sys

from featvec.cli.io import RECOMMENDERS, FILE_HELP, Formatter, add_cols, errors, load_model, read_ratings


def cmd_evaluate(args) -> int:
    model = load_model(args.model_dir, RECOMMENDERS, "evaluate")
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
    share = model.training_share(df)
    if share > 0.5:
        print(f"featvec: warning: {share:.0%} of these ratings were training ratings of the model; the errors "
              "are optimistic (featvec fit --test-frac writes a held-out test.csv)", file=sys.stderr)
    out = errors(model.predict(df), y)
    out["unknown_users"] = int((model.users_.rows(df[model.user_col].to_numpy()) == 0).sum())
    out["unknown_items"] = int((model.items_.rows(df[model.item_col].to_numpy()) == 0).sum())
    print(json.dumps(out))
    return 0


def add_parser(sub) -> None:
    """The evaluate: score a saved model."""
    p = sub.add_parser("evaluate", formatter_class=Formatter, help="RMSE/MAE or ranking metrics of a saved model",
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
    add_cols(p, None)
    p.add_argument("--ranking", action="store_true", help="full-ranking top-K metrics instead of RMSE")
    p.add_argument("-k", type=int, nargs="+", default=[10, 20], help="cut-offs for the ranking metrics")
    p.add_argument("--sampled", type=int, metavar="N", help="sampled ranking metrics against N random items")
    p.set_defaults(func=cmd_evaluate)
