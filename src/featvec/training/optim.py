"""featvec's optimisers for mini-batch training through torch: Adam (L2 or decoupled weight decay), SGD and
Adagrad, each *lazy* for sparse gradients.

An embedding table's gradient is sparse (the rows a batch used), so one step costs what the batch touched,
not what the model holds: the moments, the weight decay and the update apply to those rows only, with
Adam's bias correction from the global step count (TensorFlow's LazyAdam). Dense parameters (MLPs, linear
maps) take the usual update in torch's fused kernels (one pass over each tensor).

They are plain classes, not ``torch.optim.Optimizer``: constructing one of those imports torch's compiler
stack (about 1.2 s in a fresh process), which a fit should not pay. The learning rate is ``opt.lr``.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch

OPTIMIZERS = ("adam", "adamw", "sparse_adam", "sgd", "adagrad")


class Optimizer:
    """Holds the trainable parameters and their state; ``step`` updates them from their ``.grad``."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.t = 0
        self.l2: dict[int, float] = {}  # parameter id -> coefficient of its own penalty coef * |p|^2

    def add_l2(self, params: Iterable[torch.Tensor], coef: float) -> None:
        """The penalty ``coef * |p|^2`` on each of ``params``, on top of the loss: its gradient
        ``2 coef p`` is added to theirs at each step (what the penalty in the loss would give, without the
        extra operations in the graph)."""
        for p in params:
            self.l2[id(p)] = float(coef)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        penalised = [p for p in self.params if p.grad is not None and self.l2.get(id(p))]
        for p in penalised:
            if p.grad.is_sparse:  # the penalty reaches every row
                p.grad = p.grad.to_dense()
            p.grad.add_(p, alpha=2 * self.l2[id(p)])
        dense = [p for p in self.params if p.grad is not None and not p.grad.is_sparse]
        if dense:
            self._dense(dense, [p.grad for p in dense])
        for p in self.params:
            if p.grad is not None and p.grad.is_sparse:
                g = p.grad.coalesce()
                rows = g.indices()[0]
                if rows.numel():
                    self._rows(p, rows, g.values())

    def _dense(self, params: list, grads: list) -> None:
        raise NotImplementedError

    def _rows(self, p: torch.Tensor, rows: torch.Tensor, g: torch.Tensor) -> None:
        raise NotImplementedError


class Adam(Optimizer):
    """Adam; ``decoupled=True`` is AdamW (decay ``p *= 1 - lr * weight_decay``), else the decay is an L2 term
    added to the gradient. Sparse gradients update the moments and values of their rows only."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, decoupled: bool = False,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr, weight_decay)
        self.decoupled, self.betas, self.eps = decoupled, betas, eps
        self.m = {id(p): torch.zeros_like(p) for p in self.params}
        self.v = {id(p): torch.zeros_like(p) for p in self.params}
        self.steps: dict = {}  # dense parameters: their own step counts (torch's fused Adam kernel)

    def _scales(self) -> tuple[float, float]:
        b1, b2 = self.betas
        return self.lr / (1 - b1 ** self.t), 1.0 / math.sqrt(1 - b2 ** self.t)

    def _dense(self, params, grads) -> None:
        b1, b2 = self.betas
        steps = [self.steps.setdefault(id(p), torch.zeros((), dtype=torch.float32)) for p in params]
        torch._foreach_add_(steps, 1.0)
        fused = torch._fused_adamw_ if self.decoupled else torch._fused_adam_  # one pass over each tensor
        fused(params, grads, [self.m[id(p)] for p in params], [self.v[id(p)] for p in params], [], steps,
              lr=self.lr, beta1=b1, beta2=b2, weight_decay=self.weight_decay, eps=self.eps, amsgrad=False,
              maximize=False)

    def _rows(self, p, rows, g) -> None:
        b1, b2 = self.betas
        step, vscale = self._scales()
        w = p[rows]
        if self.weight_decay and self.decoupled:
            w = w * (1 - self.lr * self.weight_decay)
        elif self.weight_decay:
            g = g + self.weight_decay * w
        m, v = self.m[id(p)], self.v[id(p)]
        mr = m[rows].lerp_(g, 1 - b1)
        vr = v[rows].mul_(b2).addcmul_(g, g, value=1 - b2)
        m[rows], v[rows] = mr, vr
        p[rows] = w - step * mr / (vr.sqrt() * vscale + self.eps)


class SGD(Optimizer):
    """Plain SGD; weight decay as an L2 term, on the rows a sparse gradient touches."""

    def _dense(self, params, grads) -> None:
        if self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        torch._foreach_add_(params, grads, alpha=-self.lr)

    def _rows(self, p, rows, g) -> None:
        w = p[rows]
        if self.weight_decay:
            g = g + self.weight_decay * w
        p[rows] = w - self.lr * g


class Adagrad(Optimizer):
    """Adagrad (per coordinate); weight decay as an L2 term, lazy on sparse rows."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, eps: float = 1e-10):
        super().__init__(params, lr, weight_decay)
        self.eps = eps
        self.s = {id(p): torch.zeros_like(p) for p in self.params}

    def _dense(self, params, grads) -> None:
        if self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        ss = [self.s[id(p)] for p in params]
        torch._foreach_addcmul_(ss, grads, grads)
        denom = torch._foreach_sqrt(ss)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, grads, denom, -self.lr)

    def _rows(self, p, rows, g) -> None:
        w = p[rows]
        if self.weight_decay:
            g = g + self.weight_decay * w
        s = self.s[id(p)]
        sr = s[rows].addcmul_(g, g)
        s[rows] = sr
        p[rows] = w - self.lr * g / (sr.sqrt() + self.eps)


def make_optimizer(name: str, module: torch.nn.Module, lr: float, weight_decay: float) -> Optimizer:
    """The optimiser ``name`` over ``module``'s trainable parameters ("sparse_adam" is "adamw": every
    optimiser here is lazy on sparse gradients), with the penalties the module declares in ``l2_terms()``
    (a list of (parameters, coefficient)), if it has that method."""
    params = list(module.parameters())
    if name == "adam":
        opt = Adam(params, lr, weight_decay)
    elif name in ("adamw", "sparse_adam"):
        opt = Adam(params, lr, weight_decay, decoupled=True)
    elif name == "sgd":
        opt = SGD(params, lr, weight_decay)
    elif name == "adagrad":
        opt = Adagrad(params, lr, weight_decay)
    else:
        raise ValueError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")
    for penalised, coef in (module.l2_terms() if hasattr(module, "l2_terms") else ()):
        opt.add_l2(penalised, coef)
    return opt
