"""`wengert train`: short training runs that must learn, checkpoints that resume exactly, the
progress bar's plain fallback, and the command line (`wengert train digits|charlm`)."""

import importlib.util
import io
import sys

import numpy as np
import pytest

from wengert import nn
from wengert.cli import main
from wengert.optim import Adam
from wengert.train import charlm
from wengert.train.common import (
    History,
    Progress,
    TrainingError,
    as_arrays,
    load_checkpoint,
    save_checkpoint,
)

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="the digits data set comes with scikit-learn")


def quiet(*args):
    pass


def load_npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def assert_same_arrays(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# Shared pieces --------------------------------------------------------------------------

def test_progress_fallback_shows_loss_and_throughput():
    out = io.StringIO()
    with Progress(100, "task", unit="sample", file=out, use_tqdm=False, interval=0) as bar:
        bar.update(50, loss=1.234567)
        bar.update(50, loss=0.5)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("task:  50% 50/100 samples, ")
    assert "samples/s, loss 1.235" in lines[0]
    assert lines[-1].startswith("task: 100% 100/100 samples") and lines[-1].endswith("loss 0.5")


def test_checkpoint_round_trip_and_config_check(tmp_path):
    params = as_arrays(nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1)))
    opt = Adam(lr=1e-2)
    state = opt.init(params)
    grads = as_arrays(nn.Sequential(nn.Linear(3, 4, rng=2), nn.ReLU(), nn.Linear(4, 2, rng=3)))
    params, state = opt.update(grads, state, params)
    history = History()
    history.add(step=1, loss=0.25)
    path = tmp_path / "ck.npz"
    save_checkpoint(path, params, state, config={"model": "mlp"}, counters={"step": 1},
                    history=history)

    fresh = as_arrays(nn.Sequential(nn.Linear(3, 4, rng=5), nn.ReLU(), nn.Linear(4, 2, rng=6)))
    loaded, loaded_state, counters, loaded_history = load_checkpoint(
        path, fresh, opt.init(fresh), config={"model": "mlp"})
    assert counters == {"step": 1} and loaded_history.series == history.series
    assert loaded_state["step"] == 1 and isinstance(loaded_state["step"], int)
    assert_same_arrays(loaded.state_dict(), params.state_dict())
    for slot in ("exp_avg", "exp_avg_sq"):
        assert_same_arrays(loaded_state[slot].state_dict(), state[slot].state_dict())
        assert loaded_state[slot][0].weight.dtype == np.float32
    with pytest.raises(TrainingError, match="'mlp' in the checkpoint, 'cnn' now"):
        load_checkpoint(path, fresh, opt.init(fresh), config={"model": "cnn"})


# digits ---------------------------------------------------------------------------------

@needs_sklearn
def test_digits_mlp_learns():
    from wengert.train import digits

    result = digits.train("mlp", epochs=5, use_tqdm=False, log=quiet)
    assert result.test_accuracy >= 0.9
    assert result.epochs == 5 and result.n_test == 359
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]


@needs_sklearn
def test_digits_resume_continues_exactly(tmp_path):
    from wengert.train import digits

    whole = digits.train("mlp", epochs=3, out=tmp_path / "whole", use_tqdm=False, log=quiet)
    digits.train("mlp", epochs=3, out=tmp_path / "parts", until_epoch=1, use_tqdm=False,
                 log=quiet)
    assert load_npz(tmp_path / "parts" / "checkpoint.npz")["counter/epoch"] == 1
    lines = []
    resumed = digits.train("mlp", epochs=3, out=tmp_path / "parts", resume=True,
                           use_tqdm=False, log=lines.append)
    assert lines[0].startswith("Resuming from") and "after epoch 1" in lines[0]
    assert resumed.test_accuracy == whole.test_accuracy
    assert resumed.history["loss"] == whole.history["loss"]
    assert_same_arrays(load_npz(tmp_path / "parts" / "model.npz"),
                       load_npz(tmp_path / "whole" / "model.npz"))
    with pytest.raises(TrainingError, match="lr"):
        digits.train("mlp", epochs=3, lr=0.1, out=tmp_path / "parts", resume=True,
                     use_tqdm=False, log=quiet)


def test_digits_without_sklearn_says_what_to_install(monkeypatch):
    from wengert.train import digits

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(TrainingError, match="pip install scikit-learn"):
        digits.load_data()


@needs_sklearn
def test_cli_train_digits_writes_model_checkpoint_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "digits", "--epochs", "1", "--model", "mlp", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Test accuracy" in printed and "Training time" in printed
    assert (out / "checkpoint.npz").exists()
    model = digits_mlp_state(out / "model.npz")
    assert model["layers.1.weight"].shape == (256, 64)
    if HAVE_MATPLOTLIB:
        assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "matplotlib is not installed" in printed


def digits_mlp_state(path):
    from wengert.train import digits

    model = digits.make_model("mlp")
    model.load(path)
    return model.state_dict()


def test_cli_resume_without_checkpoint_fails_clearly(tmp_path, capsys):
    status = main(["train", "digits", "--resume", "--out", str(tmp_path / "none")])
    assert status == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_cli_train_without_task_prints_help(capsys):
    assert main(["train"]) == 2
    assert "digits" in capsys.readouterr().out


# charlm -------------------------------------------------------------------------------

TINY = dict(context=16, batch_size=16, lr=1e-2, embed_dim=32, num_heads=2, num_layers=1,
            use_tqdm=False, log=quiet)


@pytest.fixture
def text_file(tmp_path):
    rng = np.random.default_rng(0)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "cat"]
    path = tmp_path / "text.txt"
    path.write_text(" ".join(rng.choice(words, 1500)) + "\n", encoding="utf-8")
    return path


def test_charlm_loss_decreases_below_unigram_entropy(text_file, tmp_path):
    result = charlm.train(text_file, steps=60, out=tmp_path / "lm", sample_len=40,
                          eval_every=20, **TINY)
    val = result.history["val_loss"]
    assert len(val) == 3 and val[-1] < val[0]
    assert result.val_loss < 0.8 * result.unigram_entropy
    assert len(result.sample) == 1 + 40 and result.sample.startswith("\n")
    assert set(result.sample) <= set(text_file.read_text(encoding="utf-8"))
    assert (tmp_path / "lm" / "model.npz").exists()
    if HAVE_MATPLOTLIB:
        assert (tmp_path / "lm" / "curves.png").exists()


def test_charlm_resume_continues_exactly(text_file, tmp_path):
    whole = charlm.train(text_file, steps=12, out=tmp_path / "whole", sample_len=5,
                         eval_every=4, **TINY)
    charlm.train(text_file, steps=12, out=tmp_path / "parts", sample_len=5, eval_every=4,
                 until_step=4, **TINY)
    resumed = charlm.train(text_file, steps=12, out=tmp_path / "parts", sample_len=5,
                           eval_every=4, resume=True, **TINY)
    assert resumed.history["loss"] == whole.history["loss"]
    assert resumed.sample == whole.sample
    assert_same_arrays(load_npz(tmp_path / "parts" / "model.npz"),
                       load_npz(tmp_path / "whole" / "model.npz"))


def test_charlm_default_text_is_the_standard_library():
    text = charlm.stdlib_text(20_000)
    assert len(text) == 20_000 and "def " in text and "import " in text


def test_charlm_rejects_text_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 ".encode("latin-1") * 100)
    assert main(["train", "charlm", "--text", str(path), "--out", str(tmp_path)]) == 2
    assert "not UTF-8" in capsys.readouterr().err
