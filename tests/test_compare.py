"""`wengert compare` (wengert/compare.py): AD at machine precision, the step-size law of finite
differences, pass counts (one VJP for a gradient, one JVP for a column), SymPy's expression swell,
and the quick run end to end through `main`."""

import argparse

import numpy as np
import pytest

import wengert as wg
from wengert import compare
from wengert.compare import (
    Counted,
    chain,
    chain_grad,
    column_table,
    format_table,
    gradient_table,
    relative_error,
    step_size_study,
    wave,
    wave_derivative,
    wave_rates,
)


def _rows(table, method):
    return [row for row in table.rows if row[1] == method]


def _passes(row):
    return int(row[2].split()[0].replace(",", ""))


@pytest.fixture(scope="module")
def gradient():
    return gradient_table((1, 10, 50))[0]


def test_exact_gradients_are_right():
    x = np.random.default_rng(1).uniform(-1, 1, 7)
    wg.check_grads(chain, (x,), order=2)
    np.testing.assert_allclose(chain_grad(x), wg.grad(chain)(x), rtol=1e-13)
    a = wave_rates(5)
    np.testing.assert_allclose(wave_derivative(0.3, a), wg.jacfwd(wave)(0.3, a), rtol=1e-13)


def test_ad_error_is_at_machine_precision(gradient):
    for method in ("forward-mode AD", "reverse-mode AD"):
        rows = _rows(gradient, method)
        assert len(rows) == 3
        assert all(row[3] < 1e-12 for row in rows), rows


def test_differences_are_far_from_machine_precision(gradient):
    for method, worst in (("forward difference", 1e-6), ("central difference", 1e-9)):
        errors = [row[3] for row in _rows(gradient, method) if row[0] > 1]
        assert all(1e-12 < e < worst for e in errors), (method, errors)


def test_pass_counts_are_counted(gradient):
    for n, expected in ((1, 1), (10, 10), (50, 50)):
        (fwd,) = [r for r in _rows(gradient, "forward-mode AD") if r[0] == n]
        (rev,) = [r for r in _rows(gradient, "reverse-mode AD") if r[0] == n]
        (fd,) = [r for r in _rows(gradient, "forward difference") if r[0] == n]
        (cd,) = [r for r in _rows(gradient, "central difference") if r[0] == n]
        assert (_passes(fwd), _passes(rev), _passes(fd), _passes(cd)) == (
            expected, 1, n + 1, 2 * n)


def test_reverse_mode_runs_f_once():
    x = np.random.default_rng(2).uniform(-1, 1, 30)
    counted = Counted(chain)
    g, sweeps = compare._ad_reverse(counted, x)
    assert (counted.calls, sweeps) == (1, 1)
    assert relative_error(g, chain_grad(x)) < 1e-14


def test_column_forward_mode_uses_one_pass():
    table, _ = column_table((1, 20))
    for m in (1, 20):
        (fwd,) = [r for r in _rows(table, "forward-mode AD") if r[0] == m]
        (rev,) = [r for r in _rows(table, "reverse-mode AD") if r[0] == m]
        assert (_passes(fwd), _passes(rev)) == (1, m)
        assert fwd[3] < 1e-12 and rev[3] < 1e-12


def test_difference_error_follows_the_step_size_law():
    _, study = step_size_study(n=8)
    (fwd_trunc, fwd_round), (cen_trunc, cen_round) = (study["forward_slopes"],
                                                     study["central_slopes"])
    assert abs(fwd_trunc - 1) < 0.15 and abs(cen_trunc - 2) < 0.2
    assert abs(fwd_round + 1) < 0.3 and abs(cen_round + 1) < 0.3
    # The best steps lie near sqrt(eps) and cbrt(eps), within a factor 10.
    for name, predicted in (("forward", np.sqrt(compare.EPS)), ("central", np.cbrt(compare.EPS))):
        best = study["h"][np.argmin(study[name])]
        assert predicted / 10 < best < predicted * 10, (name, best)


def test_fit_slope_recovers_a_power_law():
    hs = 10.0 ** np.arange(-6, 0.1, 0.5)
    assert compare.fit_slope(hs, 3 * hs ** 2, 1e-4, 1) == pytest.approx(2)


def test_symbolic_swell_for_tiny_n():
    pytest.importorskip("sympy")
    study = compare.symbolic_gradient_study((2, 5), budget=20.0, simplify_seconds=0.2)
    assert [row["n"] for row in study["rows"]] == [2, 5]
    assert all(row["ops_grad"] > row["ops_f"] for row in study["rows"])
    assert all(row["error"] < 1e-12 for row in study["rows"])
    table, series = compare.swell_study(range(1, 5))
    assert [k for k, *_ in series] == [1, 2, 3, 4]
    assert all(ops_d > ops_f for _, ops_f, ops_d, _ in series)
    assert series[-1][2] / series[-1][1] > 5  # the swell grows with depth


def test_symbolic_stops_and_says_so():
    pytest.importorskip("sympy")
    study = compare.symbolic_gradient_study((1, 10, 1000), budget=1.0, simplify_seconds=0.0)
    assert study["stopped"][0] == 1000
    assert "infeasible" in format_table(study["table"])


def test_quick_main(tmp_path, capsys):
    args = argparse.Namespace(quick=True, max_n=10, out=tmp_path)
    assert compare.main(args) == 0
    text = capsys.readouterr().out
    for heading in ("Gradient of f", "Derivative of g", "Error of differences"):
        assert heading in text
    assert "| 10 | reverse-mode AD | 1 (1 VJP) |" in text
    pytest.importorskip("matplotlib")
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(
        ["step_size.png", "gradient_cost.png", "column_cost.png"]
        + (["expression_swell.png"] if compare._import_sympy() else []))
