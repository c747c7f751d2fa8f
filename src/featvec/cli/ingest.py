"""``featvec ingest``: an interaction log of any size (a Parquet / CSV / JSON-lines folder) -> encoded .npy
shards and vocabularies that ``featvec fit --data-dir`` trains from."""
from __future__ import annotations

from featvec.cli.io import Formatter


def add_parser(sub) -> None:
    p = sub.add_parser("ingest", formatter_class=Formatter, help="encode an interaction log of any size for fit --data-dir",
                       description="Read a file or a folder of Parquet, CSV, TSV or JSON-lines files in record batches "
                                   "(pyarrow), count the ids in one pass, then encode the rows into .npy shards with "
                                   "the vocabularies as JSON (docs/data-format.md). Peak memory: a batch and the "
                                   "counts of distinct ids. Ids seen fewer than --min-count times are left out.",
                       epilog="example:\n  featvec ingest events/ --user-col user --item-col item --out events-enc\n"
                              "  featvec fit --data-dir events-enc --model implicit --solver als --out als")
    p.add_argument("source", metavar="SOURCE", help="a file or a folder of data files (one format)")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to write")
    p.add_argument("--user-col", default="user_id", help="user id column")
    p.add_argument("--item-col", default="item_id", help="item id column")
    p.add_argument("--weight-col", help="a non-negative strength per row (play counts, ...); default: 1 per row")
    p.add_argument("--min-count", type=int, default=1, help="leave out ids seen fewer times (and their rows)")
    p.add_argument("--batch-rows", type=int, default=1 << 20, help="rows read at a time")
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(args) -> int:
    from featvec.data import ingest

    if args.batch_rows < 1:
        raise ValueError(f"--batch-rows must be >= 1, got {args.batch_rows}")
    ingest(args.source, args.out, user_col=args.user_col, item_col=args.item_col, weight_col=args.weight_col,
           min_count=args.min_count, batch_rows=args.batch_rows, log=print)
    return 0
