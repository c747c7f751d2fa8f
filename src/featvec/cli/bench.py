"""``featvec bench``: run a benchmark protocol."""
from __future__ import annotations

import argparse

from featvec.cli.io import Formatter, add_data, data_dir


def cmd_bench(args) -> int:
    from featvec.bench import main as bench_main

    seeds = args.seeds if args.seeds is not None else ([0] if args.protocol.upper() in ("T", "W", "O") else [0, 1, 2])
    return bench_main(protocol=args.protocol, data_dir=data_dir(args), datasets=args.datasets, seeds=seeds,
                      peers=args.peers, out_dir=args.out, systems=args.systems, threads=args.threads,
                      device=args.device)


def add_parser(sub) -> None:
    """The bench: a benchmark protocol."""
    p = sub.add_parser("bench", formatter_class=Formatter, help="run a benchmark protocol of BENCHMARKS.md",
                       description="Run a benchmark protocol (E, I, U, L, F, T, S, W, O: S out of core) against featvec and its peers: "
                                   "JSON lines on stdout, a markdown table and JSONL in --out.",
                       epilog="example:\n  featvec bench E --dataset ml-100k --seeds 0 --no-peers")
    p.add_argument("protocol", metavar="PROTOCOL", help="protocol letter, e.g. E")
    add_data(p)
    p.add_argument("--dataset", action="append", dest="datasets", metavar="NAME",
                   help="dataset to run on (repeatable; default: the protocol's)")
    p.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                   help="random seeds (default: 0 1 2; protocols T and W: 0)")
    p.add_argument("--threads", nargs="+", type=int, metavar="N",
                   help="thread counts to measure (protocol T; default: 1 2)")
    p.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True,
                   help="also run the peer libraries (surprise, fastai, ...) where installed")
    p.add_argument("--systems", nargs="+", metavar="NAME",
                   help="run only these systems (protocol O: these stages, e.g. fit_als_2proc)")
    p.add_argument("--device", default="cpu", metavar="DEVICE",
                   help="where featvec's systems train in protocols T and S: cpu, cuda or auto (each row names "
                        "the card and its peak GPU memory); the peers stay on the CPU")
    p.add_argument("--out", default="bench-results", metavar="DIR", help="results folder")
    p.set_defaults(func=cmd_bench)
