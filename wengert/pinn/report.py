"""What the examples report: the relative L2 error against an exact solution, and one PNG
with the predicted solution, the pointwise error and the loss curve."""

from pathlib import Path

import numpy as np


def relative_l2(pred, exact):
    """||pred - exact||_2 / ||exact||_2 over all points."""
    pred, exact = np.asarray(pred), np.asarray(exact)
    if pred.shape != exact.shape:
        raise ValueError(f"relative_l2: pred has shape {pred.shape} but exact has shape "
                         f"{exact.shape}; evaluate both on the same points.")
    return float(np.linalg.norm(pred - exact) / np.linalg.norm(exact))


def save_figure(path, pred, exact, extent, history, *, labels=("x", "y"), title=""):
    """Plot into the PNG `path`: the prediction `pred` and the pointwise error |pred - exact|
    (2-D arrays, rows along labels[1] from extent[2] to extent[3], columns along labels[0]
    from extent[0] to extent[1]) and the loss curve from `history` (the dict of
    `TrainResult.history`) on a log scale, Adam and L-BFGS in two colours, with the
    monitored relative L2 error when the history has one.
    Returns the path written, or None when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(15.0, 4.0), layout="constrained")
    axes = fig.subplots(1, 3)
    images = (("prediction u", pred, "RdBu_r"), ("|error|", np.abs(pred - exact), "viridis"))
    for ax, (name, values, cmap) in zip(axes, images):
        im = ax.imshow(values, origin="lower", extent=extent, aspect="auto", cmap=cmap)
        fig.colorbar(im, ax=ax)
        ax.set_title(name)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
    ax = axes[2]
    evaluation = np.asarray(history["evaluation"])
    loss, phase = np.asarray(history["loss"]), np.asarray(history["phase"])
    for k, name in enumerate(("Adam", "L-BFGS")):
        mask = phase == k
        if mask.any():
            ax.semilogy(evaluation[mask], loss[mask], linewidth=0.8, label=name)
    if history.get("monitor"):
        ax.semilogy(history["monitor_evaluation"], history["monitor"], "k.-", markersize=3,
                    linewidth=0.8, label="relative L2 error")
    ax.set_xlabel("loss-and-gradient evaluations")
    ax.set_ylabel("loss" + (", error" if history.get("monitor") else ""))
    ax.set_title("training")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


__all__ = ["relative_l2", "save_figure"]
