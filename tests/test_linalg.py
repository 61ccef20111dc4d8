"""Products (`wengert.numpy` matmul, einsum, dot, ...) and `wengert.numpy.linalg`: values
equal NumPy's, derivatives pass `check_grads` (forward and reverse, second order) in float64,
float32 stays float32, batching and broadcasting, and known analytic derivatives.

Factorisations with sign or ordering freedom (eigh, svd, qr) are checked at inputs with
well separated eigen/singular values, through functions that do not depend on the choice
of signs (squares of the vectors, reconstructions)."""

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert.core import DifferentiationError, Primitive
from wengert.numpy import _products
from wengert.numpy import linalg as wla
from wengert.testing import check_grads
from wengert.transforms.api import grad, vjp

RNG_SEED = 1234


def rand(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(RNG_SEED + seed).standard_normal(shape).astype(dtype)


def well_conditioned(*shape, seed=0, dtype=np.float64):
    """Random (stack of) square matrices with a dominant diagonal."""
    n = shape[-1]
    return (rand(*shape, seed=seed) + 3 * np.eye(n)).astype(dtype)


def symmetric(a):
    return (a + wnp.swapaxes(a, -1, -2)) / 2


def spd(a):
    """A symmetric positive definite matrix made from any square `a`, differentiably."""
    n = np.shape(a)[-1]
    return wnp.matmul(a, wnp.swapaxes(a, -1, -2)) + n * np.eye(n)


def separated_symmetric(n, seed=0, batch=()):
    """A symmetric matrix with eigenvalues 1, 2, ..., n (well separated)."""
    q, _ = np.linalg.qr(rand(*batch, n, n, seed=seed))
    return (q * np.arange(1.0, n + 1)[..., None, :]) @ np.swapaxes(q, -1, -2)


def separated_singular(m, n, seed=0, batch=()):
    """An m x n matrix with singular values 1, 2, ..., min(m, n)."""
    k = min(m, n)
    u, _ = np.linalg.qr(rand(*batch, m, k, seed=seed))
    v, _ = np.linalg.qr(rand(*batch, n, k, seed=seed + 1))
    return (u * np.arange(1.0, k + 1)[..., None, :]) @ np.swapaxes(v, -1, -2)


def assert_same(got, expected, rtol=1e-10, atol=1e-12):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------
# einsum

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("ij,jk", [(3, 4), (4, 2)]),  # implicit output
    ("i,i", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ii->i", [(3, 3)]),  # diagonal
    ("ii", [(3, 3)]),  # trace
    ("iij->ji", [(3, 3, 2)]),  # diagonal with another axis
    ("ij->", [(3, 4)]),  # everything summed
    ("ij->i", [(3, 4)]),  # j summed out of the only operand
    ("ij,k->ik", [(3, 4), (2,)]),  # j appears in one operand only
    ("ji", [(3, 4)]),  # implicit transpose
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),  # ellipsis, batch on one side
    ("...ij,...jk", [(1, 3, 4), (5, 4, 2)]),  # ellipsis broadcasting, implicit output
    ("...i,...i->...", [(2, 1, 3), (4, 3)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),  # size-1 broadcasting of a named axis
    ("i,j,k->ijk", [(2,), (3,), (4,)]),
    ("ab,bc,cd->ad", [(8, 9), (9, 10), (10, 7)]),  # large enough for the optimised path
    ("Ab,bA->A", [(3, 4), (4, 3)]),  # upper-case labels
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_values_and_grads(subscripts, shapes):
    ops = [rand(*s, seed=k) for k, s in enumerate(shapes)]
    assert_same(wnp.einsum(subscripts, *ops), np.einsum(subscripts, *ops))
    check_grads(lambda *xs: wnp.einsum(subscripts, *xs), ops)


def test_einsum_sublist_form():
    a, b = rand(3, 4), rand(4, 5, seed=1)
    assert_same(wnp.einsum(a, [0, 1], b, [1, 2], [0, 2]), np.einsum(a, [0, 1], b, [1, 2], [0, 2]))
    assert_same(wnp.einsum(a, [Ellipsis, 1], b, [1, 2]), np.einsum(a, [Ellipsis, 1], b, [1, 2]))
    check_grads(lambda x, y: wnp.einsum(x, [0, 1], y, [1, 2], [0, 2]), (a, b))


def test_einsum_float32_stays_float32():
    a, b = rand(3, 4, dtype=np.float32), rand(2, 4, 5, seed=1, dtype=np.float32)
    out = wnp.einsum("ij,bjk->bik", a, b)
    assert out.dtype == np.float32
    g = grad(lambda x, y: wnp.sum(wnp.einsum("ij,bjk->bik", x, y)), argnums=(0, 1))(a, b)
    assert g[0].dtype == np.float32 and g[1].dtype == np.float32
    check_grads(lambda x, y: wnp.einsum("ij,bjk->bik", x, y), (a, b))


def test_einsum_trace_cotangent_lands_on_diagonal():
    a = rand(4, 4)
    assert_same(grad(lambda x: wnp.einsum("ii", x))(a), np.eye(4))
    assert_same(grad(lambda x: wnp.einsum("ij->", x))(a), np.ones((4, 4)))


def test_einsum_complex():
    a = rand(3, 3) + 1j * rand(3, 3, seed=1)
    b = rand(3) + 1j * rand(3, seed=2)
    assert_same(wnp.einsum("ij,j->i", a, b), np.einsum("ij,j->i", a, b))
    check_grads(lambda x, y: wnp.einsum("ij,j->i", x, y), (a, b))


@pytest.mark.parametrize(
    "subscripts,shapes,message",
    [
        ("ij,jk", [(2, 3)], "operands"),
        ("ij->ik", [(2, 3)], "do not appear"),
        ("ij->ii", [(2, 3)], "repeats"),
        ("ijk", [(2, 3)], "dimensions"),
        ("i1", [(2, 3)], "invalid"),
        ("...i->i", [(2, 3)], "'...'"),
    ],
)
def test_einsum_errors(subscripts, shapes, message):
    with pytest.raises(ValueError, match=message):
        wnp.einsum(subscripts, *[rand(*s) for s in shapes])


# ---------------------------------------------------------------------------------------
# matmul, dot and the other products


@pytest.mark.parametrize(
    "shape_a,shape_b",
    [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
     ((3,), (5, 3, 4)), ((1, 2, 3), (4, 3, 2)), ((2, 1, 2, 3), (3, 3, 2))],
)
def test_matmul_shapes_broadcasting_and_1d(shape_a, shape_b):
    a, b = rand(*shape_a), rand(*shape_b, seed=1)
    assert_same(wnp.matmul(a, b), np.matmul(a, b))
    check_grads(wnp.matmul, (a, b))


def test_matmul_float32_and_operator():
    a, b = rand(3, 4, dtype=np.float32), rand(4, seed=1, dtype=np.float32)
    g = grad(lambda x: wnp.sum(x @ b))(a)
    assert (a @ b).dtype == np.float32 and g.dtype == np.float32
    check_grads(lambda x, y: x @ y, (a, b))
    with pytest.raises(ValueError, match="matmul"):
        wnp.matmul(a, 2.0)


@pytest.mark.parametrize(
    "shape_a,shape_b",
    [((), (3,)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
     ((2, 3, 4), (4,)), ((2, 3, 4), (5, 4, 2)), ((4,), (5, 4, 2))],
)
def test_dot(shape_a, shape_b):
    a, b = rand(*shape_a), rand(*shape_b, seed=1)
    assert_same(wnp.dot(a, b), np.dot(a, b))
    check_grads(wnp.dot, (a, b))


@pytest.mark.parametrize("shape_a,shape_b", [((3,), (3,)), ((2, 3), (4, 3)), ((), (2, 3)),
                                             ((2, 2, 3), (3,))])
def test_inner(shape_a, shape_b):
    a, b = rand(*shape_a), rand(*shape_b, seed=1)
    assert_same(wnp.inner(a, b), np.inner(a, b))
    check_grads(wnp.inner, (a, b))


def test_vdot_flattens_and_conjugates():
    a, b = rand(2, 3), rand(2, 3, seed=1)
    assert_same(wnp.vdot(a, b), np.vdot(a, b))
    check_grads(wnp.vdot, (a, b))
    za, zb = a + 1j * b, b - 2j * a
    assert_same(wnp.vdot(za, zb), np.vdot(za, zb))
    check_grads(wnp.vdot, (za, zb))


@pytest.mark.parametrize("shape_a,shape_b", [((3,), (4,)), ((2, 2), (3,)), ((), (2,))])
def test_outer(shape_a, shape_b):
    a, b = rand(*shape_a), rand(*shape_b, seed=1)
    assert_same(wnp.outer(a, b), np.outer(a, b))
    check_grads(wnp.outer, (a, b))


@pytest.mark.parametrize(
    "shape_a,shape_b,axes",
    [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (4, 5), 0), ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
     ((3, 4), (5, 3), (0, 1)), ((2, 3), (3, 2), 1)],
)
def test_tensordot(shape_a, shape_b, axes):
    a, b = rand(*shape_a), rand(*shape_b, seed=1)
    assert_same(wnp.tensordot(a, b, axes), np.tensordot(a, b, axes))
    check_grads(lambda x, y: wnp.tensordot(x, y, axes), (a, b))


def test_tensordot_shape_mismatch():
    with pytest.raises(ValueError, match="tensordot"):
        wnp.tensordot(rand(2, 3), rand(4, 5), axes=([1], [0]))


@pytest.mark.parametrize("shape_a,shape_b", [((2, 3), (4, 2)), ((3,), (2, 2)), ((2, 1, 2), (3, 2))])
def test_kron(shape_a, shape_b):
    a, b = rand(*shape_a), rand(*shape_b, seed=1)
    assert_same(wnp.kron(a, b), np.kron(a, b))
    check_grads(wnp.kron, (a, b))


@pytest.mark.parametrize("offset,axis1,axis2", [(0, 0, 1), (1, 0, 1), (-1, 0, 1), (2, 2, 0),
                                                (0, -1, -2), (5, 0, 1)])
def test_diagonal_and_trace(offset, axis1, axis2):
    a = rand(3, 4, 5)
    assert_same(wnp.diagonal(a, offset, axis1, axis2), np.diagonal(a, offset, axis1, axis2))
    assert_same(wnp.trace(a, offset, axis1, axis2), np.trace(a, offset, axis1, axis2))
    check_grads(lambda x: wnp.diagonal(x, offset, axis1, axis2), (a,))
    check_grads(lambda x: wnp.trace(x, offset, axis1, axis2), (a,))


def test_diagonal_cotangent_written_on_the_diagonal():
    g = grad(lambda x: wnp.sum(wnp.diagonal(x, 1) * np.array([1.0, 2.0])))(np.zeros((3, 3)))
    assert_same(g, np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="axis1 and axis2"):
        wnp.diagonal(np.zeros((2, 2)), 0, 1, 1)


@pytest.mark.parametrize("k", [0, 1, -2])
def test_diag(k):
    v, m = rand(3), rand(3, 4, seed=1)
    assert_same(wnp.diag(v, k), np.diag(v, k))
    assert_same(wnp.diag(m, k), np.diag(m, k))
    check_grads(lambda x: wnp.diag(x, k), (v,))
    check_grads(lambda x: wnp.diag(x, k), (m,))
    assert wnp.diag(v.astype(np.float32), k).dtype == np.float32


@pytest.mark.parametrize("k", [0, 1, -1])
def test_triu_tril(k):
    m = rand(2, 3, 4)
    for ours, theirs in ((wnp.triu, np.triu), (wnp.tril, np.tril)):
        assert_same(ours(m, k), theirs(m, k))
        assert_same(ours(m.astype(np.float32), k), theirs(m.astype(np.float32), k))
        check_grads(lambda x, ours=ours: ours(x, k), (m,))
    assert_same(wnp.tril(np.arange(3.0)), np.tril(np.arange(3.0)))


def test_cross():
    a, b = rand(4, 3), rand(3, seed=1)
    assert_same(wnp.cross(a, b), np.cross(a, b))
    check_grads(wnp.cross, (a, b))
    a, b = rand(3, 2), rand(3, 1, seed=1)
    assert_same(wnp.cross(a, b, axis=0), np.cross(a, b, axis=0))
    with pytest.raises(ValueError, match="3 components"):
        wnp.cross(rand(2), rand(2))


def test_quadratic_form_gradient_is_symmetrised_matrix_times_x():
    a, x = rand(4, 4), rand(4, seed=1)
    for quadratic in (lambda v: wnp.dot(v, wnp.dot(a, v)),
                      lambda v: wnp.einsum("i,ij,j", v, a, v),
                      lambda v: v @ a @ v):
        assert_same(grad(quadratic)(x), (a + a.T) @ x)
    check_grads(lambda v: wnp.einsum("i,ij,j", v, a, v), (x,))


def test_methods_on_traced_values():
    a = rand(3, 3)
    g = grad(lambda x: x.dot(x).trace() + wnp.sum(x.diagonal(1)))(a)
    assert_same(g, 2 * a.T + np.eye(3, k=1))


# ---------------------------------------------------------------------------------------
# inv, solve, det, slogdet


def test_inv():
    a = well_conditioned(2, 3, 3)
    assert_same(wla.inv(a), np.linalg.inv(a))
    check_grads(wla.inv, (a,))
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        wla.inv(rand(2, 3))


@pytest.mark.parametrize(
    "shape_a,shape_b",
    [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)), ((2, 3, 3), (2, 3, 4)),
     ((3, 3), (2, 3, 1)), ((2, 1, 3, 3), (4, 3, 2))],
)
def test_solve(shape_a, shape_b):
    a, b = well_conditioned(*shape_a), rand(*shape_b, seed=1)
    assert_same(wla.solve(a, b), np.linalg.solve(a, b))
    check_grads(wla.solve, (a, b))


def test_solve_float32():
    a = well_conditioned(3, 3, dtype=np.float32)
    b = rand(3, 2, seed=1, dtype=np.float32)
    assert wla.solve(a, b).dtype == np.float32
    ga, gb = grad(lambda x, y: wnp.sum(wla.solve(x, y)), argnums=(0, 1))(a, b)
    assert ga.dtype == np.float32 and gb.dtype == np.float32
    check_grads(wla.solve, (a, b))


def test_det_and_slogdet():
    a = well_conditioned(2, 3, 3)
    a[1] *= -1  # a negative determinant
    assert_same(wla.det(a), np.linalg.det(a))
    sign, logabsdet = wla.slogdet(a)
    expected = np.linalg.slogdet(a)
    assert_same(sign, expected.sign)
    assert_same(logabsdet, expected.logabsdet)
    check_grads(wla.det, (a,))
    check_grads(lambda x: wla.slogdet(x).logabsdet, (a,))


def test_logdet_and_det_gradients_are_analytic():
    a = well_conditioned(4, 4)
    inv_t = np.linalg.inv(a).T
    assert_same(grad(lambda x: wla.slogdet(x)[1])(a), inv_t)
    assert_same(grad(wla.det)(a), np.linalg.det(a) * inv_t)


# ---------------------------------------------------------------------------------------
# Factorisations


def test_cholesky():
    a = rand(2, 3, 3)
    s = np.asarray(spd(a))
    assert_same(wla.cholesky(s), np.linalg.cholesky(s))
    assert_same(wla.cholesky(s, upper=True), np.linalg.cholesky(s, upper=True))
    check_grads(lambda x: wla.cholesky(spd(x)), (a,))
    check_grads(lambda x: wla.cholesky(symmetric(x)), (np.asarray(s),))


def test_cholesky_gradient_of_log_determinant():
    # log det(S) = 2 sum(log diag(L)), whose gradient is inv(S) for symmetric S.
    s = np.asarray(spd(rand(4, 4)))
    g = grad(lambda x: 2 * wnp.sum(wnp.log(wnp.diagonal(wla.cholesky(x)))))(s)
    assert_same(g, np.linalg.inv(s), rtol=1e-9)


def test_eigh_values_and_grads():
    a = separated_symmetric(4, batch=(2,))
    w, v = wla.eigh(a)
    expected = np.linalg.eigh(a)
    assert_same(w, expected.eigenvalues)
    assert_same(v, expected.eigenvectors)
    assert_same(wla.eigvalsh(a), np.linalg.eigvalsh(a))
    check_grads(lambda x: wla.eigh(symmetric(x)).eigenvalues, (a,))
    check_grads(lambda x: wla.eigh(symmetric(x))[1] ** 2, (a,))  # sign-invariant
    check_grads(lambda x: wla.eigvalsh(symmetric(x)), (a,))


def test_eigh_eigenvalue_gradient_is_outer_product_of_eigenvector():
    a = separated_symmetric(4)
    w, v = np.linalg.eigh(a)
    for k in range(4):
        g = grad(lambda x, k=k: wla.eigh(x)[0][k])(a)
        assert_same(g, np.outer(v[:, k], v[:, k]))


def test_eigh_reconstruction_has_identity_derivative():
    a = separated_symmetric(3)
    t = symmetric(rand(3, 3, seed=5))

    def rebuild(x):
        w, v = wla.eigh(x)
        return (v * w) @ v.T

    _, pullback = vjp(rebuild, a)
    assert_same(pullback(t)[0], t, rtol=1e-9, atol=1e-12)


def test_eigh_float32():
    a = separated_symmetric(3).astype(np.float32)
    g = grad(lambda x: wnp.sum(wla.eigh(x)[1] ** 2 * np.arange(3.0, dtype=np.float32)))(a)
    assert g.dtype == np.float32
    check_grads(lambda x: wla.eigvalsh(symmetric(x)), (a,))


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (2, 4, 3)])
def test_qr(shape):
    a = rand(*shape)
    q, r = wla.qr(a)
    expected = np.linalg.qr(a)
    assert_same(q, expected.Q)
    assert_same(r, expected.R)
    assert_same(wla.qr(a, mode="r"), np.linalg.qr(a, mode="r"))
    check_grads(lambda x: wla.qr(x)[0], (a,))
    check_grads(lambda x: wla.qr(x)[1], (a,))
    # Both outputs at once (through an operation: see test_multiple_results_returned_directly)
    check_grads(lambda x: [1 * y for y in wla.qr(x)], (a,))


def test_qr_wide_matrix_derivative_is_a_clear_error():
    a = rand(2, 4)
    assert_same(wla.qr(a)[1], np.linalg.qr(a)[1])
    with pytest.raises(DifferentiationError, match="rows"):
        grad(lambda x: wnp.sum(wla.qr(x)[1]))(a)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 4, 3)])
def test_svd(shape):
    a = separated_singular(*shape[-2:], batch=shape[:-2])
    u, s, vh = wla.svd(a, full_matrices=False)
    expected = np.linalg.svd(a, full_matrices=False)
    assert_same(u, expected.U)
    assert_same(s, expected.S)
    assert_same(vh, expected.Vh)
    assert_same(wla.svd(a, compute_uv=False), np.linalg.svd(a, compute_uv=False))
    for got, want in zip(wla.svd(a), np.linalg.svd(a)):  # full_matrices=True: values only
        assert_same(got, want)
    check_grads(lambda x: wla.svd(x, compute_uv=False), (a,))
    check_grads(lambda x: wla.svd(x, full_matrices=False).U ** 2, (a,))
    check_grads(lambda x: wla.svd(x, full_matrices=False).Vh ** 2, (a,))

    def reconstruction(x):
        u, s, vh = wla.svd(x, full_matrices=False)
        return (u * s[..., None, :]) @ vh

    check_grads(reconstruction, (a,))


def test_svd_analytic_and_errors():
    a = separated_singular(4, 3)
    u, s, vh = np.linalg.svd(a)
    assert_same(grad(lambda x: wla.svd(x, compute_uv=False)[0])(a), np.outer(u[:, 0], vh[0]))
    with pytest.raises(DifferentiationError, match="full_matrices=False"):
        grad(lambda x: wnp.sum(wla.svd(x)[0]))(a)


def test_svd_float32():
    a = separated_singular(4, 3).astype(np.float32)
    s = wla.svdvals(a)
    assert s.dtype == np.float32
    assert grad(lambda x: wnp.sum(wla.svdvals(x)))(a).dtype == np.float32
    check_grads(wla.svdvals, (a,))


def test_complex_factorisation_derivative_is_a_clear_error():
    a = separated_symmetric(3) + 0j
    with pytest.raises(DifferentiationError, match="real input"):
        grad(lambda x: wnp.sum(wla.eigh(x)[0]))(a)


# ---------------------------------------------------------------------------------------
# Compositions: pinv, matrix_power, multi_dot, norm


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3)])
def test_pinv(shape):
    a = rand(*shape)
    assert_same(wla.pinv(a), np.linalg.pinv(a), rtol=1e-9)
    check_grads(wla.pinv, (a,))


def test_pinv_of_orthogonal_matrix_has_finite_derivative():
    # Equal singular values: an SVD-based derivative would divide by zero.
    q, _ = np.linalg.qr(rand(3, 3))
    check_grads(wla.pinv, (q,))


@pytest.mark.parametrize("n", [0, 1, 2, 5, -1, -3])
def test_matrix_power(n):
    a = well_conditioned(2, 3, 3) / 3
    assert_same(wla.matrix_power(a, n), np.linalg.matrix_power(a, n), rtol=1e-9)
    if n:
        check_grads(lambda x: wla.matrix_power(x, n), (a,))


def test_multi_dot():
    arrays = [rand(4, seed=0), rand(4, 6, seed=1), rand(6, 2, seed=2), rand(2, 3, seed=3),
              rand(3, seed=4)]
    assert_same(wla.multi_dot(arrays), np.linalg.multi_dot(arrays))
    assert_same(wla.multi_dot(arrays[1:4]), np.linalg.multi_dot(arrays[1:4]))
    check_grads(lambda *xs: wla.multi_dot(xs), arrays)


NORM_CASES = [
    ((5,), {}), ((5,), {"ord": 1}), ((5,), {"ord": np.inf}), ((5,), {"ord": -np.inf}),
    ((5,), {"ord": 3}), ((5,), {"ord": 0}), ((3, 4), {}), ((3, 4), {"ord": "fro"}),
    ((3, 4), {"ord": "nuc"}), ((3, 4), {"ord": 1}), ((3, 4), {"ord": -1}),
    ((3, 4), {"ord": np.inf}), ((3, 4), {"ord": 2}), ((3, 4), {"ord": -2}),
    ((2, 3, 4), {"axis": 1}), ((2, 3, 4), {"axis": -1, "keepdims": True}),
    ((2, 3, 4), {"axis": (2, 0), "ord": 1}), ((2, 3, 4), {"axis": (0, 2), "ord": "nuc",
                                                          "keepdims": True}),
    ((2, 3, 4), {"keepdims": True}), ((2, 3, 4), {"axis": (1, 2), "ord": "fro"}),
]


@pytest.mark.parametrize("shape,kwargs", NORM_CASES, ids=[str(c) for c in NORM_CASES])
def test_norm(shape, kwargs):
    x = rand(*shape)
    assert_same(wla.norm(x, **kwargs), np.linalg.norm(x, **kwargs))
    if kwargs.get("ord") != 0:  # ord=0 counts nonzeros: no derivative
        check_grads(lambda v: wla.norm(v, **kwargs), (x,))


def test_norm_dtypes_and_array_api_names():
    x = rand(3, 4, dtype=np.float32)
    assert wla.norm(x).dtype == np.float32
    assert grad(wla.norm)(x).dtype == np.float32
    assert_same(wla.norm(np.arange(4)), np.linalg.norm(np.arange(4)))
    assert_same(wla.vector_norm(x, axis=(0, 1), ord=3),
                np.linalg.vector_norm(x, axis=(0, 1), ord=3))
    assert_same(wla.matrix_norm(x, ord=-2), np.linalg.matrix_norm(x, ord=-2))
    assert_same(wla.vecdot(x, x[0]), np.linalg.vecdot(x, x[0]))
    assert_same(wla.matrix_transpose(x), np.linalg.matrix_transpose(x))
    assert_same(wla.svdvals(x), np.linalg.svdvals(x))


def test_two_norm_at_zero_has_zero_gradient_not_nan():
    zero = np.zeros(3)
    assert_same(grad(wla.norm)(zero), np.zeros(3))
    assert_same(grad(lambda m: wla.norm(m, axis=1)[0])(np.zeros((2, 3))), np.zeros((2, 3)))
    x = rand(3)
    assert_same(grad(wla.norm)(x), x / np.linalg.norm(x))


# ---------------------------------------------------------------------------------------
# Across the package


def test_linalg_is_reachable_and_eager_tensors_work():
    assert wnp.linalg is wla
    a = wg.tensor(well_conditioned(3, 3), requires_grad=True)
    wla.slogdet(a)[1].backward()
    assert_same(np.asarray(a.grad), np.linalg.inv(well_conditioned(3, 3)).T)


def test_every_primitive_here_has_rules():
    prims = [v for m in (_products, wla) for v in vars(m).values() if isinstance(v, Primitive)]
    assert len(prims) >= 10
    missing = [p.name for p in prims if p.differentiable and (p.jvp is None or p.vjps is None)]
    assert not missing


def test_multiple_results_returned_directly():
    # Both outputs come from one node, which the backward pass is seeded at twice.
    a = rand(4, 3)
    check_grads(lambda x: wla.qr(x), (a,), order=1, modes=("rev",))
