"""Drawing an `AttentionMap` as a PNG with matplotlib (Agg, no pyplot state, no TensorFlow).

One panel per (layer, head): rows are the query tokens, columns the key
tokens, a cell's brightness its weight in [0, 1] (white = 1, as in Bahdanau
et al. 2015, Fig. 3). The figure's size follows from the tokens: `cell` inches
per token and room for the longest label, so the PNG is
`figure_size(...) × dpi` pixels.
"""

import numpy as np

from kerasnets import files

_CHARACTER = 0.075  # inches per label character at 8 pt
_TITLE = 0.3  # inches above each panel
_GAP = 0.25  # inches between panels
_COLORBAR = 0.9  # inches on the right for the colour bar
_HEADING = 0.45  # inches at the top for the figure's title


def _layout(attention, cell):
    layers, heads, rows, columns = attention.weights.shape
    left = 0.2 + _CHARACTER * max(len(token) for token in attention.rows)
    bottom = 0.2 + _CHARACTER * max(len(token) for token in attention.columns)
    width, height = cell * columns, cell * rows
    return dict(
        left=left, bottom=bottom, width=width, height=height, layers=layers, heads=heads,
        figure=(heads * (left + width + _GAP) + _COLORBAR, _HEADING + layers * (_TITLE + height + bottom)),
    )  # fmt: skip


def figure_size(attention, cell=0.3):
    """`(width, height)` in inches of the figure `draw_attention` makes of `attention`."""
    return _layout(attention, cell)["figure"]


def _title(attention):
    what = {"cross": "cross-attention", "self": "self-attention", "causal": "causal self-attention"}[attention.kind]
    title = f"{attention.model} {what}: {attention.text}"
    if attention.translation is not None:
        title += f"  →  {attention.translation}"
    return title if len(title) <= 120 else title[:117] + "…"


def draw_attention(attention, path, *, heads="each", dpi=100, cell=0.3, cmap="gray"):
    """Draws `attention` (an `AttentionMap`) into the PNG `path` (temporary name, then renamed).

    Args:
        heads: "each" (one panel per head) or "mean" (the heads averaged, one panel per layer).
        dpi: Pixels per inch.
        cell: Inches per token.
        cmap: A matplotlib colour map name.

    Returns:
        `(width, height)` of the figure in inches; the PNG is that × `dpi` pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if heads not in ("each", "mean"):
        raise ValueError(f"heads must be 'each' or 'mean', got {heads!r}.")
    if heads == "mean":
        attention = attention.mean_over_heads()
    layout = _layout(attention, cell)
    width, height = layout["figure"]
    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    # The title fits the figure's width: a smaller font (down to 6 pt), then an ellipsis.
    title = _title(attention)
    fits = width / (_CHARACTER * 9 / 8)  # characters of 9 pt across the figure
    fontsize = max(6.0, min(9.0, 9.0 * fits / len(title)))
    room = int(width / (_CHARACTER * fontsize / 8))
    if len(title) > room:
        title = title[: max(1, room - 1)] + "…"
    figure.suptitle(title, fontsize=fontsize, y=1 - 0.12 / height, va="top")
    image = None
    for layer_index in range(layout["layers"]):
        for head in range(layout["heads"]):
            x = head * (layout["left"] + layout["width"] + _GAP) + layout["left"]
            # Layers from the top down: the first panel row is the first layer drawn.
            y = height - _HEADING - (layer_index + 1) * (_TITLE + layout["height"] + layout["bottom"])
            y += layout["bottom"]
            axes = figure.add_axes((x / width, y / height, layout["width"] / width, layout["height"] / height))
            image = axes.imshow(
                attention.weights[layer_index, head], cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto",
                interpolation="nearest",
            )  # fmt: skip
            axes.set_xticks(np.arange(len(attention.columns)), attention.columns, rotation=90, fontsize=8)
            axes.set_yticks(np.arange(len(attention.rows)), attention.rows, fontsize=8)
            axes.tick_params(length=0)
            head_label = "heads averaged" if heads == "mean" else f"head {head}"
            axes.set_title(f"layer {attention.layers[layer_index]}, {head_label}", fontsize=8)
    bar = figure.add_axes(((width - _COLORBAR + 0.15) / width, 0.1, 0.15 / width, 0.8 - _HEADING / height))
    figure.colorbar(image, cax=bar).ax.tick_params(labelsize=7)
    with files.replacing(path) as staging:
        figure.savefig(staging, format="png", dpi=dpi)
    return width, height
