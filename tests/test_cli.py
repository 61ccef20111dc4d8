"""The `wengert` command: `wengert demo`, `wengert --version`, and the evaluation-trace helper
that the demo prints (checked against the worked example of Baydin et al. 2018)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import wengert
import wengert.numpy as wnp
from wengert.cli import main
from wengert.demo import baydin_example, evaluation_trace

REPO = Path(__file__).resolve().parents[1]
DEMO_VALUES = ("11.652", "5.5", "1.716")


def test_demo_via_main(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for value in DEMO_VALUES:
        assert value in out


def test_demo_via_python_m():
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "wengert", "demo"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    for value in DEMO_VALUES:
        assert value in result.stdout


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"wengert {wengert.__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_evaluation_trace_of_worked_example():
    rows = evaluation_trace(baydin_example, 2.0, 5.0)
    ln2, sin5, cos5 = np.log(2.0), np.sin(5.0), np.cos(5.0)
    assert [r.name for r in rows] == ["v_-1", "v_0", "v_1", "v_2", "v_3", "v_4", "v_5"]
    assert [r.expression for r in rows] == [
        "x1", "x2", "ln v_-1", "v_-1 * v_0", "sin v_0", "v_1 + v_2", "v_4 - v_3"]
    expected = {
        # name: (value, tangent for x1-dot = 1, adjoint for y-bar = 1)
        "v_-1": (2.0, 1.0, 5.5),
        "v_0": (5.0, 0.0, 2.0 - cos5),
        "v_1": (ln2, 0.5, 1.0),
        "v_2": (10.0, 5.0, 1.0),
        "v_3": (sin5, 0.0, -1.0),
        "v_4": (ln2 + 10.0, 5.5, 1.0),
        "v_5": (ln2 + 10.0 - sin5, 5.5, 1.0),
    }
    for r in rows:
        np.testing.assert_allclose((r.value, r.tangent, r.adjoint), expected[r.name],
                                   rtol=1e-14, atol=1e-15, err_msg=r.name)
    np.testing.assert_allclose(rows[-1].value, 11.652071455223084, rtol=1e-14)
    np.testing.assert_allclose(rows[1].adjoint, 1.7163378145367738, rtol=1e-14)


def test_evaluation_trace_seeds_and_constants():
    def f(a, b):
        return wnp.exp(a) * 3.0 + b

    rows = evaluation_trace(f, 0.0, 1.0, tangents=(0.0, 1.0), cotangent=2.0)
    assert [r.expression for r in rows] == ["a", "b", "exp v_-1", "v_1 * 3", "v_2 + v_0"]
    np.testing.assert_allclose([r.tangent for r in rows], [0, 1, 0, 0, 1])
    np.testing.assert_allclose([r.adjoint for r in rows], [6, 2, 6, 2, 2])


def test_evaluation_trace_rejects_untraced_output():
    with pytest.raises(TypeError, match="evaluation_trace"):
        evaluation_trace(lambda x: 1.0, 2.0)


def test_sample_funnel(capsys):
    assert main(["sample", "funnel", "--chains", "2", "--warmup", "100", "--samples",
                 "100"]) == 0
    out = capsys.readouterr().out
    for text in ("R-hat max", "bulk ESS min", "ESS per gradient", "implied v", "x_raw[8]"):
        assert text in out
