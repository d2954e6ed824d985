"""Optimisers of the papers, Lookahead against a plain loop, schedules against torch's."""

import copy
import json

import numpy as np
import pytest
import torch

from poseviz.training.config import OptimConfig, ScheduleConfig
from poseviz.training.optim import Lookahead, LRSchedule, build_optimizer


def _quadratic(w):
    A = torch.tensor([[3.0, 0.5], [0.5, 1.0]], dtype=w.dtype)
    b = torch.tensor([1.0, -2.0], dtype=w.dtype)
    return 0.5 * w @ A @ w - b @ w


def test_lookahead_matches_the_algorithm_written_out():
    lr, k, alpha, steps = 0.1, 3, 0.5, 11
    w = torch.tensor([2.0, -1.0], dtype=torch.float64, requires_grad=True)
    opt = Lookahead(torch.optim.SGD([w], lr=lr), k=k, alpha=alpha)
    for _ in range(steps):
        opt.zero_grad()
        _quadratic(w).backward()
        opt.step()
    # Zhang et al. 2019, Algorithm 1, with plain gradient descent as the inner optimiser
    A = np.array([[3.0, 0.5], [0.5, 1.0]])
    b = np.array([1.0, -2.0])
    fast = np.array([2.0, -1.0])
    slow = fast.copy()
    for t in range(1, steps + 1):
        fast = fast - lr * (A @ fast - b)
        if t % k == 0:
            slow = slow + alpha * (fast - slow)
            fast = slow.copy()
    np.testing.assert_allclose(w.detach().numpy(), fast, rtol=0, atol=1e-12)


def test_lookahead_state_round_trip_continues_exactly():
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    data = torch.randn(20, 4)

    def run(model, opt, n):
        for i in range(n):
            opt.zero_grad()
            model(data[i : i + 1]).pow(2).sum().backward()
            opt.step()

    opt = build_optimizer(net.named_parameters(), OptimConfig(name="ranger", lr=0.01))
    assert isinstance(opt, Lookahead) and opt.k == 6 and isinstance(opt.base, torch.optim.RAdam)
    run(net, opt, 4)
    twin = copy.deepcopy(net)
    twin_opt = build_optimizer(twin.named_parameters(), OptimConfig(name="ranger", lr=0.01))
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    run(net, opt, 9)
    run(twin, twin_opt, 9)
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="k must be >= 1"):
        Lookahead(torch.optim.SGD(net.parameters(), lr=0.1), k=0)


def test_paper_optimisers():
    net = torch.nn.Linear(2, 2)
    dg = build_optimizer(
        net.named_parameters(),
        OptimConfig(name="rmsprop", lr=1e-3, alpha=0.9, eps=1e-8, weight_decay=1e-4),
    )
    g = dg.param_groups[0]
    assert isinstance(dg, torch.optim.RMSprop)
    assert (g["lr"], g["alpha"], g["eps"], g["weight_decay"]) == (1e-3, 0.9, 1e-8, 1e-4)
    re = build_optimizer(
        net.named_parameters(), OptimConfig(name="adamw", lr=5e-4, weight_decay=0.01)
    )
    assert isinstance(re, torch.optim.AdamW) and re.param_groups[0]["weight_decay"] == 0.01
    gla = build_optimizer(net.named_parameters(), OptimConfig(name="ranger", lr=0.01))
    assert isinstance(gla, Lookahead) and gla.param_groups[0]["lr"] == 0.01 and gla.alpha == 0.5
    lbi = build_optimizer(net.named_parameters(), OptimConfig(name="adam", lr=1e-3))
    assert isinstance(lbi, torch.optim.Adam)
    groups = build_optimizer(
        net.named_parameters(), OptimConfig(lr=1e-3, groups={"bias": {"lr": 1e-2}})
    ).param_groups
    assert [g["lr"] for g in groups] == [1e-3, 1e-2] and groups[1]["params"][0] is net.bias
    with pytest.raises(ValueError, match="prefix 'head' matches no parameter"):
        build_optimizer(net.named_parameters(), OptimConfig(groups={"head": {"lr": 1.0}}))
    with pytest.raises(ValueError, match=r"optim.groups.bias: unknown option\(s\) \['momentum'\]"):
        build_optimizer(net.named_parameters(), OptimConfig(groups={"bias": {"momentum": 1.0}}))


def _drive(config, epochs, spe, metrics=None, total=None):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = LRSchedule(config, [opt], steps_per_epoch=spe, total_epochs=total)
    lrs = []
    for e in range(epochs):
        for _ in range(spe):
            sched.apply()
            lrs.append(opt.param_groups[0]["lr"])
            sched.end_step()
        sched.end_epoch(None if metrics is None else metrics[e])
    return lrs


def _torch_lrs(make, epochs, spe, metrics=None):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make(opt)
    lrs = []
    for e in range(epochs):
        lrs += [opt.param_groups[0]["lr"]] * spe
        opt.step()
        sched.step(metrics[e]) if metrics is not None else sched.step()
    return lrs


def test_schedules_match_torch():
    S = torch.optim.lr_scheduler
    np.testing.assert_allclose(
        _drive(ScheduleConfig(kind="exponential", gamma=0.99), 12, 3),
        _torch_lrs(lambda o: S.ExponentialLR(o, 0.99), 12, 3),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        _drive(ScheduleConfig(kind="step", gamma=0.9, step_epochs=4), 13, 2),
        _torch_lrs(lambda o: S.StepLR(o, 4, 0.9), 13, 2),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        _drive(ScheduleConfig(kind="cosine", min_lr=0.01), 10, 2, total=10),
        _torch_lrs(lambda o: S.CosineAnnealingLR(o, 10, eta_min=0.01), 10, 2),
        rtol=1e-9,
    )
    metrics = [5, 4, 4.5, 4.2, 4.1, 4.3, 3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 3.7]
    cfg = ScheduleConfig(kind="plateau", factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    np.testing.assert_allclose(
        _drive(cfg, len(metrics), 2, metrics),
        _torch_lrs(
            lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1, min_lr=0.02),
            len(metrics),
            2,
            metrics,
        ),
        rtol=1e-12,
    )


def test_warmup_then_plateau_and_state_is_json():
    # DG-CNN: 5 epochs of linear warm-up, then ReduceLROnPlateau on the validation loss
    cfg = ScheduleConfig(kind="plateau", warmup_epochs=5, factor=0.1, patience=0)
    spe = 4
    metrics = [9, 9, 9, 9, 9, 1.0, 2.0, 2.0]  # warm-up epochs never reduce the rate
    lrs = _drive(cfg, len(metrics), spe, metrics)
    W = 5 * spe
    np.testing.assert_allclose(lrs[:W], [0.1 * (s + 1) / W for s in range(W)], rtol=1e-12)
    assert lrs[W : 6 * spe] == [0.1] * spe  # epoch 5
    assert lrs[6 * spe : 7 * spe] == [0.1] * spe  # epoch 6: best so far (1.0)
    np.testing.assert_allclose(lrs[7 * spe :], [0.01] * spe)  # 2.0 did not improve: x0.1
    p = torch.nn.Parameter(torch.zeros(1))
    s = LRSchedule(cfg, [torch.optim.SGD([p], lr=0.1)], steps_per_epoch=spe)
    s.end_epoch(1.0)
    state = json.loads(json.dumps(s.state_dict()))
    t = LRSchedule(cfg, [torch.optim.SGD([p], lr=0.1)], steps_per_epoch=spe)
    t.load_state_dict(state)
    assert t.state_dict() == s.state_dict()
