"""wengert.pinn: input derivatives of row-wise functions (against analytic values), PDE
residuals of exact solutions (zero to rounding), the Cole-Hopf reference solution of Burgers,
collocation sampling, a short training run, error messages and the command line."""

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert import pinn
from wengert.cli import main
from wengert.pinn import burgers, poisson

METHODS = ("grad", "jvp")


def points(n=40, d=2, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=(n, d))


# Derivatives ------------------------------------------------------------------------------

def f_closed(X):
    """sin(x) t^2 + x^3 t, a closed-form function of the rows (x, t)."""
    x, t = X[:, 0], X[:, 1]
    return wnp.sin(x) * t ** 2 + x ** 3 * t


def closed_derivatives(X):
    x, t = X[:, 0], X[:, 1]
    return {
        "u": np.sin(x) * t ** 2 + x ** 3 * t,
        "x": np.cos(x) * t ** 2 + 3 * x ** 2 * t,
        "t": 2 * np.sin(x) * t + x ** 3,
        "xx": -np.sin(x) * t ** 2 + 6 * x * t,
        "tt": 2 * np.sin(x),
        "xt": 2 * np.cos(x) * t + 3 * x ** 2,
        "tx": 2 * np.cos(x) * t + 3 * x ** 2,
        "xxx": -np.cos(x) * t ** 2 + 6 * t,
        "xxt": -2 * np.sin(x) * t + 6 * x,
    }


@pytest.mark.parametrize("method", METHODS)
def test_derivatives_equal_analytic_values(method):
    X = points()
    want = ["x", "t", "xx", "tt", "xt", "tx", "xxx", "xxt"]
    got = pinn.derivatives(f_closed, X, want, variables="xt", method=method)
    expected = closed_derivatives(X)
    assert set(got) == {"u", *want}
    for name, value in got.items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("method", METHODS)
def test_laplacian_in_three_dimensions(method):
    X = points(d=3)

    def f(X):
        return wnp.exp(X[:, 0]) * wnp.sin(2 * X[:, 1]) + X[:, 2] ** 4

    u, lap = pinn.laplacian(f, X, variables="xyz", method=method)
    x, y, z = X.T
    np.testing.assert_allclose(u, np.exp(x) * np.sin(2 * y) + z ** 4, rtol=1e-13)
    np.testing.assert_allclose(lap, -3 * np.exp(x) * np.sin(2 * y) + 12 * z ** 2, rtol=1e-12,
                               atol=1e-12)


def test_vector_outputs_with_nested_jvps():
    X = points()
    got = pinn.derivatives(lambda X: wnp.stack([f_closed(X), X[:, 0] * X[:, 1]], axis=1), X,
                           ["x", "xt"], method="jvp")
    expected = closed_derivatives(X)
    np.testing.assert_allclose(got["x"][:, 0], expected["x"], rtol=1e-12)
    np.testing.assert_allclose(got["x"][:, 1], X[:, 1], rtol=1e-12)
    np.testing.assert_allclose(got["xt"], np.column_stack([expected["xt"], np.ones(40)]),
                               rtol=1e-12)


def test_derivatives_keep_float32():
    X = points().astype(np.float32)
    got = pinn.derivatives(f_closed, X, ["x", "xx"])
    assert all(v.dtype == np.float32 for v in got.values())
    np.testing.assert_allclose(got["xx"], closed_derivatives(X.astype(np.float64))["xx"],
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_residual_loss_gradient_against_finite_differences(method):
    """The input derivatives are differentiable again with respect to parameters the function
    closes over (forward and reverse, to second order)."""
    X = points(n=6)
    rng = np.random.default_rng(1)
    w1, w2 = rng.normal(size=(2, 3)), rng.normal(size=(3,))

    def loss(w1, w2):
        def u(X):
            return wnp.tanh(X @ w1) @ w2

        d = pinn.derivatives(u, X, ["t", "x", "xx"], method=method)
        return pinn.mean_square(d["t"] + d["u"] * d["x"] - 0.1 * d["xx"])

    wg.check_grads(loss, (w1, w2), order=2, modes=("fwd", "rev"))


def test_jit_matches_eager_loss_and_gradient():
    problem = burgers.make_problem(300, 20, rng=0)
    net = burgers.network(3, 8, rng=0)
    vg = wg.value_and_grad(burgers.loss)
    (v1, g1), (v2, g2) = vg(net, problem), wg.jit(vg)(net, problem)
    assert np.isclose(float(v1), float(v2), rtol=1e-13)
    for a, b in zip(wg.tree_leaves(g1), wg.tree_leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


def functional(module):
    """The module with plain arrays in place of its Parameter tensors."""
    return wg.tree_map(lambda leaf: leaf, module)


def test_methods_agree_on_a_network():
    X = points()
    net = functional(pinn.MLP([2, 16, 16, 1], [-1, -1], [1, 1], rng=0))
    a = pinn.derivatives(net, X, ["x", "t", "xx", "xt"], method="grad")
    b = pinn.derivatives(net, X, ["x", "t", "xx", "xt"], method="jvp")
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-11, atol=1e-13)


# Residuals of exact solutions ---------------------------------------------------------------

def burgers_exact(X, nu=burgers.NU, a=0.5, k=np.pi):
    """u = -2 nu phi_x / phi with phi = 1 + a exp(-nu k^2 t) sin(k x), a solution of the heat
    equation phi_t = nu phi_xx: by the Cole-Hopf transformation, a solution of viscous
    Burgers."""
    x, t = X[:, 0], X[:, 1]
    decay = a * wnp.exp(-nu * k ** 2 * t)
    return -2 * nu * decay * k * wnp.cos(k * x) / (1 + decay * wnp.sin(k * x))


def viscous_shock(X, nu=0.05, speed=0.3, jump=1.0):
    """The travelling viscous shock u = c - A tanh(A (x - c t) / (2 nu))."""
    return speed - jump * wnp.tanh(jump * (X[:, 0] - speed * X[:, 1]) / (2 * nu))


@pytest.mark.parametrize("method", METHODS)
def test_burgers_residual_of_exact_solutions_is_zero(method):
    X = np.column_stack([points(n=200)[:, 0], points(n=200, seed=1, low=0.0)[:, 1]])
    r = burgers.residual(burgers_exact, X, method=method)
    assert np.max(np.abs(r)) < 1e-15  # u itself is O(nu) = O(3e-3)
    r = burgers.residual(viscous_shock, X, nu=0.05, method=method)
    assert np.max(np.abs(r)) < 1e-12  # u_t and u u_x are O(100) near the front
    # A wrong viscosity leaves a residual of the size of the neglected term.
    assert np.max(np.abs(burgers.residual(viscous_shock, X, nu=0.06, method=method))) > 0.1


@pytest.mark.parametrize("method", METHODS)
def test_poisson_residual_of_exact_solution_is_zero(method):
    X = points(n=200, low=0.0)
    r = poisson.residual(poisson.exact, X, method=method)
    assert np.max(np.abs(r)) < 1e-12  # the source is O(2 pi^2) = O(20)


# The Cole-Hopf reference solution -----------------------------------------------------------

def test_cole_hopf_initial_condition_and_symmetry():
    x, t = burgers.grid_axes()
    U = burgers.exact_on_grid()
    assert U.shape == (t.size, x.size)
    np.testing.assert_allclose(U[0], -np.sin(np.pi * x), atol=1e-15)
    np.testing.assert_allclose(U, -U[:, ::-1], atol=1e-13)  # odd in x
    np.testing.assert_allclose(U[:, [0, -1]], 0.0, atol=1e-13)  # the boundary values
    assert np.all(np.isfinite(U)) and np.max(np.abs(U)) <= 1.0 + 1e-12


def cole_hopf_by_quad(x, t, nu=burgers.NU):
    """The Cole-Hopf integrals by adaptive quadrature (scipy's quad) in the original variable
    e, with the exponent shifted by its maximum (found on a fine grid) against overflow."""
    from scipy.integrate import quad

    def exponent(e):
        return -np.cos(np.pi * (x - e)) / (2 * np.pi * nu) - e * e / (4 * nu * t)

    shift = np.max(exponent(np.linspace(-3, 3, 200_001)))
    width = 12 * np.sqrt(4 * nu * t)

    def integral(g):
        return quad(lambda e: g(e) * np.exp(exponent(e) - shift), -width, width, limit=400,
                    epsabs=0, epsrel=1e-12, points=[0.0, x - 1, x + 1])[0]

    return -integral(lambda e: np.sin(np.pi * (x - e))) / integral(lambda e: 1.0)


def test_cole_hopf_agrees_with_more_nodes_and_with_adaptive_quadrature():
    x, t = np.meshgrid(np.linspace(-1, 1, 41), np.linspace(0.05, 1.0, 9))
    np.testing.assert_allclose(burgers.cole_hopf(x, t, nodes=100),
                               burgers.cole_hopf(x, t, nodes=300), atol=1e-12)
    for x, t in [(0.3, 0.25), (-0.05, 0.7), (0.01, 1.0), (0.8, 0.5)]:
        assert abs(burgers.cole_hopf(x, t) - cole_hopf_by_quad(x, t)) < 1e-9, (x, t)


# Sampling -----------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["uniform", "lhs", "sobol"])
def test_sample_box_lies_in_the_box(method):
    X = pinn.sample_box(256, [-1.0, 0.0], [1.0, 2.0], method=method, rng=0)
    assert X.shape == (256, 2) and X.dtype == np.float64
    assert np.all(X >= [-1.0, 0.0]) and np.all(X <= [1.0, 2.0])
    np.testing.assert_array_equal(X, pinn.sample_box(256, [-1, 0], [1, 2], method=method,
                                                     rng=0))


def test_latin_hypercube_hits_every_stratum_once():
    n = 50
    X = pinn.sample_box(n, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], method="lhs", rng=3)
    for column in X.T:
        np.testing.assert_array_equal(np.sort(np.floor(column * n)), np.arange(n))


def test_sample_boundary_lies_on_the_faces():
    X = pinn.sample_boundary(400, [0.0, -1.0], [2.0, 1.0], rng=0)
    on_face = np.isclose(X[:, 0], 0) | np.isclose(X[:, 0], 2) | np.isclose(X[:, 1], -1) | \
        np.isclose(X[:, 1], 1)
    assert on_face.all()
    # The faces x = 0 and x = 2 are twice as long as y = +-1: about half of the points.
    assert 0.4 < np.mean(np.isclose(X[:, 1], -1) | np.isclose(X[:, 1], 1)) < 0.6
    only_left = pinn.sample_boundary(10, [0.0, -1.0], [2.0, 1.0], faces=[(0, 0)], rng=0)
    np.testing.assert_array_equal(only_left[:, 0], 0.0)


def test_grid_ordering():
    X = pinn.grid(np.array([0.0, 1.0]), np.array([5.0, 6.0, 7.0]))
    np.testing.assert_array_equal(X[:4], [[0, 5], [0, 6], [0, 7], [1, 5]])


# Training ---------------------------------------------------------------------------------

def test_short_training_lowers_the_loss():
    problem = poisson.make_problem(150, 60, rng=0)
    net = poisson.network(3, 12, rng=0)
    start = float(poisson.loss(net, problem))

    def error(params):
        return pinn.relative_l2(poisson.prediction_grid(params, n=21),
                                poisson.exact_on_grid(n=21))

    lines = []
    result = pinn.train(poisson.loss, net, problem, adam_steps=100, lr=1e-2,
                        lbfgs_iterations=200, log=lines.append, log_every=0.0, monitor=error)
    history = result.history
    assert result.adam_steps == 100 and 0 < result.lbfgs_iterations <= 200
    assert len(history["loss"]) == result.evaluations
    assert history["phase"][0] == 0 and history["phase"][-1] == 1
    assert history["loss"][0] == pytest.approx(start)
    final = float(poisson.loss(result.params, problem))
    assert final < 1e-3 * start and final < 1e-3
    # The monitor ran after Adam and after each chunk of 100 L-BFGS iterations.
    assert len(history["monitor"]) == 1 + -(-result.lbfgs_iterations // 100)
    assert history["monitor"][-1] == pytest.approx(error(result.params)) and \
        history["monitor"][-1] < 0.05
    assert "monitor" in lines[-1] and "Adam step 100/100" in "\n".join(lines)


def test_eager_backward_matches_value_and_grad():
    """With Parameter tensors the same loss runs eagerly: loss.backward() fills .grad."""
    problem = burgers.make_problem(100, 10, rng=0)
    net = burgers.network(3, 6, rng=0)
    value, grads = wg.value_and_grad(burgers.loss)(functional(net), problem)
    loss = burgers.loss(net, problem)
    loss.backward()
    assert np.isclose(float(loss.detach().numpy()), float(value), rtol=1e-13)
    for p, g in zip(net.parameters(), wg.tree_leaves(grads)):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-11, atol=1e-14)


def test_network_rescales_its_inputs():
    net = functional(pinn.MLP([2, 5, 3], [10.0, 0.0], [20.0, 1.0], rng=0))
    X = np.array([[10.0, 0.0], [15.0, 0.5], [20.0, 1.0]])
    plain = functional(pinn.MLP([2, 5, 3], [-1.0, -1.0], [1.0, 1.0], rng=0))
    np.testing.assert_allclose(net(X), plain(np.array([[-1.0, -1], [0, 0], [1, 1]])))
    small = functional(pinn.MLP([2, 4, 1], [0, 0], [1, 1]))
    assert net(X).shape == (3, 3) and small(X).shape == (3,)
    leaves = wg.tree_leaves(net)
    assert len(leaves) == 4  # two weights, two biases: the input box is not trained


# Errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("call, words", [
    (lambda: pinn.derivatives(f_closed, points(), ["xy"]), ["derivatives", "'y'", "variables"]),
    (lambda: pinn.derivatives(f_closed, points(d=3), ["x"]), ["derivatives", "X", "(N, 2)"]),
    (lambda: pinn.derivatives(f_closed, points(), ["x"], method="fd"), ["derivatives", "fd"]),
    (lambda: pinn.derivatives(f_closed, points(), ["x"], variables="xx"),
     ["derivatives", "variables"]),
    (lambda: pinn.derivatives(f_closed, np.ones((3, 2), int), ["x"]),
     ["derivatives", "floating"]),
    (lambda: pinn.derivatives(lambda X: X * X, points(), ["x"]),
     ["derivatives", "method='grad'", "(N,)", "(40, 2)"]),
    (lambda: pinn.sample_box(10, [0, 0], [1, 1], method="grid"), ["sample_box", "grid"]),
    (lambda: pinn.sample_box(0, [0, 0], [1, 1]), ["sample_box", "n"]),
    (lambda: pinn.sample_box(10, [0, 1], [1, 1]), ["sample_box", "lower < upper"]),
    (lambda: pinn.sample_boundary(10, [0, 0], [1, 1], faces=[(2, 0)]),
     ["sample_boundary", "faces"]),
    (lambda: pinn.MLP([2], [0, 0], [1, 1]), ["MLP", "sizes"]),
    (lambda: pinn.MLP([2, 3, 1], [0], [1]), ["MLP", "lower"]),
    (lambda: pinn.train(lambda p: p.sum(), np.ones(2), adam_steps=-1), ["train", "adam_steps"]),
    (lambda: pinn.condition_loss(f_closed, points(), np.zeros(3)),
     ["condition_loss", "values"]),
    (lambda: pinn.relative_l2(np.ones(2), np.ones(3)), ["relative_l2", "shape"]),
    (lambda: burgers.cole_hopf(0.0, 0.5, nodes=1000), ["cole_hopf", "nodes"]),
])
def test_bad_arguments_name_the_function_and_argument(call, words):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


# Command line -----------------------------------------------------------------------------

def test_cli_quick_poisson_runs(tmp_path, capsys):
    status = main(["pinn", "poisson", "--quick", "--points", "60", "--adam-steps", "10",
                   "--lbfgs-iterations", "10", "--out", str(tmp_path)])
    assert status == 0
    out = capsys.readouterr().out
    assert "--quick" in out and "relative L2 error" in out and "wall time" in out
    pytest.importorskip("matplotlib")
    assert (tmp_path / "poisson.png").stat().st_size > 0


def test_cli_pinn_without_problem_prints_help(capsys):
    assert main(["pinn"]) == 2
    out = capsys.readouterr().out
    assert "burgers" in out and "poisson" in out
