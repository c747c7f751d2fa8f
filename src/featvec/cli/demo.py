"""`featvec demo`: a self-contained tour that needs no network and no dataset files.

It plants structure in synthetic ratings (known user/item factors and biases), trains a MatrixFactorization
on 90% of them and shows that what it learned is real: its test RMSE against an honest bias-only baseline
and the noise floor (the RMSE of the noise-free truth itself), the true ratings of the items it recommends,
and how close the *planted* factors of the items it calls similar are. Then Feat2Vec learns vectors for
every value of notebook 003's synthetic records, without labels, and checks that neighbouring values of
the latent target are each other's nearest neighbours.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from featvec.cli.io import Formatter

FULL = dict(n_users=2000, n_items=1000, n_ratings=150_000, rank=8, dim=16, epochs=20, lr=0.05)
QUICK = dict(n_users=300, n_items=150, n_ratings=12_000, rank=4, dim=8, epochs=20, lr=0.05)
N_SHOW = 3
K = 5


def bias_baseline(train: pd.DataFrame, test: pd.DataFrame, user_col: str = "user_id", item_col: str = "item_id",
                  rating_col: str = "rating", reg: float = 5.0, sweeps: int = 10) -> np.ndarray:
    """Bias-only predictions for ``test``: global mean + user bias + item bias, the biases fitted by
    alternating regularised least squares on ``train`` (no factors at all). Unknown ids get bias 0."""
    y = train[rating_col].to_numpy(np.float64)
    users, uid = pd.factorize(train[user_col])
    items, iid = pd.factorize(train[item_col])
    cu, ci = np.bincount(users), np.bincount(items)
    mu = y.mean()
    bu, bi = np.zeros(len(uid)), np.zeros(len(iid))
    for _ in range(sweeps):
        bi = np.bincount(items, y - mu - bu[users], len(iid)) / (ci + reg)
        bu = np.bincount(users, y - mu - bi[items], len(uid)) / (cu + reg)
    tu = uid.get_indexer(test[user_col])
    ti = iid.get_indexer(test[item_col])
    pred = mu + np.where(tu >= 0, bu[tu], 0.0) + np.where(ti >= 0, bi[ti], 0.0)
    return np.clip(pred, y.min(), y.max())


def _errors(pred: np.ndarray, y: np.ndarray) -> dict:
    d = np.asarray(pred, np.float64) - np.asarray(y, np.float64)
    return {"rmse": float(np.sqrt(np.mean(d ** 2))), "mae": float(np.mean(np.abs(d)))}


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = np.einsum("ij,ij->i", a, b)
    return num / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def run_demo(out_dir: str | os.PathLike = "featvec-demo", seed: int = 0, quick: bool = False,
             echo: Callable[[str], None] = print) -> dict:
    """Run the demo, write its outputs to ``out_dir`` and return the metrics (also in metrics.json).

    Outputs: ``model/`` (the saved MatrixFactorization; ``featvec.load`` it), ``metrics.json``,
    ``recommendations.csv``, ``similar_items.csv``, ``latent_factors.png`` / ``.csv``, ``README.txt``.
    ``quick=True`` runs a much smaller version (for tests).
    """
    from featvec.evaluation.splits import random_split
    from featvec.datasets import synthetic_ratings

    t0 = time.perf_counter()
    cfg = dict(QUICK if quick else FULL)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    data = synthetic_ratings(n_users=cfg["n_users"], n_items=cfg["n_items"], n_ratings=cfg["n_ratings"],
                             rank=cfg["rank"], seed=seed)
    train, test = random_split(data.ratings, test_frac=0.1, seed=seed)
    echo(f"featvec demo: {len(data.ratings):,} synthetic ratings from {cfg['n_users']:,} users x "
         f"{cfg['n_items']:,} items, planted rank-{cfg['rank']} factors + biases + noise "
         f"(std {data.noise_std}); {len(train):,} train / {len(test):,} test")

    model, err, closed, fit_seconds = _ratings_part(data, train, test, cfg, seed, echo)
    users, recs, unseen_mean = _recommendations_part(model, data, train, echo)
    sims, random_cos = _similar_part(model, data, train, seed, echo)
    lf, r2 = _factors_part(model, data, train, cfg, out, echo)

    logs = implicit_part(data.ratings, seed, echo)
    f2v = feat2vec_part(out, seed, quick, echo)
    user_metrics = user_part(out, seed, quick, echo)

    model.save(out / "model")
    recs.to_csv(out / "recommendations.csv", index=False)
    sims.to_csv(out / "similar_items.csv", index=False)
    metrics = {
        "config": {**cfg, "seed": seed, "quick": quick}, "n_train": len(train), "n_test": len(test),
        "test": err, "gap_closed": closed,
        "recommendations": {str(u): {"mean_true_rating_recommended":
                                     float(recs.loc[recs["user_id"] == u, "true_rating"].mean()),
                                     "mean_true_rating_unseen": unseen_mean[u]} for u in users},
        "similar_items": {"mean_true_cosine_neighbours": float(sims["true_cosine"].mean()),
                          "mean_true_cosine_random_pairs": random_cos},
        "latent_factors": {"explained_variance_ratio": [float(v) for v in lf.explained_variance_ratio],
                           "r2_vs_planted_factors": r2},
        "fit_seconds": fit_seconds, "implicit": logs, "feat2vec": f2v, "user_model": user_metrics,
    }
    metrics["seconds"] = time.perf_counter() - t0
    with open(out / "metrics.json", "w", encoding="utf-8") as fh:
        json.dump(metrics, fh, indent=1)
    (out / "README.txt").write_text(_README.format(**cfg, n_train=len(train), n_test=len(test), seed=seed),
                                    encoding="utf-8")
    echo(f"\nwrote {out}/: model/, metrics.json, recommendations.csv, similar_items.csv, latent_factors.png, "
         f"feat2vec_similar.csv, user_probabilities.csv, README.txt ({metrics['seconds']:.1f}s)")
    return metrics


def _ratings_part(data, train, test, cfg: dict, seed: int, echo) -> tuple:
    """Fit MatrixFactorization; its test RMSE against the bias-only baseline and the noise floor."""
    from featvec import MatrixFactorization

    model = MatrixFactorization(dim=cfg["dim"], epochs=cfg["epochs"], lr=cfg["lr"], seed=seed)
    t_fit = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - t_fit
    y = test["rating"].to_numpy()
    err = {"model": _errors(model.predict(test), y), "bias_baseline": _errors(bias_baseline(train, test), y),
           "noise_floor": _errors(data.truth(test["user_id"], test["item_id"]), y)}
    echo(f"\ntrained MatrixFactorization(dim={cfg['dim']}) for {cfg['epochs']} epochs in {fit_seconds:.1f}s")
    echo("test RMSE (lower is better):")
    echo(f"  MatrixFactorization  {err['model']['rmse']:.4f}")
    echo(f"  bias-only baseline   {err['bias_baseline']['rmse']:.4f}   (global mean + user + item biases)")
    echo(f"  noise floor          {err['noise_floor']['rmse']:.4f}   (the noise-free truth itself)")
    gap = err["bias_baseline"]["rmse"] - err["noise_floor"]["rmse"]
    closed = (err["bias_baseline"]["rmse"] - err["model"]["rmse"]) / gap if gap > 0 else float("nan")
    echo(f"  -> the model closes {closed:.0%} of the gap between the baseline and the floor")
    return model, err, closed, fit_seconds


def _recommendations_part(model, data, train, echo) -> tuple:
    """The true (noise-free) rating of what is recommended against that of all unseen items."""
    users = sorted(train["user_id"].unique())[:N_SHOW]
    recs = model.recommend(users, k=K)
    recs["true_rating"] = data.truth(recs["user_id"], recs["item_id"])
    item_ids = data.item_factors.index.to_numpy()
    seen = train.groupby("user_id")["item_id"].agg(set)
    unseen_mean = {}
    for u in users:
        cand = np.array([i for i in item_ids if i not in seen[u]])
        unseen_mean[u] = float(data.truth(np.full(len(cand), u), cand).mean())
    echo(f"\ntop-{K} recommendations (score = predicted rating, true = noise-free planted rating):")
    for u in users:
        r = recs[recs["user_id"] == u]
        echo(f"  user {u}: " + ", ".join(f"item {i} ({s:.2f}, true {t:.2f})"
                                          for i, s, t in zip(r["item_id"], r["score"], r["true_rating"])))
        echo(f"    mean true rating: recommended {r['true_rating'].mean():.2f} vs all unseen items "
             f"{unseen_mean[u]:.2f}")
    return users, recs, unseen_mean


def _similar_part(model, data, train, seed: int, echo) -> tuple:
    """Cosine of the learned item vectors against cosine of the planted factors."""
    counts = train["item_id"].value_counts()
    items = counts.index[:N_SHOW].tolist()
    sims = model.similar_items(items, k=K)
    true_f = data.item_factors
    sims["true_cosine"] = _cosine(true_f.loc[sims["item_id"]].to_numpy(), true_f.loc[sims["similar_item_id"]].to_numpy())
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(true_f), (2, 5000))
    random_cos = float(_cosine(true_f.to_numpy()[a], true_f.to_numpy()[b]).mean())
    echo(f"\n{K} most similar items (learned cosine; true = cosine of the planted factors):")
    for i in items:
        r = sims[sims["item_id"] == i]
        echo(f"  item {i}: " + ", ".join(f"item {j} ({s:.2f}, true {t:.2f})"
                                          for j, s, t in zip(r["similar_item_id"], r["score"], r["true_cosine"])))
    echo(f"  mean true cosine of these neighbours {sims['true_cosine'].mean():.2f} vs {random_cos:.2f} for "
         f"random item pairs")
    return sims, random_cos


def _factors_part(model, data, train, cfg: dict, out: Path, echo) -> tuple:
    """Latent factors of the items, and how much of each one the planted factors explain."""
    from featvec.evaluation.factors import latent_factors

    item_ids = data.item_factors.index.to_numpy()
    true_f = data.item_factors
    top_n = min(2000, train["item_id"].nunique())
    lf = latent_factors(model, top_n=top_n, n_components=min(3, cfg["dim"]),
                        titles={i: f"item {i}" for i in item_ids}, out=out)
    planted = np.column_stack([true_f.loc[lf.components.index].to_numpy(np.float64), np.ones(len(lf.components))])
    r2 = []
    for c in [c for c in lf.components.columns if c.startswith("pc")]:
        pc = lf.components[c].to_numpy(np.float64)
        resid = pc - planted @ np.linalg.lstsq(planted, pc, rcond=None)[0]
        r2.append(float(1 - resid.var() / pc.var()) if pc.var() > 0 else float("nan"))
    echo(f"\nlatent factors (PCA of the {top_n} most-rated items' vectors): explained variance "
         + ", ".join(f"{v:.1%}" for v in lf.explained_variance_ratio)
         + "; share of each component explained by the planted factors (R^2) "
         + ", ".join(f"{v:.2f}" for v in r2))
    return lf, r2


def implicit_part(ratings: pd.DataFrame, seed: int, echo: Callable[[str], None]) -> dict:
    """No ratings, only logs: the ratings of 4 and above as events, 20% of each user's held out; the three
    implicit trainers against ranking by popularity, recall@10 over the whole catalogue."""
    from featvec import ImplicitRecommender, evaluate
    from featvec.evaluation.splits import per_user_split

    events = ratings.loc[ratings["rating"] >= 4, ["user_id", "item_id"]]
    train, test = per_user_split(events, test_frac=0.2, seed=seed)
    out = {"events": len(events), "popularity_recall10": popularity_recall(train, test, 10)}
    echo(f"\nno ratings, only logs: {len(events):,} events (ratings >= 4), 20% of each user's held out; "
         f"recall@10 over all {events['item_id'].nunique():,} items, training items masked:")
    echo(f"  {'popularity':36s} {out['popularity_recall10']:.3f}   (strong here: the planted item biases "
         "decide most ratings of 4 and above)")
    models = {"ImplicitRecommender(sampled_softmax)": ImplicitRecommender(loss="sampled_softmax", seed=seed),
              "ImplicitRecommender(bpr)": ImplicitRecommender(loss="bpr", seed=seed),
              "ImplicitRecommender(als)": ImplicitRecommender(solver="als", reg_exponent=1.0, reg=0.2, seed=seed)}
    for name, model in models.items():
        t = time.perf_counter()
        model.fit(train)
        seconds = time.perf_counter() - t
        recall = float(evaluate(model, test, k=10)["recall@10"])
        out[name] = {"recall10": recall, "fit_seconds": seconds}
        echo(f"  {name:36s} {recall:.3f}   fit {seconds:.2f}s")
    return out


def popularity_recall(train: pd.DataFrame, test: pd.DataFrame, k: int) -> float:
    """Recall@k of ranking by training counts, each user's training items masked (as ``evaluate`` does)."""
    ranked = train["item_id"].value_counts().index.to_numpy()
    seen = train.groupby("user_id")["item_id"].agg(set)
    test = test[test["user_id"].isin(seen.index) & test["item_id"].isin(set(ranked))]
    recalls = []
    for user, items in test.groupby("user_id")["item_id"]:
        top = [i for i in ranked[: k + len(seen[user])] if i not in seen[user]][:k]
        recalls.append(items.isin(top).sum() / min(k, len(items)))
    return float(np.mean(recalls))


def feat2vec_part(out: Path, seed: int, quick: bool, echo: Callable[[str], None]) -> dict:
    """Feat2Vec on notebook 003's records: without labels, do neighbouring values of the target y end up
    next to each other? (y is the floor of a latent variable, so y=k and y=k+1 are the closest values.)"""
    from featvec import Feat2Vec, Numeric
    from featvec.datasets import feat2vec_records

    n = 20_000 if quick else 100_000
    df = feat2vec_records(n, seed)
    t = time.perf_counter()
    model = Feat2Vec(["item", "id", Numeric(["attr1", "attr2", "attr3"], name="attrs"), "y"], dim=10,
                     objective="negative_sampling", epochs=4 if quick else 10, seed=seed).fit(df)
    seconds = time.perf_counter() - t
    counts = df["y"].value_counts()
    common = sorted(int(v) for v in counts[counts >= max(50, n // 100)].index)
    yv = model.vectors_["y"]
    nearest = yv.similar(common, 1, candidates=common)
    adjacent = float((abs(nearest["label"].astype(int) - nearest["query"].astype(int)) == 1).mean())
    shown = model.similar([f"y={v}" for v in common[len(common) // 2 - 1:len(common) // 2 + 2]], k=K)
    echo(f"\nfeat2vec on {n:,} synthetic records (notebook 003: item, id, attrs = 3 real columns, target y), "
         f"no labels, {len(model.history_)} epochs in {seconds:.1f}s:")
    for q in dict.fromkeys(shown["query"]):
        r = shown[shown["query"] == q]
        echo(f"  {q}: " + ", ".join(f"{lab} ({sc:.2f})" for lab, sc in zip(r["label"], r["score"])))
    echo(f"  the nearest y value of {adjacent:.0%} of the {len(common)} common y values is an adjacent one "
         f"(y±1); by chance about {2 / max(len(common) - 1, 1):.0%}")
    shown.to_csv(out / "feat2vec_similar.csv", index=False)
    return {"records": n, "epochs": len(model.history_), "fit_seconds": seconds,
            "adjacent_nearest_y": adjacent, "n_common_y": len(common)}


def user_part(out: Path, seed: int, quick: bool, echo: Callable[[str], None]) -> dict:
    """UserModel on notebook 000's users with a planted effect: two sequences of categories per user (one pure
    noise), marital status and number of children predicted together, against the majority class."""
    from featvec import UserModel
    from featvec.datasets import user_sequences

    n = 1000 if quick else 4000
    df, truth = user_sequences(n, seed, planted=True)
    test_rows = np.random.default_rng(seed).permutation(n)[: n // 5]
    test = df.iloc[np.sort(test_rows)]
    train = df.drop(index=test.index)
    t = time.perf_counter()
    model = UserModel.small_data(["seq1", "seq2"], ["marital", "children"], seed=seed).fit(train)
    seconds = time.perf_counter() - t
    acc = model.score(test)
    majority = {c: float((test[c] == train[c].value_counts().idxmax()).mean()) for c in acc}
    echo(f"\nUserModel.small_data on {n:,} synthetic users (notebook 000: two sequences of categories each, seq2 "
         f"pure noise; each class makes 3 seq1 categories 4x as likely), both targets at once, {seconds:.1f}s:")
    for c in acc:
        echo(f"  {c:9s} test accuracy {acc[c]:.3f}   majority class {majority[c]:.3f}")
    proba = model.predict_proba(test.set_index("user_id"))
    pd.concat({c: p for c, p in proba.items()}, axis=1).round(4).to_csv(out / "user_probabilities.csv")
    return {"users": n, "fit_seconds": seconds, "accuracy": acc, "majority": majority, "planted": truth}


_README = """featvec demo output
===================

Synthetic ratings (seed {seed}): {n_users} users x {n_items} items, {n_ratings} ratings generated as
global mean + user bias + item bias + <planted rank-{rank} user factors, item factors> + Gaussian noise.
A MatrixFactorization(dim={dim}) was trained on {n_train} of them (90%) and tested on the other {n_test}.

model/                     the trained model: featvec.load("model") or `featvec recommend --model-dir model ...`
metrics.json               test RMSE/MAE of the model, of a bias-only baseline and of the noise floor
                           (the noise-free truth); true ratings of recommendations; true cosine of neighbours
recommendations.csv        top-5 items for 3 users: predicted score and the true (noise-free) rating
similar_items.csv          5 nearest items for 3 items: learned cosine and the cosine of the planted factors
latent_factors.png         PCA of the item vectors (pc1 vs pc2), extreme items labelled
latent_factors.csv         each item's coordinates on the principal components
latent_factor_ends.csv     the 10 items at each end of each component
feat2vec_similar.csv       Feat2Vec on notebook 003's synthetic records: nearest values (any group) of 3 y values
user_probabilities.csv     UserModel on notebook 000's synthetic users (planted effect): each test user's
                           probabilities of every marital status and number of children
"""


# ---------------------------------------------------------------- the command

def cmd_demo(args) -> int:
    run_demo(Path(args.out).expanduser(), seed=args.seed, quick=args.quick, echo=print)
    return 0


def add_parser(sub) -> None:
    """The demo: the self-contained tour."""
    p = sub.add_parser("demo", formatter_class=Formatter, help="a one-minute tour on synthetic data (no downloads)",
                       description="Plant known structure in synthetic ratings, train a MatrixFactorization and "
                                   "show that it recovers it: test RMSE vs a bias-only baseline and the noise "
                                   "floor, recommendations with their true ratings, neighbours with the cosine of "
                                   "their true factors, and a latent-factor plot. Writes everything to --out.",
                       epilog="example:\n  featvec demo --out featvec-demo")
    p.add_argument("--out", default="featvec-demo", metavar="DIR", help="output folder")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quick", action="store_true", help="a much smaller run (seconds; for tests)")
    p.set_defaults(func=cmd_demo)
