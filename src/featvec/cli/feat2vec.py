"""``featvec fit --model feat2vec``: group specs from the command line, and list cells read from files."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from featvec.cli.io import read_table, split_lists
from featvec.schema import Bag, Categorical, Numeric

GROUPS_HELP = """feature groups, one per argument:
  COL            a categorical column
  COL:bag[:SEP]  a column of lists (Parquet lists, or text split on SEP, default '|')
  NAME=C1,C2,... real-valued columns standardised and mapped to one vector
  COL:numeric    one real-valued column"""


def parse_groups(specs: list[str], df: pd.DataFrame) -> tuple[list, pd.DataFrame]:
    """Features for ``specs`` (see GROUPS_HELP); text bag columns of ``df`` are split into lists."""
    out, df = [], df.copy()
    for spec in specs:
        if "=" in spec:
            name, cols = spec.split("=", 1)
            columns = [c.strip() for c in cols.split(",") if c.strip()]
            if not name.strip() or not columns:
                raise ValueError(f"--groups {spec!r}: use NAME=COL1,COL2,...")
            out.append(Numeric(columns, name=name.strip()))
            continue
        col, _, kind = spec.partition(":")
        kind, _, sep = kind.partition(":")
        if col not in df.columns:
            raise ValueError(f"--groups {spec!r}: no column {col!r}; the file has {list(df.columns)}")
        if kind in ("", "cat", "categorical"):
            out.append(Categorical(col))
        elif kind == "numeric":
            out.append(Numeric([col]))
        elif kind == "bag":
            df[col] = split_lists(df[col], sep or "|")
            out.append(Bag(col))
        else:
            raise ValueError(f"--groups {spec!r}: unknown kind {kind!r}; use bag or numeric (or nothing)")
    return out, df


def fit_feat2vec(args) -> int:
    from featvec import Feat2Vec

    if not args.groups:
        raise ValueError("--model feat2vec needs --groups (the columns to embed)")
    df = read_table(args.records, "records")
    groups, df = parse_groups(args.groups, df)
    params = {"groups": groups, "tie": [t.split(",") for t in (args.tie or [])], "seed": args.seed,
              "objective": args.objective, "show_progress": args.progress}
    for name in ("dim", "epochs", "lr", "batch_size", "valid_frac", "negatives", "device"):
        if getattr(args, name, None) is not None:
            params[name] = getattr(args, name)
    if args.bias_only:
        params["bias_only"] = args.bias_only
    model = Feat2Vec(**params).fit(df)
    print(f"fitted Feat2Vec({args.objective}, dim={model.dim}) on {len(df):,} records from {args.records}; "
          f"groups {', '.join(model.encoder_.names)}")
    print(pd.DataFrame(model.history_).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.out:
        print(f"saved the model to {model.save(Path(args.out).expanduser())}")
    return 0


def similar_values(model, args, emit) -> int:
    if not args.values:
        raise ValueError("a Feat2Vec model takes --values GROUP=VALUE ... (for example --values genre=Comedy)")
    labels = model.vectors_["all"].labels
    known = {str(v): v for v in labels}
    bad = [v for v in args.values if v not in known]
    if bad:
        raise ValueError(f"unknown value(s) {bad}; values look like {json.dumps([str(v) for v in labels[:3]])}")
    emit(model.similar([known[v] for v in args.values], k=args.k, groups=args.groups), args.format)
    return 0


def add_fit_options(p) -> None:
    """``featvec fit``'s feat2vec options, as one group of the fit parser ``p``."""
    g = p.add_argument_group("feat2vec")
    g.add_argument("--groups", nargs="+", metavar="SPEC", help="feat2vec " + GROUPS_HELP)
    g.add_argument("--tie", action="append", metavar="G1,G2", help="feat2vec: groups resampled together (repeatable)")
    g.add_argument("--bias-only", nargs="+", metavar="GROUP", help="feat2vec: groups with a bias and no vector")
    g.add_argument("--objective", choices=["nce", "negative_sampling"], default="nce", help="feat2vec objective")
    g.add_argument("--negatives", type=int, help="feat2vec: negatives per record (default 5)")
