"""Row-sparse gradients: RowSparse itself, the gradients of gathers (functional `sparse=True`,
eager `sparse_grad`, `nn.Embedding(sparse=True)`) against dense gradients and finite
differences, accumulation, higher order and transforms (which stay dense), and optimisers
that apply a RowSparse to its rows only (SGD, lazy Adam) against dense steps and a
hand-written lazy Adam."""

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert import nn, optim
from wengert.core.rowsparse import RowSparse
from wengert.testing import check_grads, numerical_grad

RNG = np.random.default_rng(0)
TABLE = RNG.normal(size=(7, 3))


def _dense(g):
    return g.todense() if isinstance(g, RowSparse) else g


# RowSparse -----------------------------------------------------------------------------------

def test_rowsparse_todense_and_coalesce_sum_repeated_rows():
    rows = np.arange(12.0).reshape(4, 3)
    g = RowSparse(np.array([3, 0, 3, 5]), rows, (6, 3))
    expected = np.zeros((6, 3))
    np.add.at(expected, [3, 0, 3, 5], rows)
    np.testing.assert_array_equal(g.todense(), expected)
    c = g.coalesce()
    np.testing.assert_array_equal(c.indices, [0, 3, 5])
    np.testing.assert_array_equal(c.rows, [rows[1], rows[0] + rows[2], rows[3]])
    assert (g.shape, g.dtype, g.ndim) == ((6, 3), np.float64, 2)
    assert g.nbytes == g.indices.nbytes + rows.nbytes


@pytest.mark.parametrize("n_rows", [100_000, 30])  # few repeats (add.at), many (reduceat)
def test_rowsparse_coalesce_many_rows(n_rows):
    rng = np.random.default_rng(n_rows)
    idx = rng.integers(0, n_rows, size=500)
    idx[-1] = idx[0]  # at least one repeat
    rows = rng.normal(size=(500, 4))
    expected = np.zeros((n_rows, 4))
    np.add.at(expected, idx, rows)
    c = RowSparse(idx, rows, (n_rows, 4)).coalesce()
    np.testing.assert_array_equal(c.indices, np.unique(idx))
    np.testing.assert_allclose(c.rows, expected[np.unique(idx)], rtol=1e-12, atol=1e-12)


def test_rowsparse_arithmetic():
    a = RowSparse(np.array([1, 2]), np.ones((2, 2)), (4, 2))
    b = RowSparse(np.array([2]), np.full((1, 2), 3.0), (4, 2))
    total = a + b
    assert isinstance(total, RowSparse)  # stays sparse: rows concatenated
    np.testing.assert_array_equal(total.indices, [1, 2, 2])
    np.testing.assert_array_equal(total.todense(), a.todense() + b.todense())
    dense = np.arange(8.0).reshape(4, 2)
    for result in (a + dense, dense + a):
        assert type(result) is np.ndarray
        np.testing.assert_array_equal(result, dense + a.todense())
    np.testing.assert_array_equal(dense, np.arange(8.0).reshape(4, 2))  # not written into
    np.testing.assert_array_equal((dense - a), dense - a.todense())
    np.testing.assert_array_equal((a - dense), a.todense() - dense)
    np.testing.assert_array_equal((2 * a).todense(), 2 * a.todense())
    np.testing.assert_array_equal((a * 2 / 4).todense(), a.todense() / 2)
    np.testing.assert_array_equal((-a).todense(), -a.todense())
    assert (a.astype(np.float32)).dtype == np.float32


def test_rowsparse_errors():
    with pytest.raises(ValueError, match="rows have shape"):
        RowSparse(np.array([0, 1]), np.ones((3, 2)), (4, 2))
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        RowSparse(np.array([0, 4]), np.ones((2, 2)), (4, 2))
    with pytest.raises(TypeError, match="1-d integer"):
        RowSparse(np.array([0.0]), np.ones((1, 2)), (4, 2))
    a = RowSparse(np.array([0]), np.ones((1, 2)), (4, 2))
    with pytest.raises(TypeError, match="only a scalar"):
        a * np.ones((4, 2))
    with pytest.raises(ValueError, match="shapes"):
        a + np.ones((5, 2))
    with pytest.raises(TypeError, match=r"\.todense\(\)"):
        np.asarray(a)


# Gradients of gathers: sparse against dense -------------------------------------------------

GATHERS = {
    "take": lambda t: wnp.take(t, np.array([4, 1, 4]), axis=0),
    "repeated": lambda t: t[np.array([2, 2, 2, 0])],
    "negative": lambda t: t[np.array([-1, 6, -7, 3])],
    "index-2d": lambda t: t[np.array([[0, 5], [5, 3], [1, 1]])],
    "trailing-slice": lambda t: t[np.array([3, 0]), :],
    "ellipsis": lambda t: t[np.array([6, 2]), ...],
    "list": lambda t: t[[1, 1, 2]],
    "empty": lambda t: t[np.array([], dtype=int)],
}


def _loss(gather):
    def loss(t):
        return wnp.sum(wnp.sin(gather(t)) * wnp.arange(3.0))
    return loss


@pytest.mark.parametrize("name", GATHERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_grad_matches_dense(name, dtype):
    table = TABLE.astype(dtype)
    loss = _loss(GATHERS[name])
    dense = wg.grad(loss)(table)
    sparse = wg.grad(loss, sparse=True)(table)
    assert type(dense) is np.ndarray
    assert isinstance(sparse, RowSparse) and sparse.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(sparse.todense(), dense, rtol=tol, atol=tol)
    assert sparse.todense().dtype == dtype


def test_sparse_grad_matches_finite_differences():
    loss = _loss(GATHERS["repeated"])
    sparse = wg.grad(loss, sparse=True)(TABLE)
    np.testing.assert_allclose(sparse.todense(), numerical_grad(loss, TABLE), rtol=1e-6,
                               atol=1e-8)


@pytest.mark.parametrize("gather", [
    lambda t: t[:, np.array([0, 2])],        # columns, not rows
    lambda t: t[np.array([1, 3]), 1],        # one element per row
    lambda t: t[np.array([True, False] * 3 + [True])],  # a mask
    lambda t: t[2:5],                        # a slice
], ids=["columns", "elements", "mask", "slice"])
def test_other_indexing_stays_dense(gather):
    def loss(t):
        return wnp.sum(gather(t) ** 2)

    sparse = wg.grad(loss, sparse=True)(TABLE)
    assert type(sparse) is np.ndarray
    np.testing.assert_allclose(sparse, wg.grad(loss)(TABLE), rtol=1e-14)


def test_two_gathers_accumulate_sparsely():
    def loss(t):
        return wnp.sum(t[np.array([1, 2])] ** 2) + wnp.sum(wnp.take(t, np.array([2, 5]), axis=0))

    g = wg.grad(loss, sparse=True)(TABLE)
    assert isinstance(g, RowSparse)
    np.testing.assert_array_equal(np.sort(g.indices), [1, 2, 2, 5])
    np.testing.assert_allclose(g.todense(), wg.grad(loss)(TABLE), rtol=1e-14)


def test_gather_mixed_with_dense_use_densifies():
    def loss(t):
        return wnp.sum(t[np.array([1, 1, 4])] ** 3) + wnp.sum(wnp.tanh(t)) + wnp.sum(t[[0]])

    g = wg.grad(loss, sparse=True)(TABLE)
    assert type(g) is np.ndarray
    np.testing.assert_allclose(g, wg.grad(loss)(TABLE), rtol=1e-14)
    np.testing.assert_allclose(g, numerical_grad(loss, TABLE), rtol=1e-6, atol=1e-8)


def test_gather_from_an_intermediate_is_dense():
    loss = _loss(lambda t: (2.0 * t)[np.array([0, 0, 3])])
    g = wg.grad(loss, sparse=True)(TABLE)
    assert type(g) is np.ndarray
    np.testing.assert_allclose(g, wg.grad(loss)(TABLE), rtol=1e-14)


def test_sparse_per_argument_and_value_and_grad_and_vjp():
    idx = np.array([0, 6])

    def loss(t, w):
        return wnp.sum(t[idx] * w)

    w = np.array([1.0, 2.0, 3.0])
    (value, (gt, gw)) = wg.value_and_grad(loss, argnums=(0, 1), sparse=True)(TABLE, w)
    np.testing.assert_allclose(value, loss(TABLE, w))
    assert isinstance(gt, RowSparse) and type(gw) is np.ndarray
    np.testing.assert_allclose(gw, TABLE[idx].sum(0))
    out, pullback = wg.vjp(lambda t: t[idx], TABLE, sparse=True)
    (ct,) = pullback(np.ones((2, 3)))
    assert isinstance(ct, RowSparse)
    np.testing.assert_array_equal(ct.todense()[[0, 6]], np.ones((2, 3)))


def test_dense_by_default():
    assert type(wg.grad(_loss(GATHERS["take"]))(TABLE)) is np.ndarray
    t = wg.tensor(TABLE, requires_grad=True)
    wnp.sum(t[np.array([1, 2])]).backward()
    assert isinstance(t.grad, wg.Tensor)


# Higher order and transforms stay dense and correct -----------------------------------------

def test_higher_order_through_a_sparse_grad():
    idx = np.array([[3, 1], [1, 6]])

    def f(t):
        return wnp.sum(wnp.sin(t[idx]) ** 2)

    def grad_dense(t):
        return _dense(wg.grad(f, sparse=True)(t))

    check_grads(grad_dense, (TABLE,), order=2)
    v = RNG.normal(size=TABLE.shape)
    hvp = wg.jvp(wg.grad(f, sparse=True), (TABLE,), (v,))[1]
    np.testing.assert_allclose(hvp, wg.hvp(f, (TABLE,), (v,))[0], rtol=1e-12)


def test_jit_and_vmap_of_sparse_grad_are_dense():
    loss = _loss(GATHERS["repeated"])
    expected = wg.grad(loss)(TABLE)
    jitted = wg.jit(wg.grad(loss, sparse=True))(TABLE)
    np.testing.assert_allclose(np.asarray(jitted), expected, rtol=1e-12)
    batched = wg.vmap(wg.grad(loss, sparse=True))(np.stack([TABLE, 2 * TABLE]))
    np.testing.assert_allclose(np.asarray(batched)[0], expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(batched)[1], wg.grad(loss)(2 * TABLE), rtol=1e-12)


def test_eager_create_graph_is_dense_and_differentiable():
    t = wg.tensor(TABLE, requires_grad=True)
    t.sparse_grad = True
    idx = np.array([1, 1, 5])
    y = wnp.sum(t[idx] ** 3)
    (g,) = wg.autograd_grad(y, t, create_graph=True)
    assert isinstance(g, wg.Tensor)
    wnp.sum(g).backward()  # a first-order pass over the recorded backward: sparse again
    expected = np.zeros_like(TABLE)
    np.add.at(expected, idx, 6 * TABLE[idx])
    assert isinstance(t.grad, RowSparse)
    np.testing.assert_allclose(t.grad.todense(), expected, rtol=1e-13)


# Embedding, both API styles ------------------------------------------------------------------

class Bag(nn.Module):
    """Mean-pooled bag of embeddings -> linear."""

    def __init__(self, sparse):
        self.emb = nn.Embedding(20, 4, sparse=sparse, rng=1, dtype=np.float64)
        self.out = nn.Linear(4, 2, rng=2, dtype=np.float64)

    def forward(self, idx):
        return self.out(wnp.mean(self.emb(idx), axis=1))


def _bag_loss(model, idx):
    return wnp.sum(model(idx) ** 2)


BAGS = [np.array([[1, 4, 4], [7, 1, 19]]), np.array([[0, 0, 2], [4, 13, 2]]),
        np.array([[5, 6, 7], [19, 18, 1]])]


def test_embedding_functional_sparse():
    sparse_model, dense_model = Bag(True), Bag(False)
    g_sparse = wg.grad(_bag_loss)(sparse_model, BAGS[0])
    g_dense = wg.grad(_bag_loss)(dense_model, BAGS[0])
    assert isinstance(g_sparse.emb.weight, RowSparse)
    assert type(g_dense.emb.weight) is np.ndarray
    np.testing.assert_allclose(g_sparse.emb.weight.todense(), g_dense.emb.weight, rtol=1e-13)
    np.testing.assert_allclose(g_sparse.out.weight, g_dense.out.weight, rtol=1e-13)
    # grad(sparse=True) asks for it without the layer's option.
    g_asked = wg.grad(_bag_loss, sparse=True)(dense_model, BAGS[0])
    np.testing.assert_allclose(g_asked.emb.weight.todense(), g_dense.emb.weight, rtol=1e-13)


def test_embedding_eager_grad_and_accumulation_stay_sparse():
    sparse_model, dense_model = Bag(True), Bag(False)
    assert sparse_model.emb.weight.sparse_grad and not dense_model.emb.weight.sparse_grad
    for idx in BAGS[:2]:  # two backward calls accumulate
        for model in (sparse_model, dense_model):
            _bag_loss(model, idx).backward()
    g = sparse_model.emb.weight.grad
    assert isinstance(g, RowSparse) and g.indices.size == 12
    np.testing.assert_allclose(g.todense(), dense_model.emb.weight.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(sparse_model.out.weight.grad.numpy(),
                               dense_model.out.weight.grad.numpy(), rtol=1e-13)
    # a dense contribution to the same weight densifies the sum
    wnp.sum(sparse_model.emb.weight * 2.0).backward()
    assert isinstance(sparse_model.emb.weight.grad, wg.Tensor)
    np.testing.assert_allclose(sparse_model.emb.weight.grad.numpy(),
                               dense_model.emb.weight.grad.numpy() + 2.0, rtol=1e-13)


def test_eager_zero_grad_autograd_grad_and_hooks():
    model = Bag(True)
    opt = optim.SGD(model.parameters(), lr=0.1)
    _bag_loss(model, BAGS[0]).backward()
    opt.zero_grad(set_to_none=False)
    g = model.emb.weight.grad
    assert isinstance(g, RowSparse) and g.indices.size == 0
    np.testing.assert_array_equal(g.todense(), np.zeros((20, 4)))
    _bag_loss(model, BAGS[1]).backward()
    assert isinstance(model.emb.weight.grad, RowSparse)
    opt.zero_grad()
    assert model.emb.weight.grad is None
    (ga,) = wg.autograd_grad(_bag_loss(model, BAGS[2]), model.emb.weight)
    assert isinstance(ga, RowSparse) and model.emb.weight.grad is None
    seen = []
    model.emb.weight.register_hook(seen.append)  # hooks see a dense Tensor
    _bag_loss(model, BAGS[2]).backward()
    assert isinstance(seen[0], wg.Tensor)
    np.testing.assert_allclose(seen[0].numpy(), ga.todense(), rtol=1e-13)


def test_sparse_grad_flag_errors():
    t = wg.tensor(TABLE, requires_grad=True)
    with pytest.raises(RuntimeError, match="sparse_grad: only a leaf"):
        (t * 2).sparse_grad = True
    with pytest.raises(RuntimeError, match="sparse_grad: only a leaf"):
        wg.tensor(TABLE).sparse_grad = True
    t.sparse_grad = True
    t.sparse_grad = False
    wnp.sum(t[np.array([0])]).backward()
    assert isinstance(t.grad, wg.Tensor)


# Optimisers --------------------------------------------------------------------------------

def _index_batches(n_steps, n_rows=20, size=6, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n_rows - 5, size=size) for _ in range(n_steps)]  # rows 15.. unused


def _table_loss(t, idx):
    return wnp.sum(wnp.sin(t[idx]) * np.arange(1.0, 5.0))


def _eager_steps(opt_cls, kwargs, sparse, batches, table):
    w = nn.Parameter(table.copy())
    w.sparse_grad = sparse
    opt = opt_cls([w], **kwargs)
    for idx in batches:
        opt.zero_grad()
        _table_loss(w, idx).backward()
        assert isinstance(w.grad, RowSparse) == sparse
        opt.step()
    return w.detach().numpy(), opt.state[id(w)]


def _functional_steps(opt_cls, kwargs, sparse, batches, table):
    opt = opt_cls(**kwargs)
    params = {"table": table.copy(), "bias": np.ones(2)}
    state = opt.init(params)
    def loss(p, idx):
        return _table_loss(p["table"], idx) + wnp.sum(p["bias"] ** 2)

    for idx in batches:
        grads = wg.grad(loss, sparse=sparse)(params, idx)
        assert isinstance(grads["table"], RowSparse) == sparse
        params, state = opt.update(grads, state, params)
    return params["table"], state


STYLES = {"eager": _eager_steps, "functional": _functional_steps}
TABLE20 = RNG.normal(size=(20, 4))


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("opt_cls,kwargs", [
    (optim.SGD, dict(lr=0.1)),
    (optim.SGD, dict(lr=0.1, maximize=True)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
], ids=["SGD", "SGD-maximize", "Adagrad"])
def test_exact_sparse_steps_equal_dense_steps(style, opt_cls, kwargs):
    batches = _index_batches(4)
    sparse, _ = STYLES[style](opt_cls, kwargs, True, batches, TABLE20)
    dense, _ = STYLES[style](opt_cls, kwargs, False, batches, TABLE20)
    np.testing.assert_allclose(sparse, dense, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(sparse[15:], TABLE20[15:])


def _lazy_adam_reference(table, batches, lr, betas, eps):
    """Lazy Adam by hand: only the rows of each step's gradient change, with the bias
    correction of the global step count."""
    p, m, v = table.copy(), np.zeros_like(table), np.zeros_like(table)
    for t, idx in enumerate(batches, start=1):
        g = np.zeros_like(table)
        np.add.at(g, idx, np.cos(p[idx]) * np.arange(1.0, 5.0))
        rows = np.unique(idx)
        m[rows] = betas[0] * m[rows] + (1 - betas[0]) * g[rows]
        v[rows] = betas[1] * v[rows] + (1 - betas[1]) * g[rows] ** 2
        m_hat, v_hat = m[rows] / (1 - betas[0] ** t), v[rows] / (1 - betas[1] ** t)
        p[rows] -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return p, m, v


@pytest.mark.parametrize("style", STYLES)
def test_lazy_adam_matches_reference_and_leaves_other_rows(style):
    batches = _index_batches(5)
    kwargs = dict(lr=0.05, betas=(0.8, 0.9), eps=1e-7)
    table, state = STYLES[style](optim.Adam, dict(kwargs, lazy=True), True, batches, TABLE20)
    p, m, v = _lazy_adam_reference(TABLE20, batches, **kwargs)
    exp_avg = state["exp_avg"]["table"] if style == "functional" else state["exp_avg"]
    exp_avg_sq = state["exp_avg_sq"]["table"] if style == "functional" else state["exp_avg_sq"]
    np.testing.assert_allclose(table, p, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(exp_avg, m, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(exp_avg_sq, v, rtol=1e-12, atol=1e-14)
    untouched = np.setdiff1d(np.arange(20), np.concatenate(batches))
    assert untouched.size >= 5
    np.testing.assert_array_equal(table[untouched], TABLE20[untouched])
    np.testing.assert_array_equal(exp_avg[untouched], 0.0)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("opt_cls,kwargs", [
    (optim.Adam, dict(lr=0.05)),
    (optim.Adam, dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    (optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
], ids=["Adam", "Adam-amsgrad-wd", "AdamW", "SGD-momentum"])
def test_lazy_steps_equal_dense_steps_on_rows_touched_every_step(style, opt_cls, kwargs):
    """Rows that every step touches evolve as under the dense optimiser; the rest stay."""
    fixed = np.array([2, 9, 2, 11])
    batches = [fixed] * 4
    sparse, _ = STYLES[style](opt_cls, dict(kwargs, lazy=True), True, batches, TABLE20)
    dense, _ = STYLES[style](opt_cls, kwargs, False, batches, TABLE20)
    rows = np.unique(fixed)
    np.testing.assert_allclose(sparse[rows], dense[rows], rtol=1e-12, atol=1e-14)
    others = np.setdiff1d(np.arange(20), rows)
    np.testing.assert_array_equal(sparse[others], TABLE20[others])


def test_lazy_adam_matches_torch_sparse_adam():
    torch = pytest.importorskip("torch")
    batches = _index_batches(5)
    table, _ = _eager_steps(optim.Adam, dict(lr=0.05, eps=1e-12, lazy=True), True, batches,
                            TABLE20)
    weight = torch.nn.Parameter(torch.tensor(TABLE20))
    opt = torch.optim.SparseAdam([weight], lr=0.05, eps=1e-12)
    for idx in batches:
        opt.zero_grad()
        emb = torch.nn.functional.embedding(torch.tensor(idx), weight, sparse=True)
        (torch.sin(emb) * torch.arange(1.0, 5.0, dtype=torch.float64)).sum().backward()
        opt.step()
    np.testing.assert_allclose(table, weight.detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("opt_cls,kwargs,fix", [
    (optim.Adam, dict(lr=0.1), "lazy=True"),
    (optim.SGD, dict(lr=0.1, momentum=0.9), "lazy=True"),
    (optim.SGD, dict(lr=0.1, weight_decay=0.1), "lazy=True"),
    (optim.RMSprop, dict(lr=0.1), r"\.todense\(\)"),
    (optim.Adagrad, dict(lr=0.1, weight_decay=0.1), r"\.todense\(\)"),
])
def test_optimisers_that_need_dense_gradients_raise(opt_cls, kwargs, fix):
    name = opt_cls.__name__
    b = nn.Parameter(np.ones(2))
    w = nn.Parameter(TABLE20.copy())
    w.sparse_grad = True
    opt = opt_cls([b, w], **kwargs)
    (_table_loss(w, np.array([1, 2])) + wnp.sum(b)).backward()
    pattern = rf"{name}\.step: the gradient of param_groups\[0\]\['params'\]\[1\] is row-sparse"
    with pytest.raises(TypeError, match=pattern) as info:
        opt.step()
    assert info.match(fix)
    assert opt.state[id(w)]["step"] == 0  # the failed step is not counted
    grads = {"w": wg.grad(lambda t: _table_loss(t, np.array([1])), sparse=True)(TABLE20)}
    with pytest.raises(TypeError, match=rf"{name}\.update: leaf 0 of grads is row-sparse"):
        opt_cls(**kwargs).update(grads, opt_cls(**kwargs).init({"w": TABLE20}), {"w": TABLE20})


def test_sparse_step_shape_mismatch_raises():
    g = RowSparse(np.array([0]), np.ones((1, 4)), (21, 4))
    opt = optim.SGD(lr=0.1)
    with pytest.raises(ValueError, match="RowSparse of shape"):
        opt.update([g], opt.init([TABLE20]), [TABLE20])


def test_eager_sparse_step_writes_in_place_only_into_its_own_arrays():
    user = TABLE20.copy()
    w = nn.Parameter(np.zeros((20, 4)))
    w.data = user  # the parameter now shares the caller's array
    w.sparse_grad = True
    opt = optim.SGD([w], lr=0.1)
    y_before = wnp.sum(w * w)  # recorded before the step: needs w's old value
    for _ in range(2):
        opt.zero_grad()
        _table_loss(w, np.array([0, 3])).backward()
        opt.step()
    np.testing.assert_array_equal(user, TABLE20)  # the caller's array was not written into
    assert not np.array_equal(w.detach().numpy()[[0, 3]], TABLE20[[0, 3]])
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y_before.backward()


def test_clip_grad_norm_with_sparse_gradient():
    w_sparse, w_dense = nn.Parameter(TABLE20.copy()), nn.Parameter(TABLE20.copy())
    w_sparse.sparse_grad = True
    idx = np.array([4, 4, 8])
    for w in (w_sparse, w_dense):
        (3 * _table_loss(w, idx)).backward()
    n_sparse = optim.clip_grad_norm_([w_sparse], 0.5)
    n_dense = optim.clip_grad_norm_([w_dense], 0.5)
    np.testing.assert_allclose(float(n_sparse), float(n_dense), rtol=1e-13)
    assert isinstance(w_sparse.grad, RowSparse)
    np.testing.assert_allclose(w_sparse.grad.todense(), w_dense.grad.numpy(), rtol=1e-13)


@pytest.mark.parametrize("opt", [optim.SGD(lr=0.1), optim.Adam(lr=0.1, lazy=True)],
                         ids=["sgd", "lazy_adam"])
def test_functional_update_of_a_module_with_a_sparse_gradient(opt):
    model = nn.Embedding(50, 4, sparse=True, rng=0)
    indices = np.array([1, 3, 3])
    grads = wg.grad(lambda m: wnp.sum(m(indices) ** 2))(model)
    assert isinstance(grads.weight, RowSparse)
    new_model, _ = opt.update(grads, opt.init(model), model)
    moved = np.abs(np.asarray(new_model.weight) - model.weight.primal).sum(axis=1)
    np.testing.assert_array_equal(np.flatnonzero(moved), [1, 3])
