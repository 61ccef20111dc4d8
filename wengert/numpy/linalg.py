"""`wengert.numpy.linalg`: differentiable linear algebra, batched over leading axes as in
NumPy.

The factorisations (inv, solve, det, slogdet, cholesky, eigh, qr, svd, pinv) are
primitives whose rules are the standard matrix-calculus results (Giles 2008, "An extended
collection of matrix derivative results"; Murray 2016 for the Cholesky factor), written
with differentiable operations so that they nest to any order. Everything else (norm,
matrix_power, multi_dot, ...) is composed from them.

The derivatives of cholesky, eigh, qr and svd are for real input. eigh and cholesky read
one triangle of a symmetric matrix, so their derivatives take the symmetric part of the
input perturbation: differentiate them at symmetric matrices (e.g. `(a + a.T) / 2`).
"""

from collections import namedtuple

import numpy as np
from numpy.linalg import LinAlgError

from ..core import DifferentiationError, Primitive, def_jvp, def_jvp_multi, def_vjp, raw_value
from ._constructors import astype
from ._elementwise import abs, conj, real, sqrt, where
from ._products import diagonal, matmul, tensordot, tril
from ._reductions import max, min, sum
from ._shape import expand_dims, moveaxis, reshape, swapaxes

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
QRResult = namedtuple("QRResult", ["Q", "R"])
SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


# ---------------------------------------------------------------------------------------
# Helpers on stacks of matrices (the last two axes)


def _shape(x):
    return np.shape(raw_value(x))


def _dtype(x):
    return np.result_type(raw_value(x))


def _mT(x):
    return swapaxes(x, -1, -2)


def _sym(x):
    return (x + _mT(x)) / 2


def _diag_part(x):
    return diagonal(x, axis1=-2, axis2=-1)


def _diag_matrix(d):
    """A stack of diagonal matrices with `d` (..., n) on their diagonals."""
    n = _shape(d)[-1]
    return expand_dims(d, -1) * np.eye(n, dtype=_dtype(d))


def _trace(x):
    return sum(_diag_part(x), axis=-1)


def _solve_right(b, a):
    """b @ inv(a), as a solve."""
    return _mT(_solve(_mT(a), _mT(b)))


def _inverse_gaps(w):
    """F[..., i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it (the diagonal is masked
    before dividing, so no inf or NaN reaches any derivative)."""
    n = _shape(w)[-1]
    gaps = expand_dims(w, -2) - expand_dims(w, -1)
    on_diagonal = np.eye(n, dtype=bool)
    return where(on_diagonal, 0, 1 / where(on_diagonal, 1, gaps))


def _check_square(name, a):
    s = _shape(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise LinAlgError(f"{name}: expected a square matrix (or a stack of them) in the last "
                          f"two axes, got shape {s}")


def _check_real(name, x):
    if np.iscomplexobj(raw_value(x)):
        raise DifferentiationError(f"{name}: derivatives are implemented for real input only; "
                                   "differentiate the real and imaginary parts separately")


# ---------------------------------------------------------------------------------------
# inv, solve, det, slogdet

inv_p = Primitive("inv", np.linalg.inv)


def inv(a):
    """Differentiable `numpy.linalg.inv`."""
    _check_square("inv", a)
    return inv_p.bind(a)


def_jvp(inv_p, lambda t, ans, a: -matmul(ans, matmul(t, ans)))
def_vjp(inv_p, lambda g, ans, a: -matmul(_mT(ans), matmul(g, _mT(ans))))

# The primitive always sees a stack of matrices b (..., M, K); `solve` adds the vector case.
solve_p = Primitive("solve", np.linalg.solve)


def _solve(a, b):
    return solve_p.bind(a, b)


def solve(a, b):
    """Differentiable `numpy.linalg.solve`: `b` is a vector only when it is 1-D (NumPy 2),
    otherwise a (stack of) matrices; batch axes broadcast. Both arguments are
    differentiable."""
    _check_square("solve", a)
    if np.ndim(raw_value(b)) == 1:
        return _solve(a, expand_dims(b, -1))[..., 0]
    return _solve(a, b)


def _solve_vjp_a(g, ans, a, b):
    return -matmul(_solve(_mT(a), g), _mT(ans))


def_jvp(
    solve_p,
    lambda t, ans, a, b: -_solve(a, matmul(t, ans)),
    lambda t, ans, a, b: _solve(a, t),
)
def_vjp(solve_p, _solve_vjp_a, lambda g, ans, a, b: _solve(_mT(a), g))

det_p = Primitive("det", np.linalg.det)


def det(a):
    """Differentiable `numpy.linalg.det` (the derivative needs a nonsingular matrix)."""
    _check_square("det", a)
    return det_p.bind(a)


def_jvp(det_p, lambda t, ans, a: ans * _trace(_solve(a, t)))
def_vjp(det_p, lambda g, ans, a: expand_dims(g * ans, (-1, -2)) * _mT(inv(a)))

slogdet_p = Primitive("slogdet", lambda a: tuple(np.linalg.slogdet(a)), multiple_results=True)


def slogdet(a):
    """Differentiable `numpy.linalg.slogdet`: returns (sign, logabsdet); the derivative is
    that of logabsdet (the sign is piecewise constant for real input)."""
    _check_square("slogdet", a)
    return SlogdetResult(*slogdet_p.bind(a))


def _slogdet_jvp(tangents, ans, a):
    (t,) = tangents
    if t is None:
        return None, None
    dlogdet = _trace(_solve(a, t))
    return None, real(dlogdet) if np.iscomplexobj(raw_value(a)) else dlogdet


def_jvp_multi(slogdet_p, _slogdet_jvp)
def_vjp(slogdet_p, lambda g, ans, a: expand_dims(g[1], (-1, -2)) * _mT(inv(a)))


# ---------------------------------------------------------------------------------------
# Cholesky (Murray 2016): with phi(X) the lower triangle of X with its diagonal halved,
#   dL = L phi(L^-1 dA L^-T),    A_bar = sym(L^-T phi(L^T L_bar) L^-1).

cholesky_p = Primitive("cholesky", np.linalg.cholesky)


def cholesky(a, /, *, upper=False):
    """Differentiable `numpy.linalg.cholesky`: lower-triangular L with a = L L^T (upper:
    its transpose). Real input; the derivative is taken along symmetric perturbations."""
    _check_square("cholesky", a)
    lower = cholesky_p.bind(a)
    if not upper:
        return lower
    return conj(_mT(lower)) if np.iscomplexobj(raw_value(lower)) else _mT(lower)


def _phi(x):
    n = _shape(x)[-1]
    dtype = _dtype(x)
    return x * (np.tri(n, dtype=dtype) - np.eye(n, dtype=dtype) / 2)


def _cholesky_jvp(t, ans, a):
    _check_real("cholesky", a)
    lower_inv_t = _solve(ans, _sym(t))
    return matmul(ans, _phi(_solve_right(lower_inv_t, _mT(ans))))


def _cholesky_vjp(g, ans, a):
    _check_real("cholesky", a)
    p = _phi(matmul(_mT(ans), g))
    return _sym(_solve_right(_solve(_mT(ans), p), ans))


def_jvp(cholesky_p, _cholesky_jvp)
def_vjp(cholesky_p, _cholesky_vjp)


# ---------------------------------------------------------------------------------------
# Symmetric eigendecomposition: with F = _inverse_gaps(w) and dA symmetric,
#   dw = diag(V^T dA V),   dV = V (F * (V^T dA V)),
#   A_bar = sym(V (diag(w_bar) + F * (V^T V_bar)) V^T).

eigh_p = Primitive("eigh", lambda a, UPLO: tuple(np.linalg.eigh(a, UPLO=UPLO)),
                   multiple_results=True)


def eigh(a, UPLO="L"):
    """Differentiable `numpy.linalg.eigh`: eigenvalues (ascending) and eigenvectors of a
    real symmetric matrix. Both are differentiable while the eigenvalues are distinct; the
    derivative is taken along symmetric perturbations."""
    _check_square("eigh", a)
    return EighResult(*eigh_p.bind(a, UPLO=UPLO))


def _eigh_jvp(tangents, ans, a, UPLO):
    (t,) = tangents
    if t is None:
        return None, None
    _check_real("eigh", a)
    w, v = ans
    rotated = matmul(_mT(v), matmul(_sym(t), v))
    return _diag_part(rotated), matmul(v, _inverse_gaps(w) * rotated)


def _eigh_vjp(g, ans, a, UPLO):
    _check_real("eigh", a)
    (w, v), (w_bar, v_bar) = ans, g
    inner = _diag_matrix(w_bar) + _inverse_gaps(w) * matmul(_mT(v), v_bar)
    return _sym(matmul(v, matmul(inner, _mT(v))))


def_jvp_multi(eigh_p, _eigh_jvp)
def_vjp(eigh_p, _eigh_vjp)


def eigvalsh(a, UPLO="L"):
    """Differentiable `numpy.linalg.eigvalsh` (ascending eigenvalues of a real symmetric
    matrix)."""
    return eigh(a, UPLO)[0]


# ---------------------------------------------------------------------------------------
# QR, reduced, for m >= n and full rank. Forward rule as in JAX; reverse rule
#   A_bar = (Q_bar + Q copyltu(M)) R^-T,  M = R R_bar^T - Q_bar^T Q,
# where copyltu mirrors the lower triangle onto the upper (Liao et al. 2019).

qr_p = Primitive("qr", lambda a, mode: tuple(np.linalg.qr(a, mode=mode)), multiple_results=True)


def qr(a, mode="reduced"):
    """Differentiable `numpy.linalg.qr` for mode 'reduced' (Q, R) and 'r' (R only);
    'complete' is differentiable when the matrix is not tall. The derivative needs m >= n
    (at least as many rows as columns) and full rank."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode {mode!r} is not supported; use 'reduced', 'complete' or "
                         "'r'")
    if mode == "r":
        return qr_p.bind(a, mode="reduced")[1]
    return QRResult(*qr_p.bind(a, mode=mode))


def _check_qr_differentiable(a, mode):
    _check_real("qr", a)
    m, n = _shape(a)[-2:]
    if m < n or (mode == "complete" and m != n):
        raise DifferentiationError(
            f"qr: the derivative needs at least as many rows as columns and mode 'reduced', "
            f"got shape {_shape(a)} and mode {mode!r}; differentiate qr of the transpose "
            "instead (an LQ factorisation)"
        )


def _qr_jvp(tangents, ans, a, mode):
    (t,) = tangents
    if t is None:
        return None, None
    _check_qr_differentiable(a, mode)
    q, r = ans
    t_rinv = _solve_right(t, r)
    qt_t_rinv = matmul(_mT(q), t_rinv)
    lower = tril(qt_t_rinv, -1)
    skew = lower - _mT(lower)
    return matmul(q, skew - qt_t_rinv) + t_rinv, matmul(qt_t_rinv - skew, r)


def _qr_vjp(g, ans, a, mode):
    _check_qr_differentiable(a, mode)
    (q, r), (q_bar, r_bar) = ans, g
    m = matmul(r, _mT(r_bar)) - matmul(_mT(q_bar), q)
    copyltu = tril(m) + _mT(tril(m, -1))
    return _solve_right(q_bar + matmul(q, copyltu), _mT(r))


def_jvp_multi(qr_p, _qr_jvp)
def_vjp(qr_p, _qr_vjp)


# ---------------------------------------------------------------------------------------
# SVD, A = U diag(s) Vh with k = min(m, n) singular values, distinct and nonzero for the
# derivative. With F = _inverse_gaps(s**2) and dS = U^T dA V (Townsend 2016, as in JAX):
#   ds = diag(dS),  dU = U (F * (dS S + S dS^T)) + (I - U U^T) dA V S^-1,
#                   dV = V (F * (S dS + dS^T S)) + (I - V V^T) dA^T U S^-1.

svd_p = Primitive(
    "svd",
    lambda a, full_matrices, hermitian: tuple(
        np.linalg.svd(a, full_matrices=full_matrices, hermitian=hermitian)
    ),
    multiple_results=True,
)


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Differentiable `numpy.linalg.svd`: (U, S, Vh), or S alone with `compute_uv=False`.
    Differentiable for real input with distinct nonzero singular values, with
    `full_matrices=False` (or a square matrix: the extra columns of a full U or Vh are not
    determined by the matrix)."""
    if not compute_uv:
        return svd_p.bind(a, full_matrices=False, hermitian=hermitian)[1]
    return SVDResult(*svd_p.bind(a, full_matrices=full_matrices, hermitian=hermitian))


def _check_svd_differentiable(a, full_matrices):
    _check_real("svd", a)
    m, n = _shape(a)[-2:]
    if full_matrices and m != n:
        raise DifferentiationError(
            f"svd: cannot differentiate full_matrices=True for a non-square matrix of shape "
            f"{_shape(a)} (the extra singular vectors are arbitrary); pass "
            "full_matrices=False"
        )


def _svd_jvp(tangents, ans, a, full_matrices, hermitian):
    (t,) = tangents
    if t is None:
        return None, None, None
    _check_svd_differentiable(a, full_matrices)
    u, s, vh = ans
    v = _mT(vh)
    s_row, s_col = expand_dims(s, -2), expand_dims(s, -1)
    f = _inverse_gaps(s * s)
    ds_mat = matmul(_mT(u), matmul(t, v))
    ds_s, s_ds = ds_mat * s_row, s_col * ds_mat
    u_dot = matmul(u, f * (ds_s + _mT(ds_s)))
    v_dot = matmul(v, f * (s_ds + _mT(s_ds)))
    m, n = _shape(a)[-2:]
    if m > n:
        t_v = matmul(t, v)
        u_dot = u_dot + (t_v - matmul(u, matmul(_mT(u), t_v))) / s_row
    if n > m:
        tt_u = matmul(_mT(t), u)
        v_dot = v_dot + (tt_u - matmul(v, matmul(vh, tt_u))) / s_row
    return u_dot, _diag_part(ds_mat), _mT(v_dot)


def _svd_vjp(g, ans, a, full_matrices, hermitian):
    _check_svd_differentiable(a, full_matrices)
    (u, s, vh), (u_bar, s_bar, vh_bar) = ans, g
    s_row, s_col = expand_dims(s, -2), expand_dims(s, -1)
    f = _inverse_gaps(s * s)
    ut_u_bar = matmul(_mT(u), u_bar)
    vt_v_bar = matmul(vh, _mT(vh_bar))
    inner = (_diag_matrix(s_bar) + (f * (ut_u_bar - _mT(ut_u_bar))) * s_row
             + s_col * (f * (vt_v_bar - _mT(vt_v_bar))))
    a_bar = matmul(u, matmul(inner, vh))
    m, n = _shape(a)[-2:]
    if m > n:
        a_bar = a_bar + matmul((u_bar - matmul(u, ut_u_bar)) / s_row, vh)
    if n > m:
        a_bar = a_bar + matmul(u / s_row, vh_bar - matmul(_mT(vt_v_bar), vh))
    return a_bar


def_jvp_multi(svd_p, _svd_jvp)
def_vjp(svd_p, _svd_vjp)


def svdvals(x, /):
    """Differentiable `numpy.linalg.svdvals`: the singular values, descending."""
    return svd(x, compute_uv=False)


# ---------------------------------------------------------------------------------------
# Pseudo-inverse (Golub & Pereyra 1973), differentiable where the rank is constant: with
# P = pinv(A),
#   dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P.

pinv_p = Primitive("pinv", lambda a, **options: np.linalg.pinv(a, **options))


def pinv(a, rcond=None, hermitian=False, *, rtol=None):
    """Differentiable `numpy.linalg.pinv`; the derivative holds where the rank (after the
    cut-off) does not change."""
    options = {"hermitian": hermitian}
    if rcond is not None:
        options["rcond"] = rcond
    if rtol is not None:
        options["rtol"] = rtol
    return pinv_p.bind(a, **options)


def _pinv_jvp(t, ans, a, **options):
    _check_real("pinv", a)
    p, tt = ans, _mT(t)
    p_pt = matmul(p, _mT(p))
    pt_p = matmul(_mT(p), p)
    return (-matmul(p, matmul(t, p))
            + matmul(p_pt, tt - matmul(tt, matmul(a, p)))
            + matmul(tt - matmul(p, matmul(a, tt)), pt_p))


def _pinv_vjp(g, ans, a, **options):
    _check_real("pinv", a)
    p, gt = ans, _mT(g)
    p_pt = matmul(p, _mT(p))
    pt_p = matmul(_mT(p), p)
    return (-matmul(_mT(p), matmul(g, _mT(p)))
            + matmul(gt - matmul(a, matmul(p, gt)), p_pt)
            + matmul(pt_p, gt - matmul(gt, matmul(p, a))))


def_jvp(pinv_p, _pinv_jvp)
def_vjp(pinv_p, _pinv_vjp)


# ---------------------------------------------------------------------------------------
# Compositions


def matrix_power(a, n):
    """Differentiable `numpy.linalg.matrix_power` by repeated squaring (negative `n` inverts
    first)."""
    _check_square("matrix_power", a)
    if not isinstance(n, (int, np.integer)):
        raise TypeError(f"matrix_power: exponent must be an integer, got {type(n).__name__}")
    if n == 0:
        return np.broadcast_to(np.eye(_shape(a)[-1], dtype=_dtype(a)), _shape(a)).copy()
    if n < 0:
        a, n = inv(a), -n
    result, square = None, a
    while n:
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
        if n:
            square = matmul(square, square)
    return result


def _chain_order(dims):
    """Split points of the cheapest parenthesisation of a matrix chain whose i-th matrix is
    dims[i] x dims[i + 1] (the classic dynamic programme, as in NumPy)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = float("inf")
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(arrays, *, out=None):
    """Differentiable `numpy.linalg.multi_dot`: a chain of matrix products in the cheapest
    order; the first and last arrays may be 1-D."""
    if out is not None:
        raise TypeError("multi_dot: out= is not supported (values are immutable); use the "
                        "returned array")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("multi_dot: expecting at least two arrays")
    first_1d, last_1d = np.ndim(raw_value(arrays[0])) == 1, np.ndim(raw_value(arrays[-1])) == 1
    if first_1d:
        arrays[0] = reshape(arrays[0], (1, -1))
    if last_1d:
        arrays[-1] = reshape(arrays[-1], (-1, 1))
    dims = [_shape(arrays[0])[0]] + [_shape(x)[1] for x in arrays]
    split = _chain_order(dims)

    def product(i, j):
        if i == j:
            return arrays[i]
        k = split[i][j]
        return matmul(product(i, k), product(k + 1, j))

    result = product(0, len(arrays) - 1)
    if first_1d or last_1d:
        s = _shape(result)
        result = reshape(result, s[first_1d:len(s) - last_1d])
    return result


def _as_inexact(x):
    """Integers and booleans are normed in float64, as in NumPy."""
    return astype(x, np.float64) if _dtype(x).kind in "biu" else x


def _two_norm(x, axis, keepdims):
    """sqrt(sum |x|^2), with a zero (not NaN) derivative at x = 0."""
    squares = real(x * conj(x)) if np.iscomplexobj(raw_value(x)) else x * x
    total = sum(squares, axis=axis, keepdims=keepdims)
    zero = total == 0
    return where(zero, 0, sqrt(where(zero, 1, total)))


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """Differentiable `numpy.linalg.vector_norm` (all elements form one vector when `axis` is
    None)."""
    x = _as_inexact(x)
    nd = np.ndim(raw_value(x))
    axes = tuple(range(nd)) if axis is None else axis
    if ord is None or ord == 2:
        return _two_norm(x, axes, keepdims)
    magnitude = abs(x)
    if ord == np.inf:
        return max(magnitude, axis=axes, keepdims=keepdims)
    if ord == -np.inf:
        return min(magnitude, axis=axes, keepdims=keepdims)
    if ord == 0:
        return sum(astype(x != 0, magnitude.dtype), axis=axes, keepdims=keepdims)
    if ord == 1:
        return sum(magnitude, axis=axes, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"vector_norm: invalid norm order {ord!r} for vectors")
    return sum(magnitude ** ord, axis=axes, keepdims=keepdims) ** (1.0 / ord)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """Differentiable `numpy.linalg.matrix_norm` over the last two axes."""
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def _singular_value_norm(x, ord, axis, keepdims):
    """Matrix norms 2, -2 and 'nuc' from the singular values over axes `axis`."""
    nd = np.ndim(raw_value(x))
    rows, cols = axis[0] % nd, axis[1] % nd
    s = svd(moveaxis(x, (rows, cols), (-2, -1)), compute_uv=False)
    if ord == "nuc":
        out = sum(s, axis=-1)
    else:
        out = (max if ord == 2 else min)(s, axis=-1)
    if keepdims:
        out = expand_dims(out, tuple(sorted((rows, cols))))
    return out


def norm(x, ord=None, axis=None, keepdims=False):
    """Differentiable `numpy.linalg.norm`: vector norms (None/2, 1, inf, -inf, 0, any p)
    along an int `axis` or of a 1-D array, and matrix norms (None/'fro', 'nuc', 1, -1, 2,
    -2, inf, -inf) over a pair of axes or of a 2-D array. The 2-norm has a zero derivative
    (not NaN) at zero."""
    x = _as_inexact(x)
    nd = np.ndim(raw_value(x))
    if axis is None:
        if ord is None or (ord == "fro" and nd == 2) or (ord == 2 and nd == 1):
            out = _two_norm(reshape(x, (-1,)), 0, False)
            return reshape(out, (1,) * nd) if keepdims else out
        if nd not in (1, 2):
            raise ValueError(f"norm: improper number of dimensions to norm ({nd}); give axis")
        axis = tuple(range(nd))
    elif isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    axis = tuple(axis)
    if len(axis) == 1:
        return vector_norm(x, axis=axis[0], keepdims=keepdims, ord=2 if ord is None else ord)
    if len(axis) != 2:
        raise ValueError(f"norm: axis must name 1 or 2 axes, got {axis}")
    rows, cols = axis[0] % nd, axis[1] % nd
    if rows == cols:
        raise ValueError("norm: duplicate axes given")
    if ord is None or ord == "fro":
        return _two_norm(x, (rows, cols), keepdims)
    if ord in (2, -2, "nuc"):
        return _singular_value_norm(x, ord, (rows, cols), keepdims)
    if ord in (1, -1):  # largest (smallest) column sum
        sums, over = sum(abs(x), axis=rows, keepdims=True), cols
    elif ord in (np.inf, -np.inf):  # largest (smallest) row sum
        sums, over = sum(abs(x), axis=cols, keepdims=True), rows
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    out = (max if ord in (1, np.inf) else min)(sums, axis=over, keepdims=True)
    return out if keepdims else reshape(out, tuple(
        d for i, d in enumerate(_shape(out)) if i not in (rows, cols)))


def matrix_transpose(x, /):
    """Differentiable `numpy.linalg.matrix_transpose`: swap the last two axes."""
    return _mT(x)


def vecdot(x1, x2, /, *, axis=-1):
    """Differentiable `numpy.linalg.vecdot`: sum(conj(x1) * x2) along `axis`, broadcast."""
    if np.iscomplexobj(raw_value(x1)):
        x1 = conj(x1)
    return sum(x1 * x2, axis=axis)


def outer(x1, x2, /):
    """Differentiable `numpy.linalg.outer` of two 1-D arrays."""
    if np.ndim(raw_value(x1)) != 1 or np.ndim(raw_value(x2)) != 1:
        raise ValueError("outer: numpy.linalg.outer takes 1-D arrays; use "
                         "wengert.numpy.outer to flatten other shapes")
    return expand_dims(x1, -1) * x2


__all__ = [
    "EighResult", "LinAlgError", "QRResult", "SVDResult", "SlogdetResult", "cholesky",
    "det", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm", "matrix_power",
    "matrix_transpose", "multi_dot", "norm", "outer", "pinv", "qr", "slogdet", "solve",
    "svd", "svdvals", "tensordot", "vecdot", "vector_norm",
]
