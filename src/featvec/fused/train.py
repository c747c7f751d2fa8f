"""Training the dot-product recommenders with the fused kernels: the glue between a model's net and tables
and ``BlockTrainer``."""
from __future__ import annotations

import numpy as np
import torch

from .engine import BlockTrainer
from .kernels import pair_kernel, rating_kernel
from .slots import build_side, write_back

LOSS_CODES = {"bpr": 0, "bce": 1, "sampled_softmax": 2}


def _sides(net, users, items):
    every = lambda t: t.inputs(torch.arange(len(t), device=t.id_slot.device))  # noqa: E731
    return build_side(net.users, every(users), users.id_slot), build_side(net.items, every(items), items.id_slot)


def _sync(net, us, it):
    def sync():
        write_back(us, net.users)
        write_back(it, net.items)
    return sync


def fit_ratings(net, users, items, u, i, y, *, epochs: int, lr: float, schedule: str, reg: float,
                bias_reg: float, lr_bias: float | None = None, seed: int = 0, valid=None, patience=None,
                callbacks=(), show_progress=False) -> BlockTrainer:
    """Per-rating SGD of a dot-product ``RecommenderNet`` on rows ``u``, ``i`` (entity rows) and ratings ``y``.
    The offset stays at its start (the mean rating); biases and vectors train. ``valid()``: a validation
    loss, read each epoch."""
    us, it = _sides(net, users, items)
    offset = float(net.offset.detach())
    y_range = net.objective.y_range
    if y_range is None:
        lo, span, sig = 0.0, 1.0, 0.0
    else:
        pad = 0.05 * (y_range[1] - y_range[0])
        lo, span, sig = y_range[0] - pad, y_range[1] - y_range[0] + 2 * pad, 1.0
    lr_b = lr if lr_bias is None else lr_bias

    def hyper(epoch, lr_now):
        return np.array([offset, lo, span, sig, lr_now, lr_now * lr_b / lr, reg, bias_reg], dtype=np.float64)

    trainer = BlockTrainer(lambda plain: rating_kernel(plain, sig > 0), us, it, _i32(u), _i32(i), np.ascontiguousarray(y, dtype=np.float32),
                           epochs, lr, schedule, hyper, seed, valid=valid, patience=patience,
                           sync=_sync(net, us, it), callbacks=callbacks, show_progress=show_progress,
                           what="ratings")
    trainer.fit()
    return trainer


def fit_pairs(net, users, items, u, i, w, *, loss: str, negatives: int, probs: np.ndarray, seen, epochs: int,
              lr: float, schedule: str, reg: float, temperature: float = 1.0, max_tries: int = 10, chunk: int = 32,
              seed: int = 0,
              valid=None, patience=None, callbacks=(), show_progress=False) -> BlockTrainer:
    """Per-positive SGD of an ``ImplicitNet`` (user and item vectors from their slots, item biases) with
    ``negatives`` items per positive drawn from ``probs`` (the sampler's probability of each item row)
    within the block's item group, redrawn while the user has them (``seen``: CSR over item rows, sorted;
    None: no rejection). Weights ``w`` are scaled to mean 1."""
    us, it = _sides(net, users, items)
    probs = np.asarray(probs, dtype=np.float64)
    log_q = np.log(np.maximum(probs, 1e-300)).astype(np.float32)
    popular = not np.allclose(probs[1:], probs[1:].max())
    seen_ptr, seen_idx = ((np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)) if seen is None else
                          (np.asarray(seen[0], dtype=np.int64), np.asarray(seen[1], dtype=np.int32)))
    bits = seen_bits(seen_ptr, seen_idx, len(probs))
    w = np.asarray(w, dtype=np.float64)
    w = np.ascontiguousarray(w / max(w.mean(), 1e-300), dtype=np.float32)
    candidates = np.flatnonzero(probs > 0)
    groups: dict = {}

    def extra(task, sched):
        if groups.get("epoch") != task["epoch"]:  # this epoch's item groups, as sampler arrays
            g = sched.item_group[candidates]
            order = np.argsort(g, kind="stable")
            ptr = np.zeros(sched.p + 1, dtype=np.int64)
            np.cumsum(np.bincount(g, minlength=sched.p), out=ptr[1:])
            gi = candidates[order].astype(np.int32)
            cdf = np.cumsum(probs[gi]) if popular else np.zeros(0)
            groups.update(epoch=task["epoch"], ptr=ptr, items=gi, cdf=cdf)
        stats = np.zeros(1, dtype=np.int64)
        trainer.stats_list.append(stats)
        return ((groups["ptr"], groups["items"], groups["cdf"], log_q, seen_ptr, seen_idx, bits), task["item_group"],
                task["seed"], stats)

    def hyper(epoch, lr_now):
        if loss == "sampled_softmax":
            return np.array([lr_now, lr_now, reg, 0.0, negatives, chunk, temperature, 0.0])
        return np.array([lr_now, lr_now, reg, 0.0, negatives, 0.0, temperature, max_tries])

    trainer = BlockTrainer(lambda plain: pair_kernel(plain, LOSS_CODES[loss]), us, it, _i32(u), _i32(i), w, epochs, lr, schedule, hyper, seed,
                           extra=extra, valid=valid, patience=patience, sync=_sync(net, us, it),
                           callbacks=callbacks, show_progress=show_progress, what="positives")
    trainer.stats_list = []
    trainer.fit()
    trainer.unrejected = int(sum(int(x[0]) for x in trainer.stats_list))
    return trainer


BITMAP_BYTES = 64 << 20  # the seen pairs as a bitmap up to this size; binary search beyond


def seen_bits(ptr: np.ndarray, idx: np.ndarray, n_items: int) -> np.ndarray:
    """One bit per (user, item) pair, set where the user has the item (empty when too large or no pairs)."""
    n_users = len(ptr) - 1
    words = (n_items + 63) // 64
    if n_users < 1 or len(idx) == 0 or n_users * words * 8 > BITMAP_BYTES:
        return np.zeros(0, dtype=np.uint64)
    user = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(ptr))
    word = user * words + (idx.astype(np.int64) >> 6)
    bit = np.left_shift(np.uint64(1), (idx & 63).astype(np.uint64))
    bits = np.zeros(n_users * words, dtype=np.uint64)
    starts = np.flatnonzero(np.r_[True, word[1:] != word[:-1]])  # words are sorted: OR each run
    bits[word[starts]] = np.bitwise_or.reduceat(bit, starts)
    return bits


def _i32(a) -> np.ndarray:
    a = a.cpu().numpy() if torch.is_tensor(a) else np.asarray(a)
    return np.ascontiguousarray(a, dtype=np.int32)
