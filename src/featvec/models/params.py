"""The parameters presets share, declared once: what each must be. A preset checks the ones in its
signature with these rules (``BaseModel._validate_params``) and adds checks of its own."""
from __future__ import annotations

import math
import numbers

import numpy as np

from featvec.training.optim import OPTIMIZERS


def _int_at_least(low: int):
    def ok(v) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low
    return ok


def _number(low: float, high: float = math.inf, open_low: bool = False):
    def ok(v) -> bool:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            return False
        return (v > low if open_low else v >= low) and v < high
    return ok


def _or_none(check):
    return lambda v: v is None or check(v)


SCHEDULES = ("onecycle", "cosine", "linear", "constant")  # linear: the fused engines only; onecycle: torch only

# name -> (check, what the value must be)
RULES = {
    "epochs": (_int_at_least(1), "an int >= 1"),
    "batch_size": (_int_at_least(1), "an int >= 1"),
    "lr": (_number(0, open_low=True), "a number > 0"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"one of {OPTIMIZERS}"),
    "weight_decay": (_number(0), "a number >= 0"),
    "reg": (_or_none(_number(0)), "a number >= 0"),
    "valid_frac": (_number(0, 1), "in [0, 1)"),
    "patience": (_or_none(_int_at_least(0)), "None or an int >= 0"),
    "min_count": (_int_at_least(1), ">= 1"),
    "seed": (_int_at_least(-(1 << 63)), "an int"),
    "dim": (_int_at_least(1), "an int >= 1"),
    "iterations": (_int_at_least(1), "an int >= 1"),
    "cg_steps": (_int_at_least(1), "an int >= 1"),
    "fold_in_steps": (_int_at_least(1), "an int >= 1"),
    "alpha": (_number(0), "a number >= 0"),
    "beta": (_number(0), "a number >= 0"),
    "bias_reg": (_number(0), "a number >= 0"),
    "reg_exponent": (_number(0), "a number >= 0"),
    "init_std": (_number(0), "a number >= 0"),
    "value_bias": (_number(0), "a number >= 0"),
    "temperature": (_number(0, open_low=True), "a number > 0"),
    "schedule": (lambda v: v in SCHEDULES, f"one of {SCHEDULES}"),
    "precision": (lambda v: v in ("auto", "float32", "bfloat16"), "'auto', 'float32' or 'bfloat16'"),
    "show_progress": (lambda v: v in (True, False, "auto"), "True, False or 'auto'"),
}


def check(name: str, value, rules: dict = RULES, nullable: tuple = ()) -> None:
    """Raise a ValueError naming the parameter when ``value`` breaks its rule (no rule: nothing to check).
    ``nullable``: parameters for which the preset gives None a meaning (a default it works out)."""
    rule = rules.get(name)
    if rule is None or (value is None and name in nullable):
        return
    if not rule[0](value):
        what = f"None or {rule[1]}" if name in nullable else rule[1]
        raise ValueError(f"{name} must be {what}, got {value!r}")


def holdout(n: int, frac: float, seed: int) -> tuple:
    """The one validation split of every preset: ``max(1, round(n * frac))`` of the ``n`` rows drawn with
    ``seed`` are held out; returns (training positions, validation positions), each in the rows' order."""
    perm = np.random.default_rng(seed).permutation(n)
    n_valid = max(1, int(round(n * float(frac))))
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])


# The per-example SGD settings (batch_size 1, optimizer "sgd") are the fused CPU kernels'; through torch on a
# GPU one example a step would crawl, so there they train in batches with Adam instead. Their quality,
# measured on the CPU (the same arithmetic) on ML-100K, seed 0, at the presets' other defaults: ratings
# RMSE 0.901 (protocol E split; the fused SGD 0.887), pairs recall@20 0.343 (protocol I split; the fused BPR
# 0.370). device="cpu" keeps the fused kernels.
GPU_BATCHES = {"ratings": {"batch_size": 4096, "optimizer": "adam", "lr": 1e-2},
               "pairs": {"batch_size": 1024, "optimizer": "adam", "lr": 3e-3}}


def trainer_settings(model, device, kind: str) -> dict:
    """The batch size, optimiser and learning rate (None: the model's) a preset's torch Trainer runs with:
    the model's own, except the per-example settings on a device other than the CPU (``GPU_BATCHES[kind]``)."""
    if device.type != "cpu" and model.batch_size == 1 and model.optimizer == "sgd":
        return dict(GPU_BATCHES[kind])
    return {"batch_size": model.batch_size, "optimizer": model.optimizer, "lr": None}
