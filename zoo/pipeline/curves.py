"""A picture of training runs: loss per iteration and held-out top-1 per epoch (matplotlib, optional)."""
from __future__ import annotations

from typing import IO, Mapping

from bigdl_runtime.train import History


def plot_curves(histories: Mapping[str, History], out: IO[bytes], title: str = "") -> None:
    """Draw each run's training loss and validation top-1 side by side, as PNG into ``out``.

    Runs are laid end to end on the x axis in the order given when one continues
    another (``head_only`` then ``finetuned``); a run named ``scratch`` starts at 0.

    Args:
        histories: run name -> its History (train rows with ``loss``; validation
            rows with ``top1``).
        out: a binary file or buffer.
        title: the figure's title.

    Raises:
        ImportError: matplotlib is missing (``pip install 'bigdl-zoo[plot]'``).
    """
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError("plotting the training curves needs matplotlib: pip install 'bigdl-zoo[plot]'") from err
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (loss_ax, top1_ax) = plt.subplots(1, 2, figsize=(10, 4))
    offset_iterations, offset_epochs = 0, 0
    for name, history in histories.items():
        start_it, start_ep = (0, 0) if name == "scratch" else (offset_iterations, offset_epochs)
        iterations = [start_it + r["iteration"] for r in history.train]
        loss_ax.plot(iterations, [r["loss"] for r in history.train], label=name)
        epochs = [start_ep + r["epoch"] for r in history.validation]
        top1_ax.plot(epochs, [r["top1"] for r in history.validation], marker="o", label=name)
        if name != "scratch":
            offset_iterations, offset_epochs = iterations[-1] if iterations else start_it, \
                epochs[-1] if epochs else start_ep
    loss_ax.set(xlabel="iteration", ylabel="training loss", yscale="log")
    top1_ax.set(xlabel="epoch", ylabel="held-out top-1", ylim=(0, 1))
    for ax in (loss_ax, top1_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
