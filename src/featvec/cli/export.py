"""``featvec export``: every vector table of a saved model to one file (Parquet or CSV)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from featvec.cli.io import Formatter, load_model


def vector_frame(model, tables: list[str] | None = None) -> pd.DataFrame:
    """One row per (table, label): table, label, bias (NaN where the table has none), v0..v{d-1} (NaN past
    a table's own width)."""
    vs = model.vectors_
    names = list(vs) if not tables else tables
    unknown = [t for t in names if t not in vs]
    if unknown:
        raise ValueError(f"--tables {unknown}: no such table; the model has {list(vs)}")
    width = max(vs[t].matrix.shape[1] for t in names)
    parts = []
    for t in names:
        v = vs[t]
        m = np.full((len(v.labels), width), np.nan, dtype=np.float32)
        m[:, :v.matrix.shape[1]] = v.matrix
        part = pd.DataFrame(m, columns=[f"v{j}" for j in range(width)])
        part.insert(0, "bias", np.nan if v.bias is None else np.asarray(v.bias, dtype=np.float32))
        part.insert(0, "label", pd.Series([str(x) for x in v.labels], dtype=object))
        part.insert(0, "table", t)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def cmd_export(args) -> int:
    model = load_model(args.model_dir)
    out = Path(args.out).expanduser()
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ValueError(f"--out {out}: give a .parquet or .csv file name")
    frame = vector_frame(model, args.tables)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        try:
            frame.to_parquet(out, index=False)
        except ImportError:
            raise ValueError("writing Parquet needs pyarrow: pip install 'featvec[parquet]', or --out a .csv") from None
    else:
        frame.to_csv(out, index=False)
    counts = frame.groupby("table", sort=False).size()
    print(f"wrote {out}: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    return 0


def add_parser(sub) -> None:
    """The export: a saved model's vectors to a file."""
    p = sub.add_parser("export", formatter_class=Formatter, help="write a saved model's vectors to Parquet or CSV",
                       description="Every vector table of a saved model (users, items, each feature group; "
                                   "Feat2Vec's groups; a TabularModel's or UserModel's inputs) in one file: "
                                   "columns table, label, bias, v0..; one row per vector.",
                       epilog="example:\n  featvec export ml100k-model --out vectors.parquet")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="folder of a saved model")
    p.add_argument("--out", required=True, metavar="FILE", help="a .parquet or .csv file")
    p.add_argument("--tables", nargs="+", metavar="NAME", help="only these tables (default: all)")
    p.set_defaults(func=cmd_export)
