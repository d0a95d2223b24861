"""Architecture diagrams: `keras.utils.plot_model` (pydot + Graphviz's `dot`) to a PNG.

    from kerasnets import models, pictures
    pictures.plot_architecture(models.lenet5(), "lenet5.png")
    kerasnets plot lenet5 -o lenet5.png

`plot_model` needs the Python package pydot and the Graphviz program `dot`;
`check_graphviz()` says in one line which is missing and how to install it.
"""

import os

from kerasnets import files

GRAPHVIZ_INSTALL = "apt install graphviz (Debian/Ubuntu), brew install graphviz (macOS) or https://graphviz.org/download/"


class MissingDependency(RuntimeError):
    """pydot or Graphviz is not installed; the message says how to install it, in one line."""


def check_graphviz():
    """Raises MissingDependency unless pydot imports and Graphviz's `dot` renders an empty graph."""
    try:
        import pydot
    except ImportError:
        raise MissingDependency("plotting a model needs the Python package pydot: pip install pydot") from None
    try:
        pydot.Dot.create(pydot.Dot())  # runs `dot` from PATH
    except (OSError, pydot.PydotException):  # pydot raises FileNotFoundError when `dot` is not on PATH
        raise MissingDependency(
            f"plotting a model needs Graphviz's `dot` program on PATH: {GRAPHVIZ_INSTALL}"
        ) from None


def plot_architecture(
    model,
    path,
    *,
    show_shapes=True,
    show_layer_names=True,
    show_layer_activations=True,
    show_dtype=False,
    show_trainable=False,
    expand_nested=None,
    rankdir="TB",
    dpi=96,
):
    """Draws `model`'s layer graph with `keras.utils.plot_model` into `path` (PNG, or any
    format Graphviz writes, by the extension), written to a temporary name and renamed.

    The defaults label every layer with its name, type, activation and its input and
    output shapes; `rankdir` "TB" stacks the layers top to bottom, "LR" left to right.
    `expand_nested` (default: for a head on a backbone, e.g. `GPTCausalLM`, as its
    `summary()` does) draws the layers inside nested models.
    Raises MissingDependency (one line) when pydot or Graphviz is missing.
    """
    import keras

    from kerasnets.models.backbone_task import BackboneTask

    check_graphviz()
    if expand_nested is None:
        expand_nested = isinstance(model, BackboneTask)
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' or 'LR', got {rankdir!r}.")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with files.replacing(path) as staging:
        keras.utils.plot_model(
            model,
            to_file=staging,
            show_shapes=show_shapes,
            show_dtype=show_dtype,
            show_layer_names=show_layer_names,
            rankdir=rankdir,
            expand_nested=expand_nested,
            dpi=dpi,
            show_layer_activations=show_layer_activations,
            show_trainable=show_trainable,
        )
    return path
