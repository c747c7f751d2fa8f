"""Training the dot-product recommenders with the fused kernels: the glue between a model's net and tables
and ``BlockTrainer``."""
from __future__ import annotations

import numpy as np
import torch

from featvec.fused.engine import BlockTrainer
from featvec.fused.kernels import pair_kernel, rating_kernel
from featvec.fused.slots import build_side, write_back

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


def _fm_arrays(emb, sampler, units):
    """The kernel's unit and sampler arrays for a ``GroupSampler``."""
    names = emb.names
    group_unit = np.zeros(len(names), dtype=np.int32)
    unit_groups, unit_ptr = [], [0]
    for j, unit in enumerate(units):
        for name in unit:
            group_unit[names.index(name)] = j
            unit_groups.append(names.index(name))
        unit_ptr.append(len(unit_groups))
    group_dim = np.array([1 if g.dim else 0 for g in emb.groups], dtype=np.int8)
    unit_arrays = (np.asarray(unit_ptr, dtype=np.int64), np.asarray(unit_groups, dtype=np.int32), group_unit,
                   group_dim)
    flat_p = np.concatenate(sampler.value_p)
    value_off = np.concatenate([[0], np.cumsum([len(p) for p in sampler.value_p])]).astype(np.int64)
    sampler_arrays = (np.cumsum(sampler.unit_p), np.asarray(sampler.unit_p, dtype=np.float64), value_off,
                      np.cumsum(flat_p), flat_p, np.concatenate(sampler.first_row).astype(np.int64),
                      np.ascontiguousarray(sampler.code_matrix, dtype=np.int64),
                      np.asarray(sampler.mult, dtype=np.uint64), np.asarray(sampler.hashes, dtype=np.uint64),
                      np.asarray(sampler.observed, dtype=np.uint64), np.asarray(sampler.q_pos, dtype=np.float64))
    return unit_arrays, sampler_arrays


def _fm_valid(emb, side, valid, units):
    """The validation records' slots over the training tables (no private copies): (order, side, sampler)."""
    vs = build_side(emb, valid[0], per_group=True)
    slots = (vs.ptr, vs.rows, vs.weights, side.W, side.B, side.W[:0], side.B[:0],
             np.full(len(side.B), -1, dtype=np.int32), side.bias_mask, np.zeros(0, dtype=np.int32))
    order = np.arange(vs.n_entities // len(emb.names), dtype=np.int32)
    return order, slots, _fm_arrays(emb, valid[1], units)[1]


def _fm_epoch(order, state, offset, arrays, p: int, part: int, seed_epoch: tuple, bar, exchange=None) -> float:
    """One epoch of ``fm_block`` over ``order`` in rounds of ``part`` records per thread: each of the ``p``
    threads steps its own copy of the tables and of the offset; the copies are merged after each round
    (data-parallel: each rank takes its part of the round's records and ``exchange()`` merges the ranks'
    tables after it). Returns the summed training loss of this process."""
    from featvec.training.distributed import part as rank_part, world
    from featvec.util.threads import run_parallel
    from featvec.fused.fm import fm_block

    unit_arrays, sampler_arrays, hyper = arrays
    n, total = len(order), 0.0
    rank, size = world()
    ranked = [rank] if size > 1 else []  # each rank its own negatives
    for r, start in enumerate(range(0, n, part * p * size)):
        stop = min(start + part * p * size, n)
        lo, hi = (start + k for k in rank_part(stop - start, rank, size))
        bounds = np.linspace(lo, hi, p + 1).astype(np.int64)
        copies = state.copies(p)
        offs = [offset.copy() for _ in range(p)]
        seeds = np.random.SeedSequence([*seed_epoch, r, *ranked]).generate_state(p, np.uint64)
        tasks = [(order, int(bounds[t]), int(bounds[t + 1]), state.args(copies[t]), unit_arrays, sampler_arrays,
                  seeds[t], offs[t], hyper) for t in range(p)]
        total += sum(run_parallel(fm_block, tasks))
        state.merge(copies)
        offset[0] = np.float32(np.mean([o[0] for o in offs]))
        if exchange is not None:
            exchange()
        if bar is not None:
            bar.update(hi - lo)
    return total


def _fm_valid_loss(vside, unit_arrays, offset, hyper, seed: int) -> float:
    """The validation records' mean loss: no step (rates 0), the same negatives every epoch."""
    from featvec.fused.fm import fm_block

    v_order, v_slots, v_arrays = vside
    no_step = np.array([0.0, 0.0, hyper[2], hyper[3], hyper[4], 0.0])
    return fm_block(v_order, 0, len(v_order), v_slots, unit_arrays, v_arrays, np.uint64(seed + 1), offset.copy(),
                    no_step) / max(len(v_order), 1)


def fit_fm(net, inputs: dict, sampler, units: list[list[str]], *, objective: str, negatives: int, epochs: int,
           lr: float, schedule: str, reg: float, seed: int = 0, max_tries: int = 10, valid=None, patience=None,
           show_progress=False) -> list[dict]:
    """Per-record SGD of a (non-deep) ``Feat2VecNet`` on the encoded records ``inputs``, ``negatives`` per
    record from ``sampler`` (a ``GroupSampler`` on the same records; ``units``: its units, by group name).
    With several threads each round gives every thread its own copy of the tables and an equal share of
    the next records; the copies are averaged row by row, weighted by the steps each took (deterministic
    for a seed and thread count). ``valid``: (records, their sampler) whose loss, with the same negatives
    every epoch, is logged and drives early stopping (``patience``). Returns the history."""
    from types import SimpleNamespace

    from featvec.training.distributed import TableExchange, active, all_min, all_sum
    from featvec.training.epochs import run_epochs
    from featvec.util.threads import get_num_threads
    from featvec.fused.engine import SideState, lr_factor, warn_if_diverged

    emb = net.embedding
    side = build_side(emb, inputs, per_group=True)
    n = side.n_entities // len(emb.names)
    unit_arrays, sampler_arrays = _fm_arrays(emb, sampler, units)
    vside = None if valid is None else _fm_valid(emb, side, valid, units)
    p = all_min(max(1, min(get_num_threads(), n // 1000)))  # data-parallel: the same rounds on every rank
    state = SideState(side, p > 1)  # no row belongs to one record: with threads, every row is copied
    part = max(20_000, 2 * len(side.B))  # records per thread per round: the copies cost at most a row each
    learn_offset = net.offset is not None
    offset = np.array([float(net.offset.detach()) if learn_offset else 0.0], dtype=np.float32)
    rng, hyper = np.random.default_rng(seed), None
    exchange = TableExchange([side.W, side.B, offset]) if active() else None

    def run_epoch(epoch: int, bar) -> dict:
        nonlocal hyper
        lr_now = lr * lr_factor(schedule, epoch, epochs)
        hyper = np.array([lr_now, reg, negatives, 1.0 if objective == "nce" else 0.0, max_tries,
                          lr_now if learn_offset else 0.0])
        order = rng.permutation(n).astype(np.int32)
        total = _fm_epoch(order, state, offset, (unit_arrays, sampler_arrays, hyper), p, part, (seed, epoch), bar,
                          exchange)
        total = float(all_sum(np.array([total]))[0])
        return {"train_loss": total / max(n, 1), "lr": lr_now}

    def restore(best) -> None:
        state.restore(best[0])
        offset[:] = best[1]

    score = None if vside is None else (lambda: _fm_valid_loss(vside, unit_arrays, offset, hyper, seed))
    history = run_epochs(SimpleNamespace(), epochs, run_epoch, valid=score, patience=patience,
                         snapshot=lambda: (state.snapshot(), offset.copy()), restore=restore,
                         show_progress=show_progress, total=n * epochs, unit="records")
    write_back(side, emb)
    warn_if_diverged(history)
    if learn_offset:
        with torch.no_grad():
            net.offset.fill_(float(offset[0]))
    return history
