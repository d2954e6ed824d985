"""Optimisers and learning-rate schedules of the five papers, built from config.

=================  ===========================================================  ===========
paper              optimiser                                                    schedule
=================  ===========================================================  ===========
DG-CNN (000 §5.2)  RMSProp lr 1e-3, alpha 0.9, eps 1e-8, weight decay 1e-4      5-epoch warm-up, then ReduceLROnPlateau on the validation loss
RePOSE (001 §4.2)  AdamW lr 5e-4, weight decay 0.01                             x0.99 per epoch
GLA-GCN (003 §4.2) Ranger (RAdam + Lookahead), lr 0.01                         (not stated)
LbI (004 §4)       Adam lr 1e-3                                                 x0.9 every 4 epochs
=================  ===========================================================  ===========

`Lookahead` (Zhang et al. 2019, "Lookahead Optimizer: k steps forward, 1 step back") wraps
any optimiser: every ``k`` inner steps the slow weights move ``alpha`` of the way towards
the fast weights, ``slow += alpha * (fast - slow)``, and the fast weights restart from
them. "Ranger" is RAdam inside Lookahead with ``k = 6, alpha = 0.5`` (the 2019 release
GLA-GCN's reference [41] used; later Ranger versions add gradient centralisation, which is
not included here).

`LRSchedule` keeps its whole state as plain numbers (JSON in checkpoints) and sets
``group["lr"] = initial_lr * warmup * decay * plateau`` before every optimiser step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from poseviz.training.config import OptimConfig, ScheduleConfig

__all__ = ["LRSchedule", "Lookahead", "build_optimizer", "param_groups"]


class Lookahead:
    """Lookahead around ``base`` (any ``torch.optim.Optimizer``).

    Behaves like an optimiser: ``step``, ``zero_grad``, ``param_groups`` (the base's, so
    schedules change the inner learning rate), ``state_dict`` / ``load_state_dict``
    (the base's state plus the slow weights and the step counter).

    Args:
        base: the inner ("fast") optimiser.
        k: inner steps between synchronisations (>= 1).
        alpha: slow-weight step size in (0, 1].
    """

    def __init__(self, base: torch.optim.Optimizer, k: int = 6, alpha: float = 0.5) -> None:
        if k < 1:
            raise ValueError(f"Lookahead: k must be >= 1, got {k}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"Lookahead: alpha must be in (0, 1], got {alpha}")
        self.base = base
        self.k = int(k)
        self.alpha = float(alpha)
        self.counter = 0
        self.slow = [[p.detach().clone() for p in g["params"]] for g in base.param_groups]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.base.param_groups

    @property
    def state(self) -> Any:
        return self.base.state

    @property
    def defaults(self) -> dict[str, Any]:
        return self.base.defaults

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = self.base.step(closure)
        self.counter += 1
        if self.counter % self.k == 0:
            for group, slows in zip(self.base.param_groups, self.slow, strict=True):
                for p, s in zip(group["params"], slows, strict=True):
                    s.add_(p.detach() - s, alpha=self.alpha)
                    p.copy_(s)
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {
            "base": self.base.state_dict(),
            "slow": [list(g) for g in self.slow],
            "counter": self.counter,
            "k": self.k,
            "alpha": self.alpha,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        shapes = [[tuple(p.shape) for p in g["params"]] for g in self.base.param_groups]
        saved = [[tuple(t.shape) for t in g] for g in state["slow"]]
        if shapes != saved:
            raise ValueError("Lookahead.load_state_dict: slow weights do not match the parameters")
        self.base.load_state_dict(state["base"])
        self.slow = [
            [t.to(p.device, p.dtype).clone() for t, p in zip(g, group["params"], strict=True)]
            for g, group in zip(state["slow"], self.base.param_groups, strict=True)
        ]
        self.counter = int(state["counter"])
        self.k, self.alpha = int(state["k"]), float(state["alpha"])

    def __repr__(self) -> str:
        return f"Lookahead(k={self.k}, alpha={self.alpha}, base={self.base!r})"


def param_groups(
    named_parameters: Iterable[tuple[str, nn.Parameter]],
    config: OptimConfig,
    *,
    skip: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Parameter groups for ``torch.optim``: one default group plus one per prefix in
    ``config.groups`` (overrides of ``lr`` / ``weight_decay``). Names listed in ``skip``
    (alternating steps' own groups) are ignored here. A prefix that matches no parameter
    raises ``ValueError``."""
    named = list(named_parameters)
    prefixes = [p for p in config.groups if p not in skip]
    groups: dict[str, list[nn.Parameter]] = {p: [] for p in prefixes}
    default: list[nn.Parameter] = []
    for name, param in named:
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                groups[prefix].append(param)
                break
        else:
            default.append(param)
    out = [{"params": default, "name": "default"}] if default else []
    for prefix in prefixes:
        options = dict(config.groups[prefix])
        bad = set(options) - {"lr", "weight_decay"}
        if bad:
            raise ValueError(
                f"optim.groups.{prefix}: unknown option(s) {sorted(bad)}; use lr, weight_decay"
            )
        if not groups[prefix]:
            roots = sorted({n.split(".")[0] for n, _ in named})
            raise ValueError(
                f"optim.groups: prefix {prefix!r} matches no parameter; top-level modules: {roots}"
            )
        out.append({"params": groups[prefix], "name": prefix, **options})
    if not out:
        raise ValueError("build_optimizer: no parameters to optimise")
    return out


def build_optimizer(
    params: Iterable[tuple[str, nn.Parameter]] | list[dict[str, Any]],
    config: OptimConfig,
    *,
    skip_groups: Sequence[str] = (),
) -> torch.optim.Optimizer | Lookahead:
    """The optimiser of ``config`` over named parameters (or ready parameter groups)."""
    params = list(params)
    groups = (
        params
        if params and isinstance(params[0], dict)
        else param_groups(params, config, skip=skip_groups)
    )
    c = config
    name = c.name
    if name == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(
            groups, lr=c.lr, betas=c.betas, eps=c.eps, weight_decay=c.weight_decay
        )
    elif name == "adamw":
        opt = torch.optim.AdamW(
            groups, lr=c.lr, betas=c.betas, eps=c.eps, weight_decay=c.weight_decay
        )
    elif name == "rmsprop":
        opt = torch.optim.RMSprop(
            groups,
            lr=c.lr,
            alpha=c.alpha,
            eps=c.eps,
            weight_decay=c.weight_decay,
            momentum=c.momentum,
        )
    elif name in ("radam", "ranger"):
        opt = torch.optim.RAdam(
            groups, lr=c.lr, betas=c.betas, eps=c.eps, weight_decay=c.weight_decay
        )
    elif name == "sgd":
        opt = torch.optim.SGD(groups, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
    else:  # the config parser rejects other names
        raise ValueError(f"optim.name: unknown optimiser {name!r}")
    k = c.lookahead_k or (6 if name == "ranger" else 0)
    if k:
        return Lookahead(opt, k=k, alpha=c.lookahead_alpha)
    return opt


class LRSchedule:
    """Per-epoch learning-rate schedule with a per-step linear warm-up (see `ScheduleConfig`).

    Call `apply` before every optimiser step (it sets each group's ``lr``), `end_epoch`
    after every epoch (with the validation loss for ``plateau``). Epochs of decay count
    from the end of the warm-up.

    Args:
        config: the schedule.
        optimizers: optimisers whose groups it drives; each group's starting rate is
            remembered as ``initial_lr``.
        steps_per_epoch: optimiser steps per epoch (for the warm-up length).
        total_epochs: the run's length in epochs (``cosine`` only).
    """

    def __init__(
        self,
        config: ScheduleConfig,
        optimizers: Sequence[Any],
        *,
        steps_per_epoch: int,
        total_epochs: float | None = None,
    ) -> None:
        self.config = config
        self.optimizers = list(optimizers)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.total_epochs = total_epochs
        for opt in self.optimizers:
            for g in opt.param_groups:
                g.setdefault("initial_lr", g["lr"])
        self.step = 0  # optimiser steps done
        self.epoch = 0  # epochs done
        self.best = math.inf
        self.num_bad = 0
        self.cooldown_counter = 0
        self.plateau_factor = 1.0
        if config.kind == "cosine" and not total_epochs:
            raise ValueError("schedule.kind 'cosine' needs the run's length in epochs")

    @property
    def warmup_steps(self) -> int:
        return round(self.config.warmup_epochs * self.steps_per_epoch)

    @property
    def warmup_epochs(self) -> int:
        return math.ceil(self.config.warmup_epochs)

    def _warm_and_decay(self) -> tuple[float, float]:
        c = self.config
        w = self.warmup_steps
        warm = min(1.0, (self.step + 1) / w) if w > 0 else 1.0
        e = max(0, self.epoch - self.warmup_epochs)
        if c.kind == "exponential":
            decay = c.gamma**e
        elif c.kind == "step":
            decay = c.gamma ** (e // max(1, c.step_epochs))
        elif c.kind == "cosine":
            span = max(1.0, float(self.total_epochs) - self.warmup_epochs)  # type: ignore[arg-type]
            decay = 0.5 * (1 + math.cos(math.pi * min(1.0, e / span)))
        else:
            decay = 1.0
        return warm, decay

    def lr(self, initial_lr: float) -> float:
        """The learning rate of a group starting at ``initial_lr`` for the next step."""
        c = self.config
        warm, decay = self._warm_and_decay()
        if c.kind == "cosine":  # from initial_lr down to min_lr
            return warm * (c.min_lr + (initial_lr - c.min_lr) * decay)
        value = initial_lr * warm * decay * self.plateau_factor
        if c.kind == "plateau" and self.plateau_factor < 1.0:
            value = max(value, c.min_lr)
        return value

    def apply(self) -> None:
        """Set every group's ``lr`` for the coming optimiser step."""
        for opt in self.optimizers:
            for g in opt.param_groups:
                g["lr"] = self.lr(g["initial_lr"])

    def end_step(self) -> None:
        self.step += 1

    def end_epoch(self, metric: float | None = None) -> None:
        """Close an epoch; ``metric`` (lower is better) drives ``plateau`` once the
        warm-up is over."""
        self.epoch += 1
        c = self.config
        if c.kind != "plateau" or self.epoch <= self.warmup_epochs:
            return
        if metric is None or not math.isfinite(metric):
            return
        # torch.optim.lr_scheduler.ReduceLROnPlateau, mode "min", threshold_mode "rel"
        if metric < self.best * (1.0 - c.threshold):
            self.best = float(metric)
            self.num_bad = 0
        else:
            self.num_bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad = 0
        if self.num_bad > c.patience:
            self.plateau_factor *= c.factor
            self.cooldown_counter = c.cooldown
            self.num_bad = 0

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers (JSON-friendly)."""
        return {
            "step": self.step,
            "epoch": self.epoch,
            "best": self.best if math.isfinite(self.best) else None,
            "num_bad": self.num_bad,
            "cooldown_counter": self.cooldown_counter,
            "plateau_factor": self.plateau_factor,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.best = math.inf if state["best"] is None else float(state["best"])
        self.num_bad = int(state["num_bad"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.plateau_factor = float(state["plateau_factor"])
