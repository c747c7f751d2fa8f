"""``featvec factors``: PCA latent factors of a saved model's item vectors."""
from __future__ import annotations

from pathlib import Path

from featvec.cli.io import RECOMMENDERS, Formatter, add_titles, load_model, item_titles


def cmd_factors(args) -> int:
    from featvec.evaluation.factors import latent_factors

    model = load_model(args.model_dir, RECOMMENDERS, "factors")
    lf = latent_factors(model, top_n=args.top_n, n_components=args.components, titles=item_titles(args, model.item_col),
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


def add_parser(sub) -> None:
    """The factors: PCA of the item vectors."""
    p = sub.add_parser("factors", formatter_class=Formatter, help="PCA latent factors of the item vectors",
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
    add_titles(p)
    p.set_defaults(func=cmd_factors)
