"""MixtureOfExperts: the sparse dispatch against a dense reference (every expert on every
token), finite differences, hand-computed auxiliary losses, the absence of backward work for
experts without tokens, the capacity-based dispatch under jit and vmap, and bad arguments."""

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert import nn, optim
from wengert.core import tree_flatten
from wengert.nn import MixtureOfExperts, backward_matmul_work, moe_dense_reference
from wengert.testing import check_grads


def _moe(dim=6, hidden=8, experts=4, k=2, seed=0, dtype=np.float64, **kwargs):
    return MixtureOfExperts(dim, hidden, experts, k, rng=seed, dtype=dtype, **kwargs)


def _tokens(shape, seed=1, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _leaves(tree):
    return [np.asarray(wg.tensor(v).primal if isinstance(v, wg.Tensor) else v)
            for v in tree_flatten(tree)[0]]


def _loss(model, x):
    """A loss that reaches every output, the gates and both auxiliary terms."""
    y, aux = model(x, return_aux=True)
    return wnp.sum(wnp.sin(y)) + 0.1 * aux.balance_loss + 0.01 * aux.z_loss


def _dense_loss(model, x):
    y, aux = moe_dense_reference(model, x, return_aux=True)
    return wnp.sum(wnp.sin(y)) + 0.1 * aux.balance_loss + 0.01 * aux.z_loss


def _set_router(model, weight):
    model.router.weight = nn.Parameter(np.asarray(weight, model.router.weight.dtype))


def _router_margin(model, x):
    """Smallest gap between the k-th and (k+1)-th logit: routing is stable under a step of
    finite differences when this is not tiny."""
    logits = np.sort(np.asarray(model.router(x.reshape(-1, model.dim)).primal), axis=1)[:, ::-1]
    return np.min(logits[:, model.k - 1] - logits[:, model.k]) if model.k < model.num_experts \
        else np.inf


@pytest.mark.parametrize("k", [1, 2])
def test_output_matches_dense_reference(k):
    model = _moe(k=k)
    x = _tokens((3, 5, 6))
    y = model(x)
    assert np.shape(y) == x.shape
    np.testing.assert_allclose(np.asarray(y.primal), np.asarray(
        moe_dense_reference(model, x).primal), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2])
def test_gradients_match_dense_reference(k):
    model = _moe(k=k, experts=5)
    x = _tokens((7, 6))
    grads = wg.grad(_loss, argnums=(0, 1))(model, x)
    dense = wg.grad(_dense_loss, argnums=(0, 1))(model, x)
    for g, d in zip(_leaves(grads), _leaves(dense)):
        np.testing.assert_allclose(g, d, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2])
def test_check_grads_second_order_with_fixed_routing(k):
    model = _moe(dim=3, hidden=4, experts=3, k=k, seed=2)
    x = _tokens((4, 3), seed=3)
    assert _router_margin(model, x) > 1e-3  # no near-ties: finite differences keep the routing
    routing = model.route(x)

    def loss(m, x):
        y, aux = m(x, routing=routing, return_aux=True)
        return wnp.sum(wnp.tanh(y)) + aux.balance_loss

    check_grads(loss, (model, x), order=2)


def test_check_grads_with_routing_recomputed():
    model = _moe(dim=3, hidden=4, experts=4, k=2, seed=4)
    x = _tokens((3, 3), seed=5)
    assert _router_margin(model, x) > 1e-3
    check_grads(lambda m, x: wnp.sum(m(x) ** 2), (model, x), order=1)


def test_balance_and_z_loss_hand_computed():
    # Router = c * identity on one-hot tokens: token j goes to expert j (k=1). Three tokens
    # pick expert 0 and one picks expert 1, so f = (3/4, 1/4, 0, 0).
    c, e_count = 2.0, 4
    model = _moe(dim=4, experts=e_count, k=1)
    _set_router(model, c * np.eye(4))
    x = np.eye(4)[[0, 0, 0, 1]]
    _, aux = model(x, return_aux=True)
    np.testing.assert_array_equal(aux.expert_counts, [3, 1, 0, 0])
    hit, miss = np.exp(c) / (np.exp(c) + 3), 1 / (np.exp(c) + 3)
    mean_prob = np.array([3 * hit + miss, hit + 3 * miss, 4 * miss, 4 * miss]) / 4
    expected = e_count * np.dot([0.75, 0.25, 0, 0], mean_prob)
    np.testing.assert_allclose(float(aux.balance_loss.primal), expected, rtol=1e-13)
    np.testing.assert_allclose(float(aux.z_loss.primal), np.log(np.exp(c) + 3) ** 2,
                               rtol=1e-13)
    # Perfectly balanced routing with uniform probabilities gives exactly 1.
    _set_router(model, np.zeros((4, 4)))
    _, aux = model(np.eye(4), routing=np.arange(4)[:, None], return_aux=True)
    np.testing.assert_allclose(float(aux.balance_loss.primal), 1.0, rtol=1e-14)


def _routed_to(active, experts, dim=4, hidden=8, k=2, seed=0):
    """A model whose router sends positive tokens only to the experts in `active`."""
    model = _moe(dim=dim, hidden=hidden, experts=experts, k=k, seed=seed)
    rng = np.random.default_rng(seed + 10)
    weight = -np.ones((experts, dim))
    weight[list(active)] = rng.uniform(0.5, 1.5, size=(len(active), dim))
    _set_router(model, weight)
    return model


def test_experts_without_tokens_get_zero_gradients():
    model = _routed_to(active=(1, 5), experts=8)
    x = np.random.default_rng(0).uniform(0.5, 1.5, size=(10, 4))
    assert set(model.route(x).ravel()) == {1, 5}
    grads = wg.grad(_loss)(model, x)
    for e, expert in enumerate(grads.experts):
        leaves = _leaves(expert)
        if e in (1, 5):
            assert all(np.any(leaf != 0) for leaf in leaves)
        else:
            assert all(np.all(leaf == 0) for leaf in leaves)
    # Eagerly, experts outside the graph are never reached: their .grad stays None.
    _loss(model, wg.tensor(x)).backward()
    for e, expert in enumerate(model.experts):
        for p in expert.parameters():
            assert (p.grad is not None) == (e in (1, 5))


def test_backward_work_follows_active_experts_not_experts():
    x = np.random.default_rng(0).uniform(0.5, 1.5, size=(16, 4))

    def work(active, experts):
        # Token t goes to the t-th and (t+1)-th active experts, cyclically.
        slots = np.arange(16)[:, None] + np.arange(2)
        routing = np.asarray(active)[slots % len(active)]
        model = _moe(dim=4, hidden=8, experts=experts, k=2)

        def loss(m):
            return wnp.sum(m(x, routing=routing) ** 2)

        return backward_matmul_work(loss, model)

    two_of_8, two_of_32, four_of_32 = work((0, 3), 8), work((0, 3), 32), work((2, 7, 9, 30), 32)
    # One weight-gradient matmul for the router, three per expert with tokens (two weight
    # gradients and the cotangent between its layers); nothing for the others.
    assert two_of_8[0] == two_of_32[0] == 1 + 3 * 2 and four_of_32[0] == 1 + 3 * 4
    # Every token visits k = 2 experts however they are spread, so the expert FLOPs are equal;
    # only the router's (E, 16) x (16, 4) weight gradient grows with E.
    expert_flops = {two_of_8[1] - 2 * 8 * 16 * 4, two_of_32[1] - 2 * 32 * 16 * 4,
                    four_of_32[1] - 2 * 32 * 16 * 4}
    assert expert_flops == {16 * 2 * 3 * (2 * 4 * 8)}


def test_single_expert_and_single_token():
    model = _moe(experts=1, k=1)
    x = _tokens((3, 6))
    np.testing.assert_allclose(np.asarray(model(x).primal),
                               np.asarray(model.experts[0](x).primal), rtol=1e-14)
    _, aux = model(x, return_aux=True)
    np.testing.assert_allclose(float(aux.balance_loss.primal), 1.0)
    model = _moe(k=2)
    for x in (_tokens((1, 6)), _tokens((6,))):
        y = model(x)
        assert np.shape(y) == x.shape
        np.testing.assert_allclose(np.asarray(y.primal),
                                   np.asarray(moe_dense_reference(model, x).primal), rtol=1e-12)


def test_empty_batch_gives_an_empty_output_and_zero_gradients():
    model = _moe()
    x = np.zeros((0, 6))
    assert model(x).shape == (0, 6)
    grads = wg.grad(lambda m: wnp.sum(m(x)))(model)
    assert all(not np.any(leaf) for leaf in _leaves(grads))


def test_float32_preserved():
    model = _moe(dtype=np.float32)
    x = _tokens((5, 6), dtype=np.float32)
    y, aux = model(x, return_aux=True)
    assert y.dtype == aux.balance_loss.dtype == aux.z_loss.dtype == np.float32
    grads = wg.grad(_loss, argnums=(0, 1))(model, x)
    assert all(leaf.dtype == np.float32 for leaf in _leaves(grads))


def test_eager_and_functional_styles_agree():
    model = _moe(experts=6)
    x = _tokens((9, 6))
    g_model, g_x = wg.grad(_loss, argnums=(0, 1))(model, x)
    xt = wg.tensor(x, requires_grad=True)
    _loss(model, xt).backward()
    np.testing.assert_allclose(xt.grad, g_x, rtol=1e-12)
    for (_, p), g in zip(model.named_parameters(), tree_flatten(g_model)[0]):
        np.testing.assert_allclose(p.grad if p.grad is not None else 0 * g, g, rtol=1e-12)


def _capacity_reference(model, x):
    """Per token, the gated sum over its assignments that fit in their expert's capacity
    (assignments counted in token order), computed with NumPy from the parts."""
    tokens = x.reshape(-1, model.dim)
    n, k = tokens.shape[0], model.k
    routing = model.route(tokens)
    logits = np.take_along_axis(np.asarray(model.router(tokens).primal), routing, axis=1)
    gates = np.exp(logits - logits.max(1, keepdims=True))
    gates /= gates.sum(1, keepdims=True)
    used = np.zeros(model.num_experts, int)
    y = np.zeros_like(tokens)
    for t in range(n):
        for j in range(k):
            e = routing[t, j]
            if used[e] < model.capacity(n):
                y[t] += gates[t, j] * np.asarray(model.experts[e](tokens[t:t + 1]).primal)[0]
            used[e] += 1
    return y.reshape(x.shape)


def test_capacity_drops_overflow_in_token_order():
    model = _moe(experts=4, k=2, capacity_factor=0.5)
    x = _tokens((12, 6))
    assert model.capacity(12) == 3 and max(np.bincount(model.route(x).ravel())) > 3
    np.testing.assert_allclose(np.asarray(model(x).primal), _capacity_reference(model, x),
                               rtol=1e-12, atol=1e-14)
    roomy = _moe(experts=4, k=2, capacity_factor=2.0)
    np.testing.assert_allclose(np.asarray(roomy(x).primal),
                               np.asarray(moe_dense_reference(roomy, x).primal), rtol=1e-12)


def test_jit_and_vmap_use_the_capacity_dispatch():
    model = _moe(experts=4, k=2, capacity_factor=0.75)
    x = _tokens((3, 8, 6))
    np.testing.assert_allclose(wg.jit(lambda m, x: m(x))(model, x), model(x).primal,
                               rtol=1e-12, atol=1e-14)
    g_jit = wg.jit(wg.grad(_loss, argnums=(0, 1)))(model, x)
    g_eager = wg.grad(_loss, argnums=(0, 1))(model, x)
    for a, b in zip(_leaves(g_jit), _leaves(g_eager)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    batched = wg.vmap(lambda m, xi: m(xi), in_axes=(None, 0))(model, x)
    np.testing.assert_allclose(batched, np.stack([model(xi).primal for xi in x]), rtol=1e-12,
                               atol=1e-14)


def test_traced_routing_without_capacity_is_a_clear_error():
    model = _moe()
    x = _tokens((4, 6))
    for transform in (wg.jit, lambda f: wg.vmap(f, in_axes=(None, 0))):
        with pytest.raises(ValueError, match="MixtureOfExperts.forward.*capacity_factor"):
            transform(lambda m, x: m(x))(model, x)
    # A concrete routing closed over needs no capacity: the sparse dispatch is staged.
    routing = model.route(x)
    np.testing.assert_allclose(wg.jit(lambda m, x: m(x, routing=routing))(model, x),
                               model(x).primal, rtol=1e-12)


def test_ties_go_to_the_lower_expert():
    model = _moe(dim=2, experts=4, k=2)
    _set_router(model, np.zeros((4, 2)))
    np.testing.assert_array_equal(model.route(np.ones((3, 2))), [[0, 1]] * 3)


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 5}, "k=5 must be an integer with 1 <= k <= num_experts"),
    ({"k": 0}, "k=0"),
    ({"experts": 0, "k": 1}, "num_experts=0"),
    ({"activation": "swish"}, "activation='swish'"),
    ({"capacity_factor": 0}, "capacity_factor=0"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match="MixtureOfExperts: " + match):
        _moe(**kwargs)


def test_bad_forward_arguments():
    model = _moe()
    with pytest.raises(ValueError, match=r"MixtureOfExperts.forward: x has shape \(4, 5\).*"
                                         r"dim=6"):
        model(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"routing must be a concrete int array of shape"):
        model(np.ones((4, 6)), routing=np.zeros((4, 1), int))
    with pytest.raises(ValueError, match=r"expert indices outside \[0, 4\)"):
        model(np.ones((4, 6)), routing=np.full((4, 2), 4))


def _train_digits(balance_weight, steps=150):
    """A MoE classifier (4 experts, k=2, then a linear head) trained eagerly with Adam on
    scikit-learn's digits; returns held-out accuracy and the test-set expert loads."""
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x, labels = (digits.data / 16.0).astype(np.float32), digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(labels))
    train, test = order[:1400], order[1400:]
    moe, head = _moe(dim=64, hidden=32, experts=4, k=2, dtype=np.float32), nn.Linear(64, 10,
                                                                                        rng=1)
    params = moe.parameters() + head.parameters()
    opt = optim.Adam(params, lr=1e-2)
    for _ in range(steps):
        batch = train[rng.integers(0, len(train), 256)]
        h, aux = moe(x[batch], return_aux=True)
        loss = nn.cross_entropy(head(h), labels[batch]) + balance_weight * aux.balance_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    with wg.no_grad():
        h, aux = moe(x[test], return_aux=True)
        accuracy = np.mean(np.argmax(head(h).primal, axis=1) == labels[test])
    return accuracy, aux.expert_counts / aux.expert_counts.sum()


def test_digits_classifier_learns_with_balanced_experts():
    accuracy, load = _train_digits(balance_weight=0.05)
    assert accuracy > 0.93
    assert load.min() > 0.15 and load.max() < 0.35  # 0.25 each would be perfect balance
    _, load_unbalanced = _train_digits(balance_weight=0.0)
    assert load_unbalanced.max() - load_unbalanced.min() > 2 * (load.max() - load.min())
