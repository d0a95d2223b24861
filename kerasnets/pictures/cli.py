"""`kerasnets plot` and `kerasnets attention`: the picture subcommands.

    kerasnets plot lenet5 -o lenet5.png
    kerasnets plot bert --preset bert_tiny --set num_layers=1 -o bert.png --rankdir LR
    kerasnets attention runs/transformer-spa_eng --text "Tengo hambre." -o attention.png
    kerasnets attention runs/bert-sst2 --text "a gripping, moving film" --layer 1 -o bert.png

Bad input prints one line and exits with 2; a missing pydot or Graphviz one
line saying how to install it, and exits with 1.
"""

import argparse
import sys

COMMANDS = ("plot", "attention")
MISSING_DEPENDENCY = 1


def add_parsers(commands):
    """Adds `plot` and `attention` to the `kerasnets` subparsers."""
    plot = commands.add_parser(
        "plot",
        help="draw an architecture's layer graph to a PNG (keras.utils.plot_model; needs pydot and Graphviz)",
        description="Builds ARCH as `kerasnets summary` does and draws it with keras.utils.plot_model.",
    )
    plot.add_argument("architecture", metavar="ARCH", help="an architecture name (see `kerasnets list`)")
    plot.add_argument("--preset", help="a named configuration, e.g. bert_tiny")
    plot.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a hyperparameter (repeatable), e.g. --set num_layers=4",
    )  # fmt: skip
    plot.add_argument("-o", "--output", default="model.png", help="the image file (default model.png)")
    plot.add_argument("--rankdir", choices=("TB", "LR"), default="TB", help="top to bottom (TB) or left to right")
    plot.add_argument("--dpi", type=int, default=96, help="pixels per inch (default 96)")
    plot.add_argument(
        "--expand-nested", action=argparse.BooleanOptionalAction, default=None,
        help="draw the layers inside nested models (default: for a head on a backbone, as summary does)",
    )  # fmt: skip
    plot.add_argument("--no-shapes", action="store_true", help="leave out the input and output shapes")

    attention = commands.add_parser(
        "attention",
        help="draw a trained model's attention on a text to a PNG",
        description="Transformer: the cross-attention of greedy decoding (generated × source tokens); "
        "seq2seq: the Bahdanau alignment (Bahdanau et al. 2015, Fig. 3); BERT: a layer's self-attention heads.",
    )
    attention.add_argument("run_dir", metavar="RUN_DIR", help="a `kerasnets train` output directory")
    attention.add_argument("--text", required=True, help="the source sentence (BERT: the first text)")
    attention.add_argument("--text-pair", help="BERT: the second text")
    attention.add_argument("-o", "--output", default="attention.png", help="the image file (default attention.png)")
    attention.add_argument(
        "--kind", choices=("cross", "self", "causal"),
        help="cross (translation default), self (BERT; a Transformer's encoder) or causal (a Transformer's decoder)",
    )  # fmt: skip
    attention.add_argument(
        "--layer", default="-1",
        help="a block index (0 = first, -1 = last, the default), several separated by commas, or 'all'",
    )  # fmt: skip
    attention.add_argument(
        "--heads", choices=("each", "mean"), default="each", help="one panel per head (default), or their mean"
    )
    attention.add_argument("--max-new-tokens", type=int, help="greedy decoding length (default the recipe's)")
    attention.add_argument("--dpi", type=int, default=100, help="pixels per inch (default 100)")


def _layers(text):
    if text in ("all", "last"):
        return text
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--layer must be 'all' or block indices such as 0 or -1 or 0,1; got '{text}'.") from None
    return values[0] if len(values) == 1 else values


def _plot(args):
    from kerasnets.cli import build_architecture
    from kerasnets.pictures.architecture import check_graphviz, plot_architecture

    check_graphviz()  # before building: a missing Graphviz is said at once
    model = build_architecture(args.architecture, args.preset, args.overrides)
    plot_architecture(
        model, args.output, show_shapes=not args.no_shapes, rankdir=args.rankdir, dpi=args.dpi,
        expand_nested=args.expand_nested,
    )  # fmt: skip
    print(f"Wrote {args.output}")


def _attention(args):
    from kerasnets.pictures.attention import attention_map
    from kerasnets.pictures.figures import draw_attention

    attention = attention_map(
        args.run_dir, args.text, text_pair=args.text_pair, kind=args.kind, layers=_layers(args.layer),
        max_new_tokens=args.max_new_tokens,
    )  # fmt: skip
    draw_attention(attention, args.output, heads=args.heads, dpi=args.dpi)
    if attention.translation is not None:
        print(f"{attention.text} → {attention.translation}")
    print(f"Wrote {args.output}")


def run(args):
    """Runs `plot` or `attention` with parsed `args`; returns the exit code."""
    from kerasnets.cli import USAGE_ERROR, UsageError
    from kerasnets.pictures.architecture import MissingDependency

    if getattr(args, "dpi", 1) < 1:
        print(f"kerasnets: error: --dpi must be at least 1, got {args.dpi}.", file=sys.stderr)
        return USAGE_ERROR
    try:
        {"plot": _plot, "attention": _attention}[args.command](args)
    except MissingDependency as error:
        print(f"kerasnets: error: {error}", file=sys.stderr)
        return MISSING_DEPENDENCY
    except UsageError as error:
        print(f"kerasnets: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except (FileNotFoundError, ValueError, TypeError) as error:
        print(f"kerasnets: error: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        return USAGE_ERROR
    return 0
