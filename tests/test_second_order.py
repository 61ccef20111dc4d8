"""Newton's method (wengert.optim.newton_minimize, exact Hessian or Hessian-vector products)
and the `wengert newton` study (wengert/second_order.py): exact step counts on known cases,
quadratic convergence on Rosenbrock, descent from an indefinite Hessian, agreement with
scipy.optimize, argument errors, and the quick study through the command line."""

import contextlib
import importlib.util
import io
import math

import numpy as np
import pytest
from scipy.optimize import minimize, rosen, rosen_der, rosen_hess, rosen_hess_prod

import wengert as wg
import wengert.numpy as wnp
from wengert import second_order
from wengert.cli import main
from wengert.optim import newton_cg_minimize, newton_minimize
from wengert.second_order import convergence_order, rosenbrock, rosenbrock_start


def _quadratic(n, seed=0, condition=100.0):
    """f(x) = x.A.x / 2 - b.x with A SPD of the given condition number, and its minimiser."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = (q * np.geomspace(1.0, condition, n)) @ q.T
    b = rng.standard_normal(n)

    def f(x):
        return 0.5 * wnp.sum(x * (a @ x)) - wnp.sum(b * x)

    return f, np.linalg.solve(a, b)


def _record(progress_list):
    return progress_list.append


def test_newton_solves_a_convex_quadratic_in_one_step():
    f, x_star = _quadratic(6)
    res = newton_minimize(f, np.zeros(6), tolerance_grad=1e-9)
    assert res.converged and res.nit == 1
    assert res.nfev == 2  # the start and the full step, accepted at once
    assert (res.nhev, res.nhvp) == (1, 0)  # one Hessian, factorised once
    np.testing.assert_allclose(res.x, x_star, rtol=1e-12, atol=1e-12)


def test_newton_on_a_pytree_quadratic_in_one_step():
    f_flat, x_star = _quadratic(5, seed=1)

    def f(params):
        return f_flat(wnp.concatenate([params["a"], params["b"]]))

    res = newton_minimize(f, {"a": np.zeros(2), "b": np.zeros(3)})
    assert res.nit == 1
    np.testing.assert_allclose(res.x["a"], x_star[:2], rtol=1e-12)
    np.testing.assert_allclose(res.x["b"], x_star[2:], rtol=1e-12)
    assert res.x["a"].shape == (2,) and res.x["b"].shape == (3,)


def test_newton_on_a_quartic_takes_the_predicted_steps():
    # f = sum x^4 / 4: the Newton step x - x^3 / (3 x^2) = 2x/3 exactly (a degenerate
    # minimum, so linear convergence), and ||grad|| = ||x0^3|| (2/3)^(3k).
    x0, tol = np.array([1.0, -2.0]), 1e-8
    seen = []
    res = newton_minimize(lambda x: wnp.sum(x ** 4) / 4, x0, tolerance_grad=tol,
                          callback=_record(seen))
    expected = math.ceil(math.log(tol / np.linalg.norm(x0 ** 3)) / (3 * math.log(2 / 3)))
    assert res.converged and res.nit == expected == 17
    for p in seen:
        np.testing.assert_allclose(p.x, x0 * (2 / 3) ** p.nit, rtol=1e-12)
        assert p.nhev == p.nit and p.nhvp == 0


def test_newton_on_rosenbrock_converges_quadratically():
    seen = []
    res = newton_minimize(rosenbrock, np.array([-1.2, 1.0]), tolerance_grad=1e-10,
                          callback=_record(seen))
    assert res.converged and np.linalg.norm(res.grad) <= 1e-10
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-12)
    norms = [p.grad_norm for p in seen]
    order, rate = convergence_order(norms)
    assert 1.8 < order < 2.2, norms
    assert rate < 1.0
    # The last steps are full Newton steps: each squares the gradient norm (times a bounded C).
    big = [g for g in norms if g > 1e-13]
    assert all(b / a ** 2 < 10 for a, b in zip(big[-3:], big[-2:]))


def test_convergence_order_of_known_sequences():
    linear = 0.5 ** np.arange(12)
    quadratic = 10.0 ** -(2.0 ** np.arange(5))  # 1e-1, 1e-2, 1e-4, 1e-8, 1e-16
    assert convergence_order(linear)[0] == pytest.approx(1.0, abs=1e-12)
    assert convergence_order(quadratic, floor=1e-20)[0] == pytest.approx(2.0, abs=1e-12)
    assert math.isnan(convergence_order([1.0, 2.0, 3.0])[0])


def _double_well(x):
    return x[0] ** 4 / 4 - x[0] ** 2 / 2 + x[1] ** 2 / 2


@pytest.mark.parametrize("hessian", ["dense", "hvp"])
def test_indefinite_hessian_start_still_descends(hessian):
    x0 = np.array([0.1, 1.0])
    assert np.linalg.eigvalsh(np.asarray(wg.hessian(_double_well)(x0)))[0] < 0
    seen = []
    res = newton_minimize(_double_well, x0, hessian=hessian, tolerance_grad=1e-10,
                          callback=_record(seen))
    values = [float(_double_well(x0))] + [p.fun for p in seen]
    assert values[1] < values[0]
    assert all(b <= a for a, b in zip(values, values[1:]))  # (equal only at rounding level)
    assert res.converged
    np.testing.assert_allclose(res.x, [1.0, 0.0], atol=1e-10)  # the minimum, not the saddle


def test_newton_cg_converges_on_a_quadratic():
    f, x_star = _quadratic(30, seed=2)
    seen = []
    res = newton_minimize(f, np.zeros(30), hessian="hvp", tolerance_grad=1e-10,
                          callback=_record(seen))
    assert res.converged
    np.testing.assert_allclose(res.x, x_star, rtol=1e-9, atol=1e-9)
    assert seen[-1].nhev == 0 and 0 < seen[-1].nhvp <= 30 * res.nit
    assert (res.nhev, res.nhvp) == (0, seen[-1].nhvp)
    trust = newton_cg_minimize(f, np.zeros(30), tolerance_grad=1e-10, initial_radius=10.0)
    assert trust.converged and trust.nhvp > 0 and trust.nhev == 0
    np.testing.assert_allclose(trust.x, x_star, rtol=1e-9, atol=1e-9)


def test_rosenbrock_and_its_derivatives_match_scipy():
    x = np.random.default_rng(3).uniform(-2, 2, 7)
    assert float(rosenbrock(x)) == pytest.approx(rosen(x), rel=1e-14)
    np.testing.assert_allclose(wg.grad(rosenbrock)(x), rosen_der(x), rtol=1e-13)
    np.testing.assert_allclose(wg.hessian(rosenbrock)(x), rosen_hess(x), rtol=1e-13, atol=1e-12)
    wg.check_grads(rosenbrock, (x,), order=2)


@pytest.mark.parametrize("n", [2, 6])
def test_newton_agrees_with_scipy_trust_exact(n):
    # From the standard start at n = 6 both find the same local minimum near x1 = -1.
    x0 = rosenbrock_start(n)
    ours = newton_minimize(rosenbrock, x0, tolerance_grad=1e-10)
    ref = minimize(rosen, x0, jac=rosen_der, hess=rosen_hess, method="trust-exact",
                   options={"gtol": 1e-10})
    # At n = 6 SciPy stops at ||grad|| ~ 1e-7 ("a bad approximation"): near f = 3.97 the
    # decrease its trust region predicts is below f's rounding error. Ours goes on to 1e-10.
    assert ours.converged and np.linalg.norm(rosen_der(ref.x)) < 1e-6
    np.testing.assert_allclose(ours.x, ref.x, atol=1e-6)
    assert ours.fun == pytest.approx(ref.fun, abs=1e-12)


def test_newton_cg_agrees_with_scipy_newton_cg():
    x0 = np.array([-1.2, 1.0])
    ref = minimize(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, method="Newton-CG",
                   options={"xtol": 1e-14})
    for res in (newton_minimize(rosenbrock, x0, hessian="hvp", tolerance_grad=1e-10),
                newton_cg_minimize(rosenbrock, x0, tolerance_grad=1e-10)):
        assert res.converged
        np.testing.assert_allclose(res.x, ref.x, atol=1e-9)


def test_float32_stays_float32():
    f, x_star = _quadratic(4, seed=4, condition=10.0)
    res = newton_minimize(f, np.zeros(4, np.float32), tolerance_grad=1e-4)
    assert res.x.dtype == np.float32 and res.grad.dtype == np.float32
    np.testing.assert_allclose(res.x, x_star, rtol=1e-4, atol=1e-4)


def test_errors_name_the_function_and_the_argument():
    with pytest.raises(TypeError, match=r"newton_minimize: f must return a scalar.*\(3,\)"):
        newton_minimize(lambda x: x ** 2, np.ones(3))
    with pytest.raises(ValueError, match="newton_minimize: tolerance_grad=-1.0 is invalid"):
        newton_minimize(rosenbrock, np.ones(2), tolerance_grad=-1.0)
    with pytest.raises(ValueError, match="newton_minimize: tolerance_grad=nan"):
        newton_minimize(rosenbrock, np.ones(2), tolerance_grad=float("nan"))
    with pytest.raises(ValueError, match="newton_minimize: hessian='exact' is not supported"):
        newton_minimize(rosenbrock, np.ones(2), hessian="exact")
    with pytest.raises(ValueError, match="newton_minimize: max_iter=-1"):
        newton_minimize(rosenbrock, np.ones(2), max_iter=-1)
    with pytest.raises(TypeError, match="newton_minimize: x0 must hold floating-point"):
        newton_minimize(rosenbrock, np.array([1, 2]))
    with pytest.raises(ValueError, match="newton_cg_minimize: tolerance_grad"):
        newton_cg_minimize(rosenbrock, np.ones(2), tolerance_grad=-1.0)
    with pytest.raises(TypeError, match="newton_cg_minimize: f must return a scalar"):
        newton_cg_minimize(lambda x: x, np.ones(2))


@pytest.fixture(scope="module")
def quick_cli(tmp_path_factory):
    """`wengert newton --quick` run once: its runs (caught on the way), output and folder."""
    out = tmp_path_factory.mktemp("newton")
    real, seen = second_order.run_study, []

    def spy(quick):
        seen.append(real(quick=quick))
        return seen[-1]

    buffer = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(buffer):
        patch.setattr(second_order, "run_study", spy)
        status = main(["newton", "--quick", "--out", str(out)])
    return status, seen[0][0], buffer.getvalue(), out


def test_quick_study(quick_cli):
    _, runs, _, _ = quick_cli
    by = {(r.problem, r.method): r for r in runs}
    for problem in ("Rosenbrock n=2", "Rosenbrock n=100"):
        for method in ("L-BFGS", "Newton (exact Hessian)", "Newton-CG, line search (HVPs)",
                       "Newton-CG, trust region (HVPs)"):
            assert by[problem, method].reached, (problem, method, by[problem, method].stopped)
        assert not by[problem, "gradient descent"].reached  # far too slow on a banana
    newton = by["Rosenbrock n=2", "Newton (exact Hessian)"]
    assert newton.nhev == newton.iterations and newton.nhvp == 0
    assert newton.iterations < by["Rosenbrock n=2", "L-BFGS"].iterations
    cg = by["Rosenbrock n=2", "Newton-CG, trust region (HVPs)"]
    assert cg.nhev == 0 and cg.nhvp > 0
    if ("logistic regression (breast cancer)", "Newton (exact Hessian)") in by:
        logistic = by["logistic regression (breast cancer)", "Newton (exact Hessian)"]
        assert logistic.reached and logistic.iterations <= 15


def test_wengert_newton_quick_prints_and_writes_its_plot(quick_cli):
    status, _, out, folder = quick_cli
    assert status == 0
    assert "| Rosenbrock n=2 | Newton (exact Hessian) | 22 |" in out
    assert "order q" in out
    png = folder / "convergence.png"
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib is not installed" in out
    else:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"Plot: {png}" in out
