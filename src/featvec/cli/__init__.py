"""The ``featvec`` command line: fit, evaluate, recommend, similar, factors, export, bench, demo.

Every command is a thin layer over the Python API; ``main(argv)`` returns the exit status (0 ok, 1 a failed
benchmark system, 2 bad input or usage). Bad input (a missing file, a missing column, an unknown id) prints
one line ``featvec: error: ...`` to stderr, without a traceback.

One module per command (``fit``, ``evaluate``, ``recommend``, ``similar``, ``factors``, ``bench``, ``demo``,
``lookalike``, ``infer`` in ``user``; feat2vec's fit and neighbours in ``feat2vec``), each with its
``add_parser`` and its command function; what they share (reading input, writing output, common options) is
in ``featvec.cli.io``. Imports run one way: this module -> the commands -> ``cli.io`` -> the library.
"""
from __future__ import annotations

import argparse
import os
import sys

from featvec.cli import (bench, demo, evaluate, explore, export, factors, feat2vec, fit, ingest, lookalike, recommend,
                         serve, similar, user)
from featvec.cli.io import RECOMMENDERS, Formatter, emit, load_model

PROG = "featvec"


def _fit(args) -> int:
    """``featvec fit``: ``--nproc N`` runs the fit below in N processes (data-parallel), as does ``torchrun``
    (a process group described by the environment)."""
    from featvec.training.distributed import init_from_env, launch

    if args.nproc < 1:
        raise ValueError(f"--nproc must be at least 1, got {args.nproc}")
    if args.nproc > 1:
        launch(_fit_rank, (args,), args.nproc, device=args.device)
        return 0
    if init_from_env(args.device):
        return _fit_rank(args)
    return _fit_one(args)


def _fit_rank(args) -> int:
    """One rank of a data-parallel fit: rank 0 prints and saves, the others fit quietly."""
    import contextlib
    import os

    from featvec.training.distributed import world

    args.nproc = 1
    if world()[0] == 0:
        return _fit_one(args)
    args.out, args.progress = None, False
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        return _fit_one(args)


def _fit_one(args) -> int:
    """The recommenders in ``fit``; ``--model feat2vec`` / ``user`` read ``--records``."""
    if args.model in ("feat2vec", "user") or args.records:
        if args.model not in ("feat2vec", "user") or not args.records:
            raise ValueError("--records goes with --model feat2vec or user (and they read --records FILE)")
        return user.fit_user(args) if args.model == "user" else feat2vec.fit_feat2vec(args)
    return fit.cmd_fit(args)


def _similar(args) -> int:
    """``featvec similar``: Feat2Vec's values in ``feat2vec``, a recommender's items or users in ``similar``."""
    model = load_model(args.model_dir, RECOMMENDERS + ("Feat2Vec",), "similar")
    from featvec import Feat2Vec

    if isinstance(model, Feat2Vec):
        return feat2vec.similar_values(model, args, emit)
    return similar.cmd_similar(args, model)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=Formatter,
        description="featvec: embeddings and recommenders for behavioural and tabular data.",
        epilog="Run 'featvec COMMAND --help' for a command's options. Start with 'featvec demo'.")
    from featvec import __version__

    parser.add_argument("--version", action="version", version=f"featvec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    fit.add_parser(sub, model_options=(feat2vec.add_fit_options, user.add_fit_options))
    sub.choices["fit"].set_defaults(func=_fit)
    evaluate.add_parser(sub)
    recommend.add_parser(sub)
    similar.add_parser(sub)
    sub.choices["similar"].set_defaults(func=_similar)
    lookalike.add_parser(sub, Formatter)
    user.add_infer_parser(sub, Formatter)
    factors.add_parser(sub)
    export.add_parser(sub)
    ingest.add_parser(sub)
    serve.add_parser(sub)
    explore.add_parser(sub)
    explore.add_report_parser(sub)
    bench.add_parser(sub)
    demo.add_parser(sub)
    return parser


def _message(e: BaseException) -> str:
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    return str(e) or type(e).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the ``featvec`` command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors: argparse has printed what it had to say
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        return 1
    except USER_ERRORS as e:  # what the input or the set-up got wrong: one line (FEATVEC_DEBUG=1: the traceback)
        if os.environ.get("FEATVEC_DEBUG"):
            raise
        print(f"{PROG}: error: {_message(e)}", file=sys.stderr)
        return 2


# featvec's own errors are ValueErrors (ModelFormatError, EventFileError, NotFittedError, ...); a loss that is no
# longer finite is a FloatingPointError, a missing optional package an ImportError. Anything else is a bug and
# keeps its traceback.
USER_ERRORS = (ValueError, OSError, KeyError, NotImplementedError, ArithmeticError, ImportError)

