"""`wengert train charlm`: a small character-level transformer language model.

The model: token and position embeddings, a few causal pre-LayerNorm `TransformerBlock`s, a
final LayerNorm and a linear head over the characters of the text. It is trained functionally
with AdamW (linear warmup, then cosine decay) and gradient clipping, on random windows of
`context` characters, predicting each next character.

By default the text is Python's own standard library (the first `DEFAULT_CHARS` characters
of its top-level modules, in name order), so the command runs on any installation; `--text
PATH` takes any UTF-8 file. The last 10% of the text is the validation split. The losses are
in nats per character and are compared with the unigram entropy of the text (the loss of the
best model that ignores the context).
"""

import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import wengert as wg

from .. import nn
from .. import numpy as wnp
from ..nn import functional as F
from ..nn.attention import TransformerBlock
from ..optim import AdamW, clip_by_global_norm
from ..optim.schedules import warmup_cosine
from ..scipy.special import softmax
from .common import (
    CHECKPOINT,
    PER_BATCH_STYLE,
    History,
    Progress,
    TrainingError,
    as_arrays,
    count_parameters,
    format_rate,
    format_seconds,
    load_checkpoint,
    report_files,
    save_checkpoint,
    save_outputs,
)

DEFAULT_CHARS = 1_000_000
VALIDATION_FRACTION = 0.1
EVAL_WINDOWS = 64


def stdlib_text(max_chars=DEFAULT_CHARS):
    """The source of the standard library's top-level modules, in name order, concatenated up
    to `max_chars` characters: a text that every Python installation has."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts, size = [], 0
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(text)
        size += len(text)
        if size >= max_chars:
            break
    if not parts:
        raise TrainingError(
            f"wengert train charlm: no .py files in the standard library directory {root}; "
            "pass a text file with --text PATH."
        )
    return "".join(parts)[:max_chars]


def load_text(path=None):
    """(text, description): the UTF-8 file at `path`, or the standard library's source."""
    if path is None:
        text = stdlib_text()
        return text, f"the Python standard library's source ({len(text):,} characters)"
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrainingError(f"wengert train charlm: --text {path}: no such file.") from None
    except UnicodeDecodeError as e:
        raise TrainingError(
            f"wengert train charlm: --text {path} is not UTF-8 text ({e.reason} at byte "
            f"{e.start}); convert it to UTF-8 first."
        ) from None
    return text, f"{path} ({len(text):,} characters)"


def unigram_entropy(ids, vocab_size):
    """The entropy, in nats, of the character frequencies of `ids`."""
    p = np.bincount(ids, minlength=vocab_size) / len(ids)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


class CharTransformer(nn.Module):
    """A causal character-level transformer: embeddings of the characters and of their
    positions, `num_layers` TransformerBlocks, a LayerNorm and a linear head. Maps integer
    ids of shape (batch, T), T <= context, to next-character logits (batch, T, vocab)."""

    def __init__(self, vocab_size, context, embed_dim=128, num_heads=4, num_layers=2, *,
                 rng=None):
        rng = np.random.default_rng(rng)
        self.context = context
        self.tok_emb = nn.Embedding(vocab_size, embed_dim, rng=rng)
        self.pos_emb = nn.Embedding(context, embed_dim, rng=rng)
        self.blocks = [TransformerBlock(embed_dim, num_heads, causal=True, rng=rng)
                       for _ in range(num_layers)]
        self.ln = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, vocab_size, rng=rng)

    def forward(self, ids):
        x = self.tok_emb(ids) + self.pos_emb(np.arange(np.shape(ids)[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def lm_loss(params, x, y):
    """Mean next-character cross-entropy (nats/char) of `params` on windows `x` -> `y`."""
    logits = params(x)
    vocab = np.shape(logits)[-1]
    return F.cross_entropy(wnp.reshape(logits, (-1, vocab)), y.reshape(-1))


def random_windows(ids, batch, context, rng):
    """`batch` random windows of `context` ids and the same windows shifted by one."""
    starts = rng.integers(0, len(ids) - context, size=batch)
    index = starts[:, None] + np.arange(context)
    return ids[index], ids[index + 1]


def evaluate(params, ids, context, windows=EVAL_WINDOWS):
    """Mean loss over `windows` evenly spaced windows of `ids` (the same ones every time)."""
    starts = np.linspace(0, len(ids) - context - 1, windows).astype(np.int64)
    index = starts[:, None] + np.arange(context)
    return float(lm_loss(params, ids[index], ids[index + 1]))


def generate(params, prompt_ids, length, rng, temperature=0.8):
    """`length` ids sampled one at a time after `prompt_ids`, each from the model's
    next-character distribution (divided by `temperature`) given the last `context` ids."""
    ids = list(prompt_ids)
    for _ in range(length):
        window = np.asarray(ids[-params.context:])[None]
        logits = np.asarray(params(window))[0, -1].astype(np.float64)
        p = np.asarray(softmax(logits / temperature))
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return ids[len(prompt_ids):]


@dataclass
class Result:
    """What a run ends with; losses in nats per character."""

    steps: int
    train_loss: float
    val_loss: float
    unigram_entropy: float
    seconds: float
    chars_per_second: float
    n_parameters: int
    sample: str
    history: History
    out: Path = None
    files: dict = field(default_factory=dict)


def train(text=None, steps=1000, context=64, batch_size=32, lr=3e-3, seed=0, out=None,
          resume=False, sample_len=300, *, embed_dim=128, num_heads=4, num_layers=2,
          prompt="\n", eval_every=None, until_step=None, use_tqdm=None, log=print):
    """Train a `CharTransformer` on `text` (a path to a UTF-8 file; default: the standard
    library's source) for `steps` steps of `batch_size` windows of `context` characters, and
    return a `Result` with a generated sample of `sample_len` characters after `prompt`.

    Evaluates the validation loss every `eval_every` steps (default: 20 times a run). With
    `out` (a directory) a checkpoint is written at each evaluation, and at the end the model
    (`model.npz`) and the loss curves (`curves.png`, with matplotlib); `resume=True`
    continues from the checkpoint there, drawing the same batches as an uninterrupted run.
    `until_step` stops early without changing the schedule."""
    out = None if out is None else Path(out)
    checkpoint = None if out is None else out / CHECKPOINT
    if resume and (checkpoint is None or not checkpoint.exists()):
        raise TrainingError(
            f"wengert train charlm: --resume given but there is no checkpoint {checkpoint}; "
            "train without --resume first (or pass the --out of that run)."
        )
    if embed_dim % num_heads:
        raise TrainingError(
            f"wengert train charlm: --embed-dim {embed_dim} is not divisible by --heads "
            f"{num_heads}; choose a number of heads that divides the width."
        )
    raw, description = load_text(text)
    vocab = "".join(sorted(set(raw)))
    if len(raw) < 20 * (context + 1):
        raise TrainingError(
            f"wengert train charlm: the text has {len(raw)} characters, too few for windows "
            f"of --context {context}; use a longer text (at least {20 * (context + 1)}) or a "
            "smaller --context."
        )
    lookup = {c: i for i, c in enumerate(vocab)}
    ids = np.fromiter((lookup[c] for c in raw), dtype=np.int64, count=len(raw))
    n_val = int(VALIDATION_FRACTION * len(ids))
    train_ids, val_ids = ids[:-n_val], ids[-n_val:]
    entropy = unigram_entropy(ids, len(vocab))
    eval_every = eval_every or max(1, steps // 20)

    params = as_arrays(CharTransformer(len(vocab), context, embed_dim, num_heads, num_layers,
                                       rng=seed))
    warmup = min(100, steps // 10)
    opt = AdamW(lr=warmup_cosine(lr, warmup, steps, eta_min=lr / 10), weight_decay=0.01)
    opt_state = opt.init(params)
    history = History()
    config = {"task": "charlm", "text": text or "stdlib", "vocab": vocab, "steps": steps,
              "context": context, "batch_size": batch_size, "lr": lr, "seed": seed,
              "embed_dim": embed_dim, "num_heads": num_heads, "num_layers": num_layers}
    if resume:
        params, opt_state, _, history = load_checkpoint(checkpoint, params, opt_state,
                                                        config=config)
        log(f"Resuming from {checkpoint} after step {opt_state['step']}.")
    elif checkpoint is not None and checkpoint.exists():
        log(f"Starting afresh: {checkpoint} will be overwritten (--resume continues it).")

    n_params = count_parameters(params)
    chars_per_step = batch_size * context
    log(f"charlm: {description}, {len(vocab)} distinct characters; {len(train_ids):,} for "
        f"training, {len(val_ids):,} for validation")
    log(f"model: {num_layers} transformer blocks, width {embed_dim}, {num_heads} heads, "
        f"context {context} ({n_params:,} parameters); AdamW lr {lr:g} (warmup, cosine), "
        f"batch {batch_size}, {steps} steps, seed {seed}")
    log(f"unigram entropy of the text: {entropy:.3f} nats/char")
    value_and_grad = wg.value_and_grad(lm_loss)
    last_step = steps if until_step is None else min(until_step, steps)
    start_time = time.perf_counter() - (history.last("elapsed") if history["elapsed"] else 0.0)
    with Progress(steps * chars_per_step, "charlm", unit="char", use_tqdm=use_tqdm,
                  initial=opt_state["step"] * chars_per_step) as bar:
        window_losses = []
        while opt_state["step"] < last_step:
            step = opt_state["step"]
            rng = np.random.default_rng([seed, step])
            loss, grads = value_and_grad(params, *random_windows(train_ids, batch_size,
                                                                 context, rng))
            grads = clip_by_global_norm(grads, 1.0)
            params, opt_state = opt.update(grads, opt_state, params)
            loss = float(loss)
            window_losses.append(loss)
            history.add(step=step + 1, loss=loss)
            bar.update(chars_per_step, loss=loss)
            if (step + 1) % eval_every == 0 or step + 1 == last_step:
                val_loss = evaluate(params, val_ids, context)
                history.add(eval_step=step + 1, train_loss=np.mean(window_losses),
                            val_loss=val_loss, elapsed=time.perf_counter() - start_time)
                window_losses = []
                bar.update(0, val=val_loss)
                if checkpoint is not None:
                    save_checkpoint(checkpoint, params, opt_state, config=config,
                                    counters={"step": opt_state["step"]}, history=history)

    prompt_ids = [lookup.get(c, 0) for c in prompt] or [0]
    sample_ids = generate(params, prompt_ids, sample_len, np.random.default_rng(seed))
    seconds = history.last("elapsed") if history["elapsed"] else 0.0
    done = opt_state["step"]
    result = Result(
        steps=done,
        train_loss=history.last("train_loss") if history["train_loss"] else float("nan"),
        val_loss=evaluate(params, val_ids, context), unigram_entropy=entropy,
        seconds=seconds, chars_per_second=done * chars_per_step / max(seconds, 1e-9),
        n_parameters=n_params, sample=prompt + "".join(vocab[i] for i in sample_ids),
        history=history, out=out)
    if out is not None:
        save_outputs(result, out, params, [{
            "ylabel": "cross-entropy (nats/char)", "xlabel": "step",
            "series": [("train (per batch)", history["step"], history["loss"], PER_BATCH_STYLE),
                       ("validation", history["eval_step"], history["val_loss"])],
            "hlines": [("unigram entropy", entropy)]}], "wengert train charlm", checkpoint)
    report(result, log)
    return result


def report(result, log=print):
    """Print the final report of a run."""
    log(f"\nAfter {result.steps} steps: train loss {result.train_loss:.3f}, validation loss "
        f"{result.val_loss:.3f} nats/char; unigram entropy {result.unigram_entropy:.3f} "
        f"nats/char (validation loss / entropy = {result.val_loss / result.unigram_entropy:.2f})")
    log(f"Training time {format_seconds(result.seconds)} "
        f"({format_rate(result.chars_per_second, 'char')}, evaluation included)")
    log(f"Sample (temperature 0.8):\n{'-' * 60}\n{result.sample}\n{'-' * 60}")
    report_files(result, log)
