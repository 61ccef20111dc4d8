"""Sparse Jacobians and Hessians: the detected pattern never misses a nonzero of the dense
Jacobian, colourings are valid (checked by brute force) and use the expected number of
colours, and the compressed results equal jacfwd / hessian."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

import wengert as wg
import wengert.numpy as wnp
from wengert.sparse_jacobian import (
    color_acyclic,
    color_columns,
    color_jacobian,
    color_star,
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


# Star and acyclic colourings of symmetric patterns ----------------------------------------

def adjacency_lists(pattern):
    pattern = sp.csr_matrix(pattern, dtype=bool)
    pattern = (pattern + pattern.T).tocsr()
    return [set(pattern.indices[pattern.indptr[v]:pattern.indptr[v + 1]]) - {v}
            for v in range(pattern.shape[0])]


def paths_on_four_vertices(adj):
    for a, b in itertools.permutations(range(len(adj)), 2):
        if b in adj[a]:
            for c in adj[b] - {a}:
                for d in adj[c] - {a, b}:
                    yield a, b, c, d


def is_star_coloring(pattern, colors):
    """Brute force: proper, and no path on four vertices is two-coloured."""
    adj = adjacency_lists(pattern)
    proper = all(colors[v] != colors[w] for v in range(len(adj)) for w in adj[v])
    return proper and all(len(set(colors[list(p)])) >= 3 for p in paths_on_four_vertices(adj))


def is_acyclic_coloring(pattern, colors):
    """Brute force: proper, and each two-coloured subgraph is a forest (edges = vertices -
    components)."""
    adj = adjacency_lists(pattern)
    if any(colors[v] == colors[w] for v in range(len(adj)) for w in adj[v]):
        return False
    for a, c in itertools.combinations(set(colors.tolist()), 2):
        keep = np.isin(colors, (a, c))
        sub = sp.csr_matrix(sp.csr_matrix(pattern, dtype=bool)[keep][:, keep], dtype=float)
        sub = ((sub + sub.T) > 0).astype(float)
        sub.setdiag(0)
        sub.eliminate_zeros()
        components = connected_components(sub, directed=False)[0]
        if sub.nnz // 2 != keep.sum() - components:
            return False
    return True


def random_symmetric(n, density, seed):
    r = np.random.default_rng(seed)
    upper = np.triu(r.random((n, n)) < density, 1)
    return sp.csr_matrix(upper | upper.T | np.eye(n, dtype=bool))


def star_colorable(n, b, k):
    """Whether the band of half-bandwidth b on n vertices has a star colouring with k
    colours (exhaustive backtracking)."""
    adj = adjacency_lists(banded(n, b))
    ending_at = {}
    for p in paths_on_four_vertices(adj):
        ending_at.setdefault(max(p), []).append(p)
    colors = np.full(n, -1)

    def extend(v):
        if v == n:
            return True
        for c in range(k):
            colors[v] = c
            if (all(colors[w] != c for w in adj[v] if w < v)
                    and all(len(set(colors[list(p)])) >= 3 for p in ending_at.get(v, ()))
                    and extend(v + 1)):
                return True
        colors[v] = -1
        return False

    return extend(0)


def test_brute_force_checkers_reject_bad_colorings():
    path = banded(4, 1)  # 0 - 1 - 2 - 3
    assert is_star_coloring(path, np.array([0, 1, 0, 2]))
    assert not is_star_coloring(path, np.array([0, 1, 0, 1]))  # a two-coloured P4
    assert not is_star_coloring(path, np.array([0, 0, 1, 2]))  # not proper
    cycle = sp.csr_matrix(banded(4, 1) + sp.csr_matrix(([1, 1], ([0, 3], [3, 0])), (4, 4)))
    assert is_acyclic_coloring(path, np.array([0, 1, 0, 1]))
    assert not is_acyclic_coloring(cycle, np.array([0, 1, 0, 1]))  # a two-coloured cycle


def test_star_and_acyclic_colorings_are_valid_on_random_graphs():
    for seed in range(40):
        n = 5 + seed % 8
        pattern = random_symmetric(n, 0.15 + 0.1 * (seed % 5), seed)
        star, acyclic = color_star(pattern), color_acyclic(pattern)
        assert is_star_coloring(pattern, star), seed
        assert is_acyclic_coloring(pattern, acyclic), seed
        assert is_acyclic_coloring(pattern, star)  # every star colouring is acyclic
        assert acyclic.max() <= star.max() <= color_columns(pattern).max()


@pytest.mark.parametrize("b", [1, 2, 3])
def test_band_colorings(b):
    pattern = banded(60, b)
    star, acyclic = color_star(pattern), color_acyclic(pattern)
    # Star: 2b + 1, like the distance-2 colouring, and the least possible for a band.
    assert star.max() + 1 == 2 * b + 1 and is_star_coloring(pattern, star)
    if b <= 2:
        assert not star_colorable(12, b, 2 * b)
    # Acyclic: b + 1, the clique size (so optimal).
    assert acyclic.max() + 1 == b + 1 and is_acyclic_coloring(pattern, acyclic)


def arrow_objective(x):
    return x[0] * wnp.sum(x) + wnp.sum(x ** 4)


def test_arrow_hessian_needs_two_colors_not_n():
    n = 25
    x = rng.standard_normal(n)
    dense = wg.hessian(arrow_objective)(x)
    expected = {"star": 2, "acyclic": 2, "distance2": n}
    for coloring, ncolors in expected.items():
        H, info = hessian_sparse(arrow_objective, x, coloring=coloring, return_info=True)
        assert info["colors"] == ncolors, coloring
        np.testing.assert_allclose(H.toarray(), dense, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(H[0, 1:].toarray(), 1.0)  # d2/dx0 dxj of x0 * sum(x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hessian_of_random_structure_matches_dense(seed):
    r = np.random.default_rng(seed)
    n, pairs = 30, 40
    i, j = r.integers(0, n, pairs), r.integers(0, n, pairs)
    w = r.standard_normal(pairs)

    def f(x):
        return wnp.sum(w * wnp.sin(x[i] * x[j])) + wnp.sum(wnp.exp(x[1:] * x[:-1]) * 0.1)

    x = r.standard_normal(n)
    dense = wg.hessian(f)(x)
    ncolors = {}
    for coloring in ("star", "acyclic", "distance2"):
        H, info = hessian_sparse(f, x, coloring=coloring, return_info=True)
        ncolors[coloring] = info["colors"]
        np.testing.assert_allclose(H.toarray(), dense, rtol=1e-12, atol=1e-12)
        assert (H != H.T).nnz == 0  # exactly symmetric
    assert ncolors["acyclic"] <= ncolors["star"] <= ncolors["distance2"]


def test_tridiagonal_hessian_colorings():
    x = rng.standard_normal(40)
    dense = wg.hessian(rosenbrock)(x)
    for coloring, ncolors in (("star", 3), ("acyclic", 2), ("distance2", 3)):
        H, info = hessian_sparse(rosenbrock, x, coloring=coloring, return_info=True)
        assert info["colors"] == ncolors
        np.testing.assert_allclose(H.toarray(), dense, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("coloring", ["star", "acyclic", "distance2"])
def test_hessian_float32_and_trivial_sizes(coloring):
    x = rng.standard_normal(10).astype(np.float32)
    H = hessian_sparse(arrow_objective, x, coloring=coloring)
    assert H.dtype == np.float32
    np.testing.assert_allclose(H.toarray(), wg.hessian(arrow_objective)(x), rtol=1e-5)
    assert hessian_sparse(wnp.sum, np.zeros(0), coloring=coloring).shape == (0, 0)
    H1, info = hessian_sparse(arrow_objective, np.array([0.5]), coloring=coloring,
                              return_info=True)
    assert info["colors"] == 1
    np.testing.assert_allclose(H1.toarray(), [[2.0 + 12 * 0.25]])


# Bidirectional Jacobians -------------------------------------------------------------------

def arrow_function(m):
    """f: R^n -> R^m with a dense first row, a dense first column and a (rectangular)
    diagonal."""
    def f(x):
        k = min(m, x.size)
        parts = [wnp.sum(wnp.sin(x), keepdims=True), x[1:k] ** 2 + wnp.exp(x[0]) * x[1:k]]
        if m > x.size:
            parts.append(wnp.cos(x[0]) * wnp.ones_like(x[:m - x.size]))
        return wnp.concatenate(parts)
    return f


@pytest.mark.parametrize("m", [30, 22, 37])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_arrow_jacobian_costs_three_passes_bidirectionally(m, dtype):
    n = 30
    f = arrow_function(m)
    x = rng.standard_normal(n).astype(dtype)
    dense = wg.jacfwd(f)(x)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    expected = {"fwd": (n, 0, "fwd"), "rev": (0, m, "rev"),
                "bidirectional": (2, 1, "bidirectional"), "auto": (2, 1, "bidirectional")}
    for mode, (jvps, vjps, used) in expected.items():
        J, info = jacobian_sparse(f, x, mode=mode, return_info=True)
        assert (info["jvps"], info["vjps"], info["mode"]) == (jvps, vjps, used), mode
        assert info["colors"] == jvps + vjps
        assert J.dtype == dtype and J.shape == (m, n)
        np.testing.assert_allclose(J.toarray(), dense, rtol=tol, atol=tol)


def test_arrow_derivatives_match_analytic_values():
    n = 12
    x = rng.standard_normal(n)
    expected = np.zeros((n, n))
    expected[0] = np.cos(x)
    expected[1:, 0] = np.exp(x[0]) * x[1:]
    expected[np.arange(1, n), np.arange(1, n)] = 2 * x[1:] + np.exp(x[0])
    J = jacobian_sparse(arrow_function(n), x, mode="bidirectional")
    np.testing.assert_allclose(J.toarray(), expected, rtol=1e-13, atol=1e-15)
    # d2/dx2 [x0 sum(x) + sum(x^4)] = diag(12 x^2) + e0 1^T + 1 e0^T.
    expected = np.diag(12 * x ** 2)
    expected[0] += 1.0
    expected[:, 0] += 1.0
    for coloring in ("star", "acyclic"):
        H = hessian_sparse(arrow_objective, x, coloring=coloring)
        np.testing.assert_allclose(H.toarray(), expected, rtol=1e-13, atol=1e-15)


def test_several_dense_rows_and_columns():
    n, k = 40, 3
    pattern = sp.lil_matrix((n, n), dtype=bool)
    pattern.setdiag(True)
    pattern[:k, :] = True
    pattern[:, -k:] = True
    assert color_columns(pattern).max() + 1 == n
    rows, cols = color_jacobian(pattern, "auto")
    # k VJPs for the dense rows, then k + 1 JVPs for the dense columns and the diagonal.
    assert (rows.max() + 1, cols.max() + 1) == (k, k + 1)
    a = rng.standard_normal((n, n)) * pattern.toarray()

    def f(x):
        return a @ x + x ** 3

    x = rng.standard_normal(n)
    J, info = jacobian_sparse(f, x, pattern=pattern, return_info=True)
    assert info["colors"] == 2 * k + 1
    np.testing.assert_allclose(J.toarray(), a + np.diag(3 * x ** 2), rtol=1e-13)


@pytest.mark.parametrize("b", [1, 2, 4])
def test_banded_jacobian_in_every_mode(b):
    n = 80
    r = np.random.default_rng(b)
    a = np.where(banded(n, b).toarray(), r.standard_normal((n, n)), 0.0)

    def f(x):
        return wnp.tanh(a @ x)

    x = r.standard_normal(n)
    dense = wg.jacfwd(f)(x)
    passes = {}
    for mode in ("fwd", "rev", "bidirectional", "auto"):
        J, info = jacobian_sparse(f, x, mode=mode, return_info=True)
        passes[mode] = info["colors"]
        np.testing.assert_allclose(J.toarray(), dense, rtol=1e-12, atol=1e-14)
    # Column- or row-wise: 2b + 1 (optimal: a row holds 2b + 1 nonzeros). A split cannot
    # beat that here, since every row and column is as dense as every other.
    assert passes["fwd"] == passes["rev"] == passes["auto"] == 2 * b + 1
    assert passes["bidirectional"] >= 2 * b + 1


@pytest.mark.parametrize("seed", range(4))
def test_random_sparse_jacobians_in_every_mode(seed):
    r = np.random.default_rng(seed)
    m, n = 15 + 5 * seed, 20
    a = np.where(r.random((m, n)) < 0.15, r.standard_normal((m, n)), 0.0)
    a[seed % m] = r.standard_normal(n)  # a dense row

    def f(x):
        return wnp.sin(a @ x) * x[seed]

    x = r.standard_normal(n)
    dense = wg.jacfwd(f)(x)
    passes = {}
    for mode in ("fwd", "rev", "bidirectional", "auto"):
        J, info = jacobian_sparse(f, x, mode=mode, return_info=True)
        passes[mode] = info["colors"]
        np.testing.assert_allclose(J.toarray(), dense, rtol=1e-12, atol=1e-14)
    assert passes["auto"] == min(passes.values())


@pytest.mark.parametrize("mode", ["fwd", "rev", "bidirectional", "auto"])
def test_empty_and_scalar_jacobians(mode):
    J, info = jacobian_sparse(wnp.sin, np.zeros(0), mode=mode, return_info=True)
    assert J.shape == (0, 0) and info["colors"] == 0
    J, info = jacobian_sparse(lambda x: x[:0] * 2.0, np.ones(4), mode=mode, return_info=True)
    assert J.shape == (0, 4) and info["colors"] == 0
    J, info = jacobian_sparse(lambda x: x ** 3, np.array([2.0]), mode=mode, return_info=True)
    assert info["colors"] == 1
    np.testing.assert_allclose(J.toarray(), [[12.0]])
    # A constant output: nothing depends on x, so no pass at all.
    J, info = jacobian_sparse(lambda x: wg.stop_gradient(x) + 1.0, np.ones(3), mode=mode,
                              return_info=True)
    assert info["colors"] == 0 and J.shape == (3, 3) and J.nnz == 0


# Errors ------------------------------------------------------------------------------------

def test_errors():
    with pytest.raises(ValueError, match="jacobian_sparse: x must be 1-D.*ravel"):
        jacobian_sparse(wnp.sin, np.ones((2, 3)))
    with pytest.raises(TypeError, match="hessian_sparse: x must be a real floating"):
        hessian_sparse(wnp.sum, np.arange(3))
    with pytest.raises(ValueError, match="mode must be one of.*bidirectional"):
        jacobian_sparse(wnp.sin, X, mode="sideways")
    with pytest.raises(ValueError, match="hessian_sparse: coloring must be one of.*acyclic"):
        hessian_sparse(wnp.sum, X, coloring="greedy")
    with pytest.raises(ValueError, match="jacobian_sparse: pattern has shape.*12 columns"):
        jacobian_sparse(wnp.sin, X, pattern=sp.identity(5))
    for mode in ("fwd", "rev"):
        with pytest.raises(ValueError, match="pattern has 3 rows, but f.x. has 12 elements"):
            jacobian_sparse(wnp.sin, X, pattern=np.ones((3, 12)), mode=mode)
    with pytest.raises(ValueError, match="hessian_sparse: pattern has shape.*rows"):
        hessian_sparse(wnp.sum, X, pattern=np.ones((3, 12)))
