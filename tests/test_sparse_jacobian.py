"""Sparse Jacobians and Hessians: the detected pattern never misses a nonzero of the dense
Jacobian, colourings use the expected number of colours, and the compressed results equal
jacfwd / hessian."""

import numpy as np
import pytest
import scipy.sparse as sp

import wengert as wg
import wengert.numpy as wnp
from wengert.sparse_jacobian import (
    color_columns,
    hessian_sparse,
    hessian_sparsity,
    jacobian_sparse,
    jacobian_sparsity,
)

rng = np.random.default_rng(0)
X = rng.standard_normal(12)
A_SPARSE = np.where(rng.random((7, 12)) < 0.2, rng.standard_normal((7, 12)), 0.0)


def banded(n, b):
    i, j = np.indices((n, n))
    return sp.csr_matrix(np.abs(i - j) <= b)


def is_proper(pattern, colors):
    """No two columns of one colour share a nonzero row."""
    pattern = sp.csr_matrix(pattern, dtype=bool)
    for row in range(pattern.shape[0]):
        cols = pattern.indices[pattern.indptr[row]:pattern.indptr[row + 1]]
        if len(set(colors[cols])) != len(cols):
            return False
    return True


# Coloring --------------------------------------------------------------------------------

@pytest.mark.parametrize("b", [0, 1, 2, 5])
def test_banded_coloring_uses_2b_plus_1_colors(b):
    pattern = banded(60, b)
    colors = color_columns(pattern)
    assert colors.max() + 1 == 2 * b + 1
    assert is_proper(pattern, colors)


def test_arrow_coloring_picks_the_cheap_side():
    n = 30
    dense_col = sp.lil_matrix((n, n), dtype=bool)
    dense_col.setdiag(True)
    dense_col[:, -1] = True
    # Dense last column: 2 column colours but n row colours (every row shares that column).
    assert color_columns(dense_col).max() + 1 == 2
    assert color_columns(dense_col.T).max() + 1 == n

    def f_col(x):  # J = diag + dense last column
        return x ** 2 + x[-1]

    def f_row(x):  # J = diag + dense last row
        return wnp.concatenate([x[:-1] ** 2, wnp.sum(x, keepdims=True)])

    x = rng.standard_normal(n)
    for f, mode in ((f_col, "fwd"), (f_row, "rev")):
        J, info = jacobian_sparse(f, x, return_info=True)
        assert (info["mode"], info["colors"]) == (mode, 2)
        np.testing.assert_allclose(J.toarray(), wg.jacfwd(f)(x), rtol=1e-13)


# Detection and values ----------------------------------------------------------------------

FUNCTIONS = {
    "elementwise": lambda x: wnp.sin(x) * x[::-1] + 2.0,
    "stencil": lambda x: x[2:] - 2.0 * x[1:-1] + x[:-2],
    "reductions": lambda x: wnp.sum(wnp.reshape(x, (3, 4)) ** 2, axis=1)
    * wnp.max(wnp.reshape(x, (3, 4)), axis=0)[:3],
    "prod_cumsum": lambda x: wnp.concatenate(
        [wnp.prod(wnp.reshape(x, (4, 3)), axis=1), wnp.cumsum(x[4:8]), wnp.zeros(2)]),
    "matmul_sparse_const": lambda x: A_SPARSE @ x,
    "matmul_const_right": lambda x: (wnp.reshape(x, (3, 4)) @ A_SPARSE[:4, :5]).ravel(),
    "matmul_batched": lambda x: (wnp.reshape(x, (2, 2, 3)) @ wnp.reshape(x, (2, 3, 2))).ravel(),
    "vecmat": lambda x: wnp.concatenate(
        [x[:3] @ wnp.reshape(x, (3, 4)), wnp.reshape(x, (3, 4)) @ x[8:]]),
    "matmul_xx": lambda x: (wnp.reshape(x, (3, 4)) @ wnp.reshape(x, (4, 3))).ravel(),
    "transpose_pad": lambda x: wnp.pad(wnp.transpose(wnp.reshape(x, (3, 4))).ravel()[3:9],
                                       (1, 2), constant_values=1.0),
    "index_updates": lambda x: x.at[2:5].set(x[:3] * 3.0).at[0].add(x[-1]),
    "sort_where": lambda x: wnp.where(x > 0, wnp.sort(x) ** 2, wnp.exp(x)),
    "fallback_solve": lambda x: wnp.linalg.solve(wnp.reshape(x[:9], (3, 3)), x[9:]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_pattern_covers_dense_jacobian_and_values_match(name):
    f = FUNCTIONS[name]
    dense = np.asarray(wg.jacfwd(f)(X)).reshape(-1, X.size)
    pattern = jacobian_sparsity(f, X).toarray()
    assert pattern.shape == dense.shape
    assert not np.any((dense != 0) & ~pattern), "detection missed a nonzero"
    for mode in ("auto", "fwd", "rev"):
        J = jacobian_sparse(f, X, mode=mode)
        assert sp.isspmatrix_csr(J)
        np.testing.assert_allclose(J.toarray(), dense, rtol=1e-12, atol=1e-12)


def test_exact_patterns():
    stencil = jacobian_sparsity(FUNCTIONS["stencil"], X).toarray()
    i, j = np.indices(stencil.shape)
    np.testing.assert_array_equal(stencil, (j >= i) & (j <= i + 2))
    np.testing.assert_array_equal(jacobian_sparsity(FUNCTIONS["matmul_sparse_const"], X)
                                  .toarray(), A_SPARSE != 0)
    # A comparison and stop_gradient carry no derivative.
    assert jacobian_sparsity(lambda x: wg.stop_gradient(x) * (x > 0), X).nnz == 0


def test_banded_jacobian_uses_few_passes():
    n = 500
    x = rng.standard_normal(n)

    def f(x):  # half-bandwidth 2
        inner = x[:-4] + 2.0 * x[1:-3] * x[2:-2] - x[3:-1] + wnp.sin(x[4:])
        return wnp.pad(inner, 2) + x ** 3

    J, info = jacobian_sparse(f, x, return_info=True)
    assert info["colors"] == 5
    assert J.nnz <= 5 * n
    np.testing.assert_allclose(J.toarray(), wg.jacfwd(f)(x), rtol=1e-12, atol=1e-12)


def test_float32_stays_float32():
    x = X.astype(np.float32)
    J = jacobian_sparse(FUNCTIONS["stencil"], x)
    assert J.dtype == np.float32


# Hessians ----------------------------------------------------------------------------------

def rosenbrock(x):
    return wnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_rosenbrock_hessian():
    x = rng.standard_normal(40)
    pattern = hessian_sparsity(rosenbrock, x).toarray()
    i, j = np.indices(pattern.shape)
    np.testing.assert_array_equal(pattern, np.abs(i - j) <= 1)
    H, info = hessian_sparse(rosenbrock, x, return_info=True)
    assert info["colors"] == 3
    np.testing.assert_allclose(H.toarray(), wg.hessian(rosenbrock)(x), rtol=1e-12)


def test_hessian_of_coupled_function():
    def f(x):
        return wnp.sum(wnp.exp(x[::2] * x[1::2])) + wnp.sum(x) ** 2 * 0.0 + x[0] * x[-1]

    dense = wg.hessian(f)(X)
    assert not np.any((dense != 0) & ~hessian_sparsity(f, X).toarray())
    np.testing.assert_allclose(hessian_sparse(f, X).toarray(), dense, rtol=1e-12, atol=1e-12)


# Errors ------------------------------------------------------------------------------------

def test_errors():
    with pytest.raises(ValueError, match="jacobian_sparse: x must be 1-D.*ravel"):
        jacobian_sparse(wnp.sin, np.ones((2, 3)))
    with pytest.raises(TypeError, match="hessian_sparse: x must be a real floating"):
        hessian_sparse(wnp.sum, np.arange(3))
    with pytest.raises(ValueError, match="mode must be"):
        jacobian_sparse(wnp.sin, X, mode="sideways")
