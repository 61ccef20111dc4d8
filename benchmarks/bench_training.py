"""Time per training step (forward, backward and an Adam update) of three networks, wengert
eager and functional side by side with PyTorch eager on the same architecture and weights:

- the digits CNN of `wengert train digits` (two 3x3 convolutions, max pooling, two linear
  layers), batch 64 of 1x8x8 images;
- the MLP 784-1024-1024-10 of bench_mlp.py, batch 256;
- the character transformer of `wengert train charlm` (2 blocks, width 128, 4 heads),
  batch 32 of 64 characters, vocabulary 96.

wengert eager: Parameters, `loss.backward()`, `optim.Adam(model.parameters()).step()`;
functional: `wg.value_and_grad(loss)(params, x, y)` and `params, state = opt.update(...)`.
PyTorch builds the same network from torch.nn (`scaled_dot_product_attention` for the
attention) and loads wengert's initial weights; the losses of the first steps are checked
equal before timing. Ratios are to PyTorch eager (or to wengert eager without PyTorch).

    python benchmarks/bench_training.py --threads 1
    python benchmarks/bench_training.py --threads 1 --append --label "training steps"
"""

import datetime
import shlex
import sys
import time
from pathlib import Path

import numpy as np

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
from wengert.nn import functional as F
from wengert.optim import Adam
from wengert.train import charlm, digits
from wengert.train.common import as_arrays

try:  # load scikit-learn's OpenMP pool now, so that --threads limits it too
    import sklearn.datasets  # noqa: F401
except ImportError:
    pass

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
LR = 1e-3
MLP_SIZES = (784, 1024, 1024, 10)
CHAR = dict(vocab=96, context=64, batch=32, embed_dim=128, num_heads=4, num_layers=2)


# The problems: a wengert model, a batch, and the loss ---------------------------------------

def classification_loss(model, x, y):
    return F.cross_entropy(model(x), y)


def mlp_model(seed=0):
    from wengert import nn

    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        layers += [nn.Linear(n_in, n_out, rng=rng), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def problems():
    """(name, wengert model, (x, y), loss function) for each network."""
    rng = np.random.default_rng(0)
    (x_digits, y_digits), _ = digits.load_data()
    ids = rng.integers(0, CHAR["vocab"], 10_000)
    x_char, y_char = charlm.random_windows(ids, CHAR["batch"], CHAR["context"], rng)
    return [
        ("digits CNN, batch 64", digits.make_model("cnn", 0),
         (x_digits[:64], y_digits[:64]), classification_loss),
        ("MLP 784-1024-1024-10, batch 256", mlp_model(0),
         (rng.standard_normal((256, 784)).astype(np.float32), rng.integers(0, 10, 256)),
         classification_loss),
        ("char transformer, batch 32x64", charlm.CharTransformer(
            CHAR["vocab"], CHAR["context"], CHAR["embed_dim"], CHAR["num_heads"],
            CHAR["num_layers"], rng=0), (x_char, y_char), charlm.lm_loss),
    ]


# wengert ------------------------------------------------------------------------------------

def wengert_eager_step(model, batch, loss_fn):
    """One eager step on the Parameters of `model` (updated in place); returns the loss."""
    opt = Adam(model.parameters(), lr=LR)

    def step():
        opt.zero_grad()
        loss = loss_fn(model, *batch)
        loss.backward()
        opt.step()
        return float(loss)

    return step


def wengert_functional_step(model, batch, loss_fn, compile=False):  # noqa: A002
    """One functional step on a copy of `model`'s parameters as plain arrays; with
    `compile`, the loss and gradient run as one jitted graph (the update stays eager)."""
    opt = Adam(lr=LR)
    value_and_grad = wg.value_and_grad(loss_fn)
    if compile:
        value_and_grad = wg.jit(value_and_grad)
    carry = {"params": as_arrays(model)}
    carry["state"] = opt.init(carry["params"])

    def step():
        loss, grads = value_and_grad(carry["params"], *batch)
        carry["params"], carry["state"] = opt.update(grads, carry["state"], carry["params"])
        return float(loss)

    return step


# PyTorch ------------------------------------------------------------------------------------

def torch_model(name, model):
    """The PyTorch network with the same architecture as the wengert `model`, and its
    initial weights."""
    torch = common.peer("torch")
    tnn = torch.nn
    if name.startswith("digits"):
        net = tnn.Sequential(
            tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.Conv2d(32, 64, 3, padding=1),
            tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(1024, 128), tnn.ReLU(),
            tnn.Linear(128, 10))
    elif name.startswith("MLP"):
        net = tnn.Sequential(
            tnn.Linear(784, 1024), tnn.ReLU(), tnn.Linear(1024, 1024), tnn.ReLU(),
            tnn.Linear(1024, 10))
    else:
        net = _torch_char_transformer(torch)
    state = {k.removeprefix("layers."): torch.from_numpy(np.array(v))
             for k, v in model.state_dict().items()}
    net.load_state_dict(state)
    return net


def _torch_char_transformer(torch):
    tnn, tf = torch.nn, torch.nn.functional
    d, heads = CHAR["embed_dim"], CHAR["num_heads"]

    class Attention(tnn.Module):
        def __init__(self):
            super().__init__()
            self.in_proj = tnn.Linear(d, 3 * d)
            self.out_proj = tnn.Linear(d, d)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = (z.view(b, t, heads, d // heads).transpose(1, 2)
                       for z in self.in_proj(x).split(d, dim=2))
            out = tf.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.out_proj(out.transpose(1, 2).reshape(b, t, d))

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.attn, self.ln2 = tnn.LayerNorm(d), Attention(), tnn.LayerNorm(d)
            self.fc1, self.fc2 = tnn.Linear(d, 4 * d), tnn.Linear(4 * d, d)

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.fc2(tf.gelu(self.fc1(self.ln2(x))))

    class CharTransformer(tnn.Module):
        def __init__(self):
            super().__init__()
            self.tok_emb = tnn.Embedding(CHAR["vocab"], d)
            self.pos_emb = tnn.Embedding(CHAR["context"], d)
            self.blocks = tnn.ModuleList(Block() for _ in range(CHAR["num_layers"]))
            self.ln, self.head = tnn.LayerNorm(d), tnn.Linear(d, CHAR["vocab"])

        def forward(self, ids):
            x = self.tok_emb(ids) + self.pos_emb(torch.arange(ids.shape[1]))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln(x))

    return CharTransformer()


def torch_step(name, model, batch):
    torch = common.peer("torch")
    net = torch_model(name, model)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    x, y = (torch.from_numpy(np.asarray(a)) for a in batch)

    def step():
        opt.zero_grad()
        logits = net(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    return step


# Running ------------------------------------------------------------------------------------

def implementations(name, model, batch, loss_fn):
    """(label, step) pairs, each step on its own copy of the initial weights."""
    fresh = as_arrays(model)  # the initial weights, before any eager step changes them
    impls = [("wengert eager", wengert_eager_step(model, batch, loss_fn)),
             ("wengert functional", wengert_functional_step(fresh, batch, loss_fn)),
             ("wengert jit", wengert_functional_step(fresh, batch, loss_fn, compile=True))]
    if common.peer("torch") is not None:
        impls.append(("PyTorch eager", torch_step(name, fresh, batch)))
    return impls


def check(name, impls, steps=3):
    """The first `steps` losses of every implementation agree (same weights, same Adam)."""
    losses = {label: [step() for _ in range(steps)] for label, step in impls}
    reference = losses[impls[0][0]]
    for label, values in losses.items():
        np.testing.assert_allclose(values, reference, rtol=2e-4, err_msg=f"{name}: {label}")


def run():
    rows = []
    for name, model, batch, loss_fn in problems():
        impls = implementations(name, model, batch, loss_fn)
        check(name, impls)
        times = common.measure_all(dict(impls))
        base = times.get("PyTorch eager", times["wengert eager"])
        rows.append([name] + [f"{common.fmt_time(times[label])} ({common.fmt_ratio(t / base)})"
                              for label, t in times.items()])
    header = ["network"] + [label for label, _ in impls]
    notes = [
        "One training step: forward, backward, Adam update (lr 1e-3), float32; median of "
        "repeats; in parentheses the ratio to PyTorch eager. The first three losses of every "
        "implementation are checked equal (same initial weights) before timing.",
        "Digits CNN: conv 3x3 1->32, relu, conv 3x3 32->64, relu, maxpool 2, linear "
        "1024->128, relu, linear 128->10. Char transformer: token and position embeddings, 2 "
        "pre-LayerNorm blocks (width 128, 4 heads, causal, GELU MLP 512), LayerNorm, linear "
        "head over 96 characters; PyTorch uses scaled_dot_product_attention.",
        "Targets (issue 4): eager within 1.5x of PyTorch eager; jit at or below it. 'wengert "
        "jit' compiles the loss and gradient (wg.jit(wg.value_and_grad(loss))); the Adam "
        "update runs eagerly.",
        "BLAS: " + "; ".join(common.blas_info()),
    ]
    if common.peer("torch") is None:
        notes.append("Skipped (not installed): torch; ratios are to wengert eager")
    return common.Report("Training step: wengert eager and functional vs PyTorch eager",
                         header, rows, notes)


def _options(parser):
    parser.add_argument("--append", action="store_true",
                        help=f"append a dated section to {RESULTS.name}")
    parser.add_argument("--label", default="training steps",
                        help="a few words on what this run measures")
    parser.add_argument("--results", type=Path, default=RESULTS, help="file to append to")


def main(argv=None):
    args = common.parse_args(__doc__, argv, extra=_options)
    start = time.perf_counter()
    report = run()
    seconds = time.perf_counter() - start
    report.print()
    print("\n" + "\n".join(common.machine_info()))
    if args.append:
        command = shlex.join(["python", "benchmarks/bench_training.py", *sys.argv[1:]])
        lines = [f"## {datetime.date.today().isoformat()}: {args.label}", ""]
        lines += [f"- {line}" for line in common.machine_info()]
        lines += [f"- Command: `{command}` ({seconds:.0f} s)", "",
                  f"### {report.title}", "", report.markdown(), ""]
        with open(args.results, "a", encoding="utf-8") as out:
            out.write("\n" + "\n".join(lines))
        print(f"\nAppended to {args.results}")


if __name__ == "__main__":
    main()
