"""wengert.optim: first-order optimisers against PyTorch and hand-computed steps, functional
against eager, L-BFGS and Newton-CG on Rosenbrock, schedules and gradient clipping."""

import math

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert import optim
from wengert.nn import Module, Parameter
from wengert.optim import lr_scheduler, schedules

# (optimiser name, keyword arguments shared by wengert and torch)
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.5, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, momentum=0.9, centered=True,
                     weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.1, eps=1e-6,
                     weight_decay=0.1)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]
N_STEPS = 5


def _problem(dtype=np.float64):
    """Parameters (a dict pytree) and a fixed sequence of gradients for them."""
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(3, 2)).astype(dtype), "b": rng.normal(size=3).astype(dtype)}
    grads = [{k: rng.normal(size=v.shape).astype(dtype) for k, v in params.items()}
             for _ in range(N_STEPS)]
    return params, grads


def _run_functional(name, kwargs, params, grads):
    opt = getattr(optim, name)(**kwargs)
    state = opt.init(params)
    history = []
    for g in grads:
        params, state = opt.update(g, state, params)
        history.append(params)
    return history, state


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_matches_torch_step_for_step(name, kwargs):
    torch = pytest.importorskip("torch")
    params, grads = _problem()
    history, _ = _run_functional(name, kwargs, params, grads)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    keys = sorted(tparams)
    topt = getattr(torch.optim, name)([tparams[k] for k in keys], **kwargs)
    for g, ours in zip(grads, history):
        for k in keys:
            tparams[k].grad = torch.tensor(g[k])
        topt.step()
        for k in keys:
            np.testing.assert_allclose(ours[k], tparams[k].detach().numpy(), rtol=1e-12,
                                       atol=1e-14)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_eager_equals_functional_and_keeps_float32(name, kwargs):
    params, grads = _problem(np.float32)
    history, state = _run_functional(name, kwargs, params, grads)
    assert state["step"] == N_STEPS
    tensors = {k: Parameter(v) for k, v in params.items()}
    opt = getattr(optim, name)([tensors[k] for k in sorted(tensors)], **kwargs)
    for g, ours in zip(grads, history):
        opt.zero_grad()
        for k, t in tensors.items():
            t.grad = wg.tensor(g[k])
        opt.step()
        for k, t in tensors.items():
            assert t.primal.dtype == np.float32 and ours[k].dtype == np.float32
            np.testing.assert_array_equal(t.primal, ours[k])


# Hand-computed first two steps: scalar p0 = 1, gradients 0.5 then -0.25 (independent of p).
P0, G1, G2 = 1.0, 0.5, -0.25


def _adam_step(p, m, v, g, t, lr=0.1, b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return p - lr / (1 - b1 ** t) * m / (math.sqrt(v) / math.sqrt(1 - b2 ** t) + eps), m, v


def _hand_adam():
    p1, m, v = _adam_step(P0, 0.0, 0.0, G1, 1)
    p2, _, _ = _adam_step(p1, m, v, G2, 2)
    return p1, p2


def _hand_adamw():  # weight_decay 0.1: shrink by (1 - lr * wd) before each Adam step
    p1, m, v = _adam_step(P0 * (1 - 0.01), 0.0, 0.0, G1, 1)
    p2, _, _ = _adam_step(p1 * (1 - 0.01), m, v, G2, 2)
    return p1, p2


HAND = [
    # plain SGD, lr 0.1
    ("SGD", dict(lr=0.1), (1 - 0.05, 1 - 0.05 + 0.025)),
    # momentum 0.9: buf1 = g1 = 0.5; buf2 = 0.9*0.5 - 0.25 = 0.2
    ("SGD", dict(lr=0.1, momentum=0.9), (0.95, 0.95 - 0.02)),
    # Nesterov: step1 uses g1 + 0.9*g1 = 0.95; buf2 = 0.2, step2 uses -0.25 + 0.18 = -0.07
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), (1 - 0.095, 1 - 0.095 + 0.007)),
    # weight decay 0.1: g1 = 0.5 + 0.1 = 0.6 -> p1 = 0.94; g2 = -0.25 + 0.094 = -0.156
    ("SGD", dict(lr=0.1, weight_decay=0.1), (0.94, 0.94 + 0.0156)),
    # dampening 0.5: buf2 = 0.9*0.5 + 0.5*(-0.25) = 0.325
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5), (0.95, 0.95 - 0.0325)),
    ("Adam", dict(lr=0.1), _hand_adam()),
    ("AdamW", dict(lr=0.1, weight_decay=0.1), _hand_adamw()),
    # RMSprop alpha 0.9, eps 0: v1 = 0.1*0.25 = 0.025, p1 = 1 - 0.01*0.5/sqrt(0.025);
    # v2 = 0.0225 + 0.1*0.0625 = 0.02875
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=0.0),
     (1 - 0.005 / math.sqrt(0.025), 1 - 0.005 / math.sqrt(0.025) + 0.0025 / math.sqrt(0.02875))),
    # centred: g_avg1 = 0.05, avg1 = sqrt(0.025 - 0.0025); g_avg2 = 0.045 - 0.025 = 0.02,
    # avg2 = sqrt(0.02875 - 0.0004)
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=0.0, centered=True),
     (1 - 0.005 / math.sqrt(0.0225),
      1 - 0.005 / math.sqrt(0.0225) + 0.0025 / math.sqrt(0.02835))),
    # momentum 0.5: buf1 = 0.5/sqrt(0.025); buf2 = 0.5*buf1 - 0.25/sqrt(0.02875)
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=0.0, momentum=0.5),
     (1 - 0.01 * 0.5 / math.sqrt(0.025),
      1 - 0.01 * 0.5 / math.sqrt(0.025)
      - 0.01 * (0.25 / math.sqrt(0.025) - 0.25 / math.sqrt(0.02875)))),
    # Adagrad, initial sum 1, lr_decay 1, eps 0: s1 = 1.25, p1 = 1 - 0.1*0.5/sqrt(1.25);
    # s2 = 1.3125, lr2 = 0.1 / 2
    ("Adagrad", dict(lr=0.1, lr_decay=1.0, initial_accumulator_value=1.0, eps=0.0),
     (1 - 0.05 / math.sqrt(1.25), 1 - 0.05 / math.sqrt(1.25) + 0.05 * 0.25 / math.sqrt(1.3125))),
]


@pytest.mark.parametrize("name,kwargs,expected", HAND,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(HAND)])
def test_first_two_steps_by_hand(name, kwargs, expected):
    history, _ = _run_functional(name, kwargs, np.array(P0), [np.array(G1), np.array(G2)])
    np.testing.assert_allclose([float(h) for h in history], expected, rtol=1e-13)


class MLP(Module):
    def __init__(self, rng):
        self.w1 = Parameter(rng.normal(size=(3, 4)).astype(np.float32))
        self.b1 = Parameter(np.zeros(4, np.float32))
        self.w2 = Parameter(rng.normal(size=(4, 1)).astype(np.float32))
        self.unused = Parameter(np.ones(2, np.float32))

    def forward(self, x):
        return wnp.tanh(x @ self.w1 + self.b1) @ self.w2


def _mse(model, x, y):
    return wnp.mean((model(x) - y) ** 2)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_functional_equals_eager_on_a_module(name):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    kwargs = dict(lr=0.05, weight_decay=0.01)
    eager_model, functional_model = MLP(np.random.default_rng(2)), MLP(np.random.default_rng(2))
    opt = getattr(optim, name)(eager_model.parameters(), **kwargs)
    fopt = getattr(optim, name)(**kwargs)
    state = fopt.init(functional_model)
    loss_grad = wg.grad(_mse)
    for _ in range(4):
        opt.zero_grad()
        _mse(eager_model, x, y).backward()
        opt.step()
        functional_model, state = fopt.update(loss_grad(functional_model, x, y), state,
                                              functional_model)
    # The functional update is a model of the same class whose fields hold plain arrays.
    assert isinstance(functional_model, MLP)
    for key in ("w1", "b1", "w2"):
        np.testing.assert_allclose(getattr(eager_model, key).primal,
                                   getattr(functional_model, key), rtol=1e-5, atol=1e-6)
    # Eagerly, a parameter that never has a gradient is skipped: unchanged, and no state.
    np.testing.assert_array_equal(eager_model.unused.primal, np.ones(2, np.float32))
    assert id(eager_model.unused) not in opt.state
    # Functionally every leaf is updated (its gradient is zero: only weight decay moves it).
    assert not np.array_equal(functional_model.unused, np.ones(2, np.float32))


def test_update_is_differentiable():
    # d/d lr of one SGD step: p1 = p0 - lr * g, so d sum(p1) / d lr = -sum(g).
    g = np.array([1.0, 2.0])

    def after_one_step(lr):
        opt = optim.SGD(lr=1.0, momentum=0.9)
        state = opt.init(np.zeros(2))
        p1, _ = opt.update(lr * g, state, np.zeros(2))
        return wnp.sum(p1)

    assert wg.grad(after_one_step)(0.3) == pytest.approx(-3.0)
    wg.check_grads(lambda p: optim.Adam(lr=0.1).update(p * p, optim.Adam().init(p), p)[0],
                   (np.array([0.5, -1.5]),), order=2, modes=("fwd", "rev"))


def test_scheduled_lr_functional_equals_eager_scheduler():
    params, grads = _problem()
    schedule = schedules.step_lr(0.1, step_size=2, gamma=0.5)
    history, _ = _run_functional("SGD", dict(lr=schedule, momentum=0.9), params, grads)
    tensors = [Parameter(params[k]) for k in sorted(params)]
    opt = optim.SGD(tensors, lr=0.1, momentum=0.9)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for g, ours in zip(grads, history):
        for t, k in zip(tensors, sorted(params)):
            t.grad = wg.tensor(g[k])
        opt.step()
        sched.step()
        for t, k in zip(tensors, sorted(params)):
            np.testing.assert_allclose(t.primal, ours[k], rtol=1e-14)


def test_errors():
    with pytest.raises(ValueError, match="lr"):
        optim.Adam(lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="requires_grad|does not require grad"):
        optim.SGD([wg.tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    opt = optim.SGD(lr=0.1)
    with pytest.raises(TypeError, match="without parameters"):
        opt.step()
    state = opt.init({"a": np.zeros(2)})
    with pytest.raises(ValueError, match="structure"):
        opt.update({"b": np.zeros(2)}, state, {"a": np.zeros(2)})


def test_param_groups_and_zero_grad():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad, b.grad = wg.tensor([1.0, 1.0]), wg.tensor([1.0, 1.0])
    opt.step()
    np.testing.assert_allclose(a.primal, [0.9, 0.9])
    np.testing.assert_allclose(b.primal, [0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    # A closure is called with gradients enabled, before the update, and its loss returned.
    def closure():
        loss = (a * a).sum()
        loss.backward()
        return loss

    with wg.no_grad():
        loss = opt.step(closure)
    assert float(loss) == pytest.approx(1.62)
    np.testing.assert_allclose(a.primal, [0.72, 0.72])
    np.testing.assert_allclose(b.primal, [0.0, 0.0])  # no gradient: skipped


# Second-order methods -------------------------------------------------------------------------
def rosenbrock(x):
    return wnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_lbfgs_minimize_rosenbrock():
    res = optim.lbfgs_minimize(rosenbrock, np.array([-1.2, 1.0]), tolerance_grad=1e-10,
                               tolerance_change=1e-14)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-7)
    assert res.fun < 1e-14 and res.nit < 100
    # A pytree start works too, and keeps its structure.
    res = optim.lbfgs_minimize(lambda p: rosenbrock(wnp.stack([p["a"], p["b"]])),
                               {"a": np.array(-1.2), "b": np.array(1.0)},
                               tolerance_grad=1e-10, tolerance_change=1e-14)
    assert res.x["a"] == pytest.approx(1.0, abs=1e-7) and res.x["b"] == pytest.approx(1.0, abs=1e-7)


def test_lbfgs_zero_tolerance_change_survives_a_collapsed_bracket():
    from wengert.optim.lbfgs import _cubic_interpolate

    assert _cubic_interpolate(0.5, 1.0, -1.0, 0.5, 1.0, -1.0, bounds=(0.0, 2.0)) == 1.0
    # With tolerance_change=0 the zoom can shrink its bracket to a point; it must stop cleanly.
    res = optim.lbfgs_minimize(rosenbrock, np.array([-1.2, 1.0]), tolerance_grad=0.0,
                               tolerance_change=0.0, max_iter=200)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-7)


def _rosen_closure_problem(line_search_fn, max_iter):
    x = Parameter(np.array([-1.2, 1.0]))
    opt = optim.LBFGS([x], lr=1.0, max_iter=max_iter, history_size=10,
                      line_search_fn=line_search_fn)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    return x, opt, closure


@pytest.mark.parametrize("line_search_fn", ["strong_wolfe", None])
def test_lbfgs_eager_matches_torch(line_search_fn):
    torch = pytest.importorskip("torch")
    x, opt, closure = _rosen_closure_problem(line_search_fn, max_iter=5)
    tx = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.LBFGS([tx], lr=1.0, max_iter=5, history_size=10,
                             line_search_fn=line_search_fn)

    def tclosure():
        topt.zero_grad()
        loss = 100 * (tx[1] - tx[0] ** 2) ** 2 + (1 - tx[0]) ** 2
        loss.backward()
        return loss

    for _ in range(4):  # the curvature history carries across steps
        ours, theirs = opt.step(closure), topt.step(tclosure)
        assert float(ours) == pytest.approx(theirs.item(), rel=1e-9)
        np.testing.assert_allclose(x.primal, tx.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert opt.state["func_evals"] == topt.state[tx]["func_evals"]


def test_lbfgs_eager_reaches_minimum():
    x, opt, closure = _rosen_closure_problem("strong_wolfe", max_iter=100)
    opt.param_groups[0].update(tolerance_grad=1e-10, tolerance_change=1e-14)
    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(x.primal, [1.0, 1.0], atol=1e-7)


@pytest.mark.parametrize("n", [2, 100])
def test_newton_cg_minimize_rosenbrock(n):
    x0 = np.array([-1.2, 1.0]) if n == 2 else np.random.default_rng(0).uniform(0, 2, n)
    res = optim.newton_cg_minimize(rosenbrock, x0, tolerance_grad=1e-9)
    assert res.converged
    np.testing.assert_allclose(res.x, np.ones(n), atol=1e-7)
    assert res.fun < 1e-15
    assert res.nit < 100


def test_newton_cg_eager():
    x = Parameter(np.array([-1.2, 1.0]))
    opt = optim.NewtonCG([x], max_iter=100, tolerance_grad=1e-10)
    loss = opt.step(lambda: rosenbrock(x))
    np.testing.assert_allclose(x.primal, [1.0, 1.0], atol=1e-8)
    assert float(loss) < 1e-16


def test_newton_cg_negative_curvature():
    # Start at a saddle-like point of f = x^4/4 - x^2/2 + y^2 with negative curvature in x:
    # the step must reach the boundary and then a minimum at x = +-1.
    def f(v):
        return v[0] ** 4 / 4 - v[0] ** 2 / 2 + v[1] ** 2

    res = optim.newton_cg_minimize(f, np.array([0.1, 1.0]))
    np.testing.assert_allclose(np.abs(res.x), [1.0, 0.0], atol=1e-8)


# Schedules --------------------------------------------------------------------------------
def test_schedule_values():
    s = schedules.step_lr(1.0, step_size=3, gamma=0.5)
    assert [s(t) for t in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    c = schedules.cosine_annealing(1.0, T_max=4, eta_min=0.2)
    np.testing.assert_allclose([c(t) for t in range(5)],
                               [1.0, 0.2 + 0.8 * (1 + math.sqrt(0.5)) / 2, 0.6,
                                0.2 + 0.8 * (1 - math.sqrt(0.5)) / 2, 0.2])
    w = schedules.linear_warmup(1.0, warmup_steps=4, start_factor=0.2)
    np.testing.assert_allclose([w(t) for t in range(6)], [0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    wc = schedules.warmup_cosine(1.0, warmup_steps=2, total_steps=6)
    np.testing.assert_allclose([wc(t) for t in range(8)],
                               [0.0, 0.5, 1.0, 0.5 + 0.5 * math.sqrt(0.5), 0.5,
                                0.5 - 0.5 * math.sqrt(0.5), 0.0, 0.0], atol=1e-15)
    with pytest.raises(ValueError, match="warmup_steps"):
        schedules.warmup_cosine(1.0, warmup_steps=5, total_steps=5)


@pytest.mark.parametrize("ours,theirs", [
    (lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
     lambda t, o: t.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.01)),
    (lambda o: lr_scheduler.LinearWarmup(o, warmup_steps=4, start_factor=0.25),
     lambda t, o: t.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4)),
    (lambda o: lr_scheduler.LambdaLR(o, lambda e: 0.9 ** e),
     lambda t, o: t.optim.lr_scheduler.LambdaLR(o, lambda e: 0.9 ** e)),
], ids=["StepLR", "CosineAnnealingLR", "LinearWarmup", "LambdaLR"])
def test_eager_schedulers_match_torch(ours, theirs):
    torch = pytest.importorskip("torch")
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched, tsched = ours(opt), theirs(torch, topt)
    for _ in range(12):
        assert sched.get_last_lr()[0] == pytest.approx(tsched.get_last_lr()[0], rel=1e-12)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


# Clipping ---------------------------------------------------------------------------------
def test_clip_by_global_norm():
    grads = {"a": np.array([3.0, 0.0], np.float32), "b": np.array([[4.0]], np.float32)}
    clipped = optim.clip_by_global_norm(grads, 1.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(clipped["b"], [[0.8]], rtol=1e-5)
    assert clipped["a"].dtype == np.float32
    same = optim.clip_by_global_norm(grads, 10.0)
    np.testing.assert_array_equal(same["a"], grads["a"])
    assert float(optim.global_norm(grads)) == pytest.approx(5.0)
    assert float(optim.global_norm(grads, math.inf)) == pytest.approx(4.0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_matches_torch(norm_type):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    gs = [rng.normal(size=(3, 2)), rng.normal(size=4)]
    ps = [Parameter(np.zeros_like(g)) for g in gs]
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for p, tp, g in zip(ps, tps, gs):
        p.grad, tp.grad = wg.tensor(g), torch.tensor(g)
    extra = Parameter(np.zeros(2))  # no gradient: ignored
    norm = optim.clip_grad_norm_(ps + [extra], 0.5, norm_type=norm_type)
    tnorm = torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type=norm_type)
    assert float(norm) == pytest.approx(float(tnorm), rel=1e-12)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.primal, tp.grad.numpy(), rtol=1e-12)
    assert extra.grad is None


def test_clip_grad_norm_by_hand():
    p = Parameter(np.zeros(2, np.float32))
    p.grad = wg.tensor(np.array([3.0, 4.0], np.float32))
    norm = optim.clip_grad_norm_([p], 1.0)
    assert float(norm) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.primal, [0.6, 0.8], rtol=1e-5)
    assert p.grad.primal.dtype == np.float32
    p.grad = wg.tensor([np.inf, 0.0])
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        optim.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


def test_newton_cg_eager_on_a_module():
    # Least squares through a Module: Newton-CG reaches the normal-equations solution; the
    # parameter the loss never uses is left alone.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 3))
    y = rng.normal(size=(20, 1))

    class Linear(Module):
        def __init__(self):
            self.w = Parameter(np.zeros((3, 1)))
            self.b = Parameter(np.zeros(1))
            self.unused = Parameter(np.ones(2))

        def forward(self, x):
            return x @ self.w + self.b

    model = Linear()
    opt = optim.NewtonCG(model.parameters(), max_iter=10, initial_radius=10.0)
    opt.step(lambda: wnp.mean((model(x) - y) ** 2))
    design = np.hstack([x, np.ones((20, 1))])
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(model.w.primal, solution[:3], atol=1e-10)
    np.testing.assert_allclose(model.b.primal, solution[3], atol=1e-10)
    np.testing.assert_array_equal(model.unused.primal, np.ones(2))


def test_group_overrides_change_the_state():
    # Momentum only in the second group: its buffer exists only for that parameter.
    a, b = Parameter(np.ones(1)), Parameter(np.ones(1))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "momentum": 0.9}], lr=0.1)
    for _ in range(2):
        a.grad, b.grad = wg.tensor([1.0]), wg.tensor([1.0])
        opt.step()
    np.testing.assert_allclose(a.primal, [0.8])
    np.testing.assert_allclose(b.primal, [1.0 - 0.1 - 0.19])  # buffers 1, then 1.9
    assert set(opt.state[id(a)]) == {"step"}
    assert set(opt.state[id(b)]) == {"step", "momentum_buffer"}
