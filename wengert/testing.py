"""Gradient checking: `check_grads` compares forward- and reverse-mode derivatives, to any
order, with central finite differences; `numerical_grad` is the finite-difference
gradient itself."""

import numpy as np

from .core import raw_value, tree_flatten, tree_unflatten
from .transforms.api import jvp, vjp


def _inner(a, b):
    """The real pairing Re(sum(a * b)) under which a VJP is the transpose of a JVP."""
    return float(np.real(np.sum(np.asarray(a) * np.asarray(b))))


def _random_like(x, rng):
    x = np.asarray(raw_value(x))
    v = rng.standard_normal(x.shape)
    if x.dtype.kind == "c":
        v = v + 1j * rng.standard_normal(x.shape)
    return v.astype(x.dtype)


def _scale(x, s):
    return x * s


def _flat_args(args):
    flat, tree = tree_flatten(tuple(args))
    return [np.asarray(raw_value(a)) for a in flat], tree


def _call_flat(f, tree, flat):
    out_flat, _ = tree_flatten(f(*tree_unflatten(tree, flat)))
    return [np.asarray(raw_value(o)) for o in out_flat]


def _numerical_jvp(f, tree, flat, tangents, eps):
    """Central difference along the tangent; float32 inputs are evaluated in float64 so
    that the reference is accurate."""
    wide = [a.astype(np.complex128 if a.dtype.kind == "c" else np.float64) for a in flat]
    plus = [a + eps * t for a, t in zip(wide, tangents)]
    minus = [a - eps * t for a, t in zip(wide, tangents)]
    f_plus = _call_flat(f, tree, plus)
    f_minus = _call_flat(f, tree, minus)
    return [(p - m) / (2 * eps) for p, m in zip(f_plus, f_minus)]


class GradientCheckError(AssertionError):
    pass


def _compare(what, ad, numeric, rtol, atol):
    ad = np.asarray(ad)
    numeric = np.asarray(numeric)
    if ad.shape != numeric.shape:
        raise GradientCheckError(f"{what}: shape {ad.shape} differs from expected {numeric.shape}")
    err = np.abs(ad - numeric)
    bound = atol + rtol * np.abs(numeric)
    if err.size and not np.all(err <= bound):
        i = np.unravel_index(np.argmax(err - bound), err.shape)
        raise GradientCheckError(
            f"{what}: derivatives disagree with finite differences. Worst element at index "
            f"{tuple(int(k) for k in i)}: AD {ad[i]!r}, finite differences {numeric[i]!r}, "
            f"abs. error {err[i]:.3g} (allowed {bound[i]:.3g})."
        )


def _tolerances(flat, rtol, atol):
    low = any(a.dtype in (np.float32, np.complex64) for a in flat)
    default = 2e-3 if low else 1e-6
    return (default if rtol is None else rtol), (default if atol is None else atol)


def check_grads(f, args, order=2, modes=("fwd", "rev"), eps=1e-6, rtol=None, atol=None,
                seed=0):
    """Check the derivatives of `f` at `args` (a tuple of pytrees of arrays) against central
    finite differences, in forward mode (JVPs) and reverse mode (VJPs, checked through
    <u, J v> = <J^T u, v>), recursively up to `order`. Raises GradientCheckError naming the
    worst element when they disagree.

    >>> check_grads(wnp.sin, (np.array([0.5, 1.0]),), order=2)
    """
    args = tuple(args)
    rng = np.random.default_rng(seed)
    flat, tree = _flat_args(args)
    rtol, atol = _tolerances(flat, rtol, atol)
    tangents = [_random_like(a, rng) for a in flat]
    numeric = _numerical_jvp(f, tree, flat, tangents, eps)
    t_tree = tree_unflatten(tree, tangents)

    if "fwd" in modes:
        _, ad_tangent = jvp(f, args, t_tree)
        ad_flat = [np.asarray(raw_value(t)) for t in tree_flatten(ad_tangent)[0]]
        for k, (a, n) in enumerate(zip(ad_flat, numeric)):
            _compare(f"check_grads(fwd, order {order}) output {k}", a, n, rtol, atol)

    if "rev" in modes:
        out, pullback = vjp(f, *args)
        out_flat, out_tree = tree_flatten(out)
        cotangents = [_random_like(o, rng) for o in out_flat]
        ct_in = tree_flatten(pullback(tree_unflatten(out_tree, cotangents)))[0]
        lhs = sum(_inner(c, t) for c, t in zip(ct_in, tangents))
        rhs = sum(_inner(u, n) for u, n in zip(cotangents, numeric))
        _compare(f"check_grads(rev, order {order}) <J^T u, v> vs <u, J v>", lhs, rhs,
                 rtol * 10, atol * 10 * max(1.0, abs(rhs)))

    if order > 1:
        if "fwd" in modes:
            def f_jvp(*xs):
                # The finite differences evaluate this in float64: follow the primals' dtype.
                x_flat, x_tree = tree_flatten(xs)
                ts = [t.astype(raw_value(x).dtype) for t, x in zip(tangents, x_flat)]
                return jvp(f, xs, tree_unflatten(x_tree, ts))[1]

            check_grads(f_jvp, args, order - 1, ("fwd",) if "rev" not in modes else modes,
                        eps, rtol, atol, seed + 1)
        if "rev" in modes:
            out = f(*args)
            out_flat, out_tree = tree_flatten(out)
            ct_rng = np.random.default_rng(seed + 2)
            ct = tree_unflatten(out_tree, [_random_like(o, ct_rng) for o in out_flat])

            def f_vjp(*xs):
                return vjp(f, *xs)[1](ct)

            check_grads(f_vjp, args, order - 1, modes, eps, rtol, atol, seed + 3)


def numerical_grad(f, x, eps=1e-6):
    """Central-difference gradient of scalar `f` at array `x` (evaluated in float64)."""
    x = np.asarray(raw_value(x), dtype=np.float64)
    g = np.zeros_like(x)
    flat = g.reshape(-1)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.reshape(-1)[i] = eps
        flat[i] = (float(raw_value(f(x + e))) - float(raw_value(f(x - e)))) / (2 * eps)
    return g
