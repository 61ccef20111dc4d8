"""MAML on sinusoid regression (wengert.meta): the meta-gradient has its second-order terms,
first-order MAML drops them, the inner step size has an exact hypergradient, and a short
meta-training run helps adaptation on held-out tasks."""

import numpy as np
import pytest

import wengert as wg
from wengert import meta


def tiny_problem(n_tasks=1, seed=0):
    """A 1-4-1 network (float64), `n_tasks` sinusoid tasks with 5 support / 5 query points."""
    rng = np.random.default_rng(seed)
    params = meta.init_mlp((1, 4, 1), rng=rng, dtype=np.float64)
    tasks = meta.sample_tasks(rng, n_tasks, 5, 5, dtype=np.float64)
    return params, tasks


def finite_difference(f, params, eps=1e-6):
    """Central differences of f(params) for every scalar meta-parameter, shaped like params."""
    fd = wg.tree_map(np.zeros_like, params)
    for layer, fd_layer in zip(params, fd):
        for name, p in layer.items():
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + eps
                up = f(params)
                p[i] = old - eps
                down = f(params)
                p[i] = old
                fd_layer[name][i] = (up - down) / (2 * eps)
    return fd


def flat(tree):
    return np.concatenate([np.ravel(x) for x in wg.tree_leaves(tree)])


def test_sample_tasks_ranges_and_dtype():
    tasks = meta.sample_tasks(np.random.default_rng(0), 50, 10, 7)
    assert tasks.x_support.shape == (50, 10, 1) and tasks.x_query.shape == (50, 7, 1)
    assert tasks.x_support.dtype == np.float32 and tasks.y_query.dtype == np.float32
    assert np.all((tasks.amplitude >= 0.1) & (tasks.amplitude <= 5))
    assert np.all((tasks.phase >= 0) & (tasks.phase <= np.pi))
    assert np.all(np.abs(tasks.x_support) <= 5)
    expected = tasks.amplitude[:, None, None] * np.sin(tasks.x_query - tasks.phase[:, None, None])
    np.testing.assert_allclose(tasks.y_query, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("steps", [1, 2])
def test_maml_meta_gradient_matches_finite_differences(steps):
    params, tasks = tiny_problem()
    alpha = 0.1  # large enough that the second-order terms are far above the FD error

    def outer(p, first_order=False):
        return meta.maml_loss(p, tasks, alpha, steps, first_order=first_order)

    second = wg.grad(outer)(params)
    first = wg.grad(outer)(params, True)
    fd = finite_difference(outer, params)
    np.testing.assert_allclose(flat(second), flat(fd), rtol=1e-6, atol=1e-8)
    # First-order MAML drops the Hessian terms: its meta-gradient is visibly different.
    assert np.max(np.abs(flat(first) - flat(fd))) > 1e-3 * np.max(np.abs(flat(fd)))
    wg.check_grads(outer, (params,), order=1, modes=("fwd", "rev"))


def test_first_order_meta_gradient_is_query_gradient_at_adapted_params():
    params, tasks = tiny_problem(n_tasks=3)
    alpha = 0.1
    first = wg.grad(meta.maml_loss)(params, tasks, alpha, 1, first_order=True)
    adapted = meta.adapt(params, tasks.x_support, tasks.y_support, alpha, 1)

    def query_loss(p):
        return wg.numpy.mean(meta.task_losses(p, tasks.x_query, tasks.y_query))

    per_task_grad = wg.grad(query_loss)(adapted)
    np.testing.assert_allclose(flat(first), flat(wg.tree_map(lambda g: g.sum(0), per_task_grad)),
                               rtol=1e-12, atol=1e-12)


def test_batched_adaptation_equals_one_task_at_a_time():
    params, tasks = tiny_problem(n_tasks=3)
    batched = meta.adapt(params, tasks.x_support, tasks.y_support, 0.1, 2)
    for i in range(3):
        alone = meta.adapt(params, tasks.x_support[i:i + 1], tasks.y_support[i:i + 1], 0.1, 2)
        for b, a in zip(wg.tree_leaves(batched), wg.tree_leaves(alone)):
            np.testing.assert_allclose(b[i], a[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("steps", [1, 3])
def test_inner_learning_rate_hypergradient_matches_finite_differences(steps):
    params, tasks = tiny_problem(n_tasks=2)

    def outer(alpha):
        return meta.maml_loss(params, tasks, alpha, steps)

    alpha, eps = np.float64(0.05), 1e-6
    hyper = wg.grad(outer)(alpha)
    fd = (outer(alpha + eps) - outer(alpha - eps)) / (2 * eps)
    np.testing.assert_allclose(hyper, fd, rtol=1e-6)
    wg.check_grads(outer, (alpha,), order=2, modes=("fwd", "rev"))


def test_learned_alpha_keeps_dtype_and_moves():
    _, alpha, history = meta.train_maml(5, meta_batch=2, learn_alpha=True, alpha=0.01)
    assert alpha != 0.01 and len(history) == 5 and np.isfinite(history).all()


def test_short_meta_training_beats_initial_network_and_pretrained_baseline():
    seed = 3
    initial = meta.init_mlp(rng=np.random.default_rng(seed))  # train_maml's initialisation
    held_out = meta.sample_tasks(np.random.default_rng(99), 100, 10, 50)
    trained, _, history = meta.train_maml(1000, meta_batch=10, seed=seed)
    pretrained, _ = meta.train_pretrained(1000, meta_batch=10, seed=seed)
    for p in wg.tree_leaves(trained):
        assert p.dtype == np.float32
    assert np.mean(history[-100:]) < np.mean(history[:100])
    before = meta.evaluate(initial, held_out, steps=(1, 10))
    after = meta.evaluate(trained, held_out, steps=(1, 10))
    baseline = meta.evaluate(pretrained, held_out, steps=(1, 10))
    assert after[1] < 0.6 * before[1] and after[10] < 0.6 * before[10]
    # The paper's ordering, already after 1000 meta-steps: MAML adapts far better.
    assert after[10] < 0.75 * baseline[10]


def test_quick_report_prints_the_table(capsys):
    meta.main(["--quick", "--meta-batch", "5"])
    out = capsys.readouterr().out
    assert "| MAML (second order) | 0.01 |" in out and "| pretrained baseline | 0.02 |" in out
    assert "100 meta-iterations, meta-batch 5" in out
