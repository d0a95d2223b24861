"""Learning curves of many runs in one figure (matplotlib Agg, no pyplot state).

Each run is a `history.csv` as the trainer writes it (`epoch`, then one column
per logged metric, `val_` for the validation pass). One panel per run: its
training and validation curves of one metric against the epoch, so rows of
the results table can be compared at a glance.
"""

import csv
import math

from kerasnets import files


def read_history(path):
    """`{column: [(epoch, value), ...]}` of a history.csv (1-based epochs; empty cells left out)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    curves = {}
    for row in rows:
        for name, value in row.items():
            if name != "epoch" and value not in (None, ""):
                curves.setdefault(name, []).append((int(row["epoch"]) + 1, float(value)))
    return curves


def _metric(curves, preferred):
    for name in preferred:
        if name in curves or f"val_{name}" in curves:
            return name
    return None


def draw_learning_curves(runs, path, *, metrics=("loss",), columns=4, dpi=100, title=None):
    """Draws one panel per run into the PNG `path` (temporary name, then renamed).

    Args:
        runs: `{label: history.csv path}`, in the panels' order; runs whose file is
            missing or holds none of `metrics` are skipped.
        metrics: The metric to draw, first found wins per run (e.g. ("loss",)).
        columns: Panels per row of the figure.

    Returns:
        The labels drawn.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = []
    for label, csv_path in runs.items():
        try:
            curves = read_history(csv_path)
        except (OSError, ValueError, KeyError):
            continue
        metric = _metric(curves, metrics)
        if metric is not None:
            panels.append((label, metric, curves))
    if not panels:
        raise ValueError(f"none of the runs has a history with {' or '.join(metrics)}")
    columns = min(columns, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(3.6 * columns, 2.7 * rows + (0.4 if title else 0)))
    FigureCanvasAgg(figure)
    for index, (label, metric, curves) in enumerate(panels):
        axis = figure.add_subplot(rows, columns, index + 1)
        for name, style in ((metric, "-"), (f"val_{metric}", "--")):
            if name in curves:
                epochs, values = zip(*curves[name])
                axis.plot(epochs, values, style, marker="o", markersize=3,
                          label="validation" if name.startswith("val_") else "train")  # fmt: skip
        axis.set_title(label, fontsize=9)
        axis.set_xlabel("epoch", fontsize=8)
        axis.set_ylabel(metric, fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    with files.replacing(path) as staging:
        figure.savefig(staging, dpi=dpi, format="png")
    return [label for label, _, _ in panels]
