"""The `kerasnets` command line.

    kerasnets list                                   # architectures, presets, hyperparameters
    kerasnets summary lenet5                         # model.summary()
    kerasnets summary bert --preset bert_base_uncased
    kerasnets summary gpt --set num_layers=2 --set hidden_dim=64
    kerasnets summary all                            # every architecture
    kerasnets export runs/lenet5 --name lenet5       # SavedModel for TF Serving
    kerasnets serve --model_name=lenet5 --model_base_path=$PWD/saved_models/lenet5
    kerasnets demo                                   # train → export → serve → predict
    kerasnets train lenet5-fashion_mnist --epochs 2  # a recipe on real data
    kerasnets plot lenet5 -o lenet5.png              # architecture diagram (pydot + Graphviz)
    kerasnets attention runs/transformer-spa_eng --text "Hola." -o attention.png

Bad input (an unknown architecture, preset or hyperparameter, or a value the
builder rejects) prints one line naming the valid choices and exits with 2.
"""

import argparse
import ast
import json
import sys

USAGE_ERROR = 2


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit code 2."""


# Spelled as in JSON and YAML, as people type them on a command line.
_LOWERCASE_LITERALS = {"true": True, "false": False, "null": None, "none": None}


def parse_assignment(text):
    """'num_layers=4' -> ('num_layers', 4); values are Python literals (true / false / null as
    well as True / False / None), else strings."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set expects key=value, got '{text}'.")
    raw = raw.strip()
    if raw in _LOWERCASE_LITERALS:
        return key.strip(), _LOWERCASE_LITERALS[raw]
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word such as relu or lstm
    return key.strip(), value


def _parser():
    parser = argparse.ArgumentParser(prog="kerasnets", description="Classic neural networks in Keras 3.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    summary = commands.add_parser("summary", help="build an architecture and print model.summary()")
    summary.add_argument("architecture", metavar="ARCH", help="an architecture name, or 'all'")
    summary.add_argument("--preset", help="a named configuration, e.g. bert_base_uncased")
    summary.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a hyperparameter (repeatable), e.g. --set num_layers=4",
    )

    commands.add_parser("list", help="list architectures, their presets and hyperparameters")

    export = commands.add_parser(
        "export",
        help="export a trained model as a versioned SavedModel for TensorFlow Serving",
        description="Writes BASE_DIR/NAME/VERSION/ (saved_model.pb, variables/, assets/) and "
        "adds NAME to BASE_DIR/models.config.",
    )
    export.add_argument(
        "source",
        metavar="SOURCE",
        help="a .keras file, a training run directory holding model.keras, or a GPT-2 / BERT checkpoint directory "
        "(Hugging Face config.json + model.safetensors, or a KerasHub preset)",
    )
    export.add_argument("--name", required=True, help="the served model name: /v1/models/NAME")
    export.add_argument("--base-dir", default="saved_models", help="the export root (default: saved_models)")
    export.add_argument("--version", type=int, help="a positive integer (default: the next free one)")
    export.add_argument(
        "--config-base-path",
        help="base_path written into models.config (default: the absolute path of BASE_DIR/NAME)",
    )
    export.add_argument("--batching", action="store_true",
                        help="also write BASE_DIR/batching_parameters.txt for serve --enable_batching")
    export.add_argument("--no-model-config", action="store_true", help="leave models.config alone")
    export.add_argument(
        "--no-warmup", action="store_true",
        help="write no assets.extra/tf_serving_warmup_requests (default: one warm-up request per signature)",
    )

    train = commands.add_parser(
        "train",
        help="train a recipe (<builder>-<dataset>) on real data",
        description="compile/fit a recipe on its tf.data pipeline; writes metrics.json, history.png, "
        "TensorBoard logs, a resumable checkpoint and model.keras into --output.",
    )
    train.add_argument("recipe", metavar="RECIPE", help="a recipe name, or 'list'")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="passes over the training split")
    length.add_argument("--steps", type=int, help="optimizer steps (rounded up to whole epochs)")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--max-minutes", type=float, help="stop training after this long, then evaluate")
    train.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a builder, pipeline or optimizer setting (repeatable)",
    )  # fmt: skip
    train.add_argument("--output", help="the run directory (default runs/RECIPE)")
    train.add_argument(
        "--strategy", choices=("default", "mirrored", "multi_worker", "tpu"), default="default",
        help="tf.distribute strategy: mirrored = this host's GPUs (or logical CPUs); multi_worker reads TF_CONFIG",
    )  # fmt: skip
    train.add_argument(
        "--cpu-replicas", type=int, metavar="N",
        help="with --strategy mirrored on a host without GPUs: N replicas, each on its share of the CPU's cores",
    )  # fmt: skip
    train.add_argument(
        "--mixed-precision", choices=("float32", "mixed_float16", "mixed_bfloat16"),
        help="compute dtype policy (default: the recipe's mixed_precision setting, float32)",
    )  # fmt: skip

    from kerasnets.serving.cli import add_parser as add_serve_parser

    add_serve_parser(commands)

    from kerasnets.pictures.cli import add_parsers as add_picture_parsers

    add_picture_parsers(commands)

    demo = commands.add_parser(
        "demo",
        help="train LeNet-5 on Fashion-MNIST, export it, serve it and query it over REST",
        description="The main job end to end: fit on real data, summary(), export to BASE_DIR/lenet5/, "
        "start `kerasnets serve`, send a :predict request and print predicted vs true labels.",
    )
    demo.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    demo.add_argument("--base-dir", default="saved_models", help="the export root (default: saved_models)")
    demo.add_argument("--port", type=int, default=0, help="REST port (default: a free one)")
    demo.add_argument("--keep-serving", action="store_true", help="leave the server running until Ctrl-C")
    demo.add_argument("--data-dir", help="tfds data_dir (default: tfds' own, ~/tensorflow_datasets)")
    return parser


def _summary(args):
    from kerasnets import models

    if args.architecture == "all":
        if args.preset or args.overrides:
            raise UsageError("--preset and --set apply to one architecture, not to 'all'.")
        names = models.ARCHITECTURES
    else:
        names = [args.architecture]
    for name in names:
        build_architecture(name, args.preset, args.overrides).summary()
        print()


def build_architecture(name, preset=None, assignments=()):
    """The model `kerasnets summary NAME --preset … --set key=value …` builds; bad input is a UsageError."""
    from kerasnets import models

    overrides = dict(parse_assignment(item) for item in assignments)
    if name not in models.BUILDERS:
        raise UsageError(f"unknown architecture '{name}'; choose from: all, {', '.join(models.ARCHITECTURES)}.")
    try:
        return models.build(name, preset=preset, **overrides)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error).strip().splitlines()[0]) from None


def _list(args):
    from kerasnets import models

    for name in models.ARCHITECTURES:
        presets = ", ".join(models.PRESETS[name]) or "-"
        print(f"{name}\n  presets: {presets}")
        for key, default in models.hyperparameters(name).items():
            print(f"  --set {key}={default!r}")


def _export(args):
    from kerasnets.export.artifacts import export_from_path

    try:
        exported = export_from_path(
            args.source,
            args.name,
            base_dir=args.base_dir,
            version=args.version,
            update_config=not args.no_model_config,
            config_base_path=args.config_base_path,
            warmup=False if args.no_warmup else None,
        )
    except (FileNotFoundError, FileExistsError, ValueError, TypeError) as error:
        raise UsageError(str(error).strip().splitlines()[0]) from None
    print(f"Exported '{exported.name}' version {exported.version} to {exported.path}")
    print(f"  signatures: {', '.join(exported.signatures)}")
    print(f"  inspect with: saved_model_cli show --dir {exported.path} --all")
    if args.batching:
        from kerasnets.serving.batching import write_batching_parameters

        print(f"  batching parameters: {write_batching_parameters(args.base_dir)}")


def _train(args):
    from kerasnets.training import RECIPES, ConfigurationError, train

    if args.recipe == "list":
        for recipe in RECIPES.values():
            target = " ".join(str(part) for part in recipe.target) if recipe.target else "-"
            print(f"{recipe.name:<38} {recipe.dataset:<18} target {target}")
        return
    overrides = dict(parse_assignment(item) for item in args.overrides)
    for name, value in (("--epochs", args.epochs), ("--steps", args.steps), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            raise UsageError(f"{name} must be at least 1, got {value}.")
    if args.cpu_replicas is not None and args.strategy != "mirrored":
        raise UsageError("--cpu-replicas needs --strategy mirrored.")
    try:
        if args.cpu_replicas is not None:
            from kerasnets.training.distribution import split_cpu

            split_cpu(args.cpu_replicas)
        _, metrics = train(
            args.recipe, epochs=args.epochs, steps=args.steps, batch_size=args.batch_size,
            max_minutes=args.max_minutes, overrides=overrides, output=args.output, strategy=args.strategy,
            mixed_precision=args.mixed_precision,
        )  # fmt: skip
    except ConfigurationError as error:
        raise UsageError(str(error).strip().splitlines()[0]) from None
    print(json.dumps(metrics, indent=2))


def _demo(args):
    from kerasnets.demo import run

    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}.")
    run(epochs=args.epochs, base_dir=args.base_dir, port=args.port or None,
        keep_serving=args.keep_serving, data_dir=args.data_dir)


def _missing_serving_api(command):
    """One line saying how to install TF Serving's protos, or None when they are importable."""
    import importlib.util

    if command not in ("export", "serve", "demo") or importlib.util.find_spec("tensorflow_serving"):
        return None
    from kerasnets.serving.disk_layout import SERVING_API_INSTALL_HINT

    return f"kerasnets {command} needs TensorFlow Serving's protos (tensorflow_serving). {SERVING_API_INSTALL_HINT}"


def main(argv=None):
    args = _parser().parse_args(argv)
    missing = _missing_serving_api(args.command)
    if missing:
        print(f"kerasnets: error: {missing}", file=sys.stderr)
        return 1
    if args.command == "serve":
        from kerasnets.serving.cli import run as serve

        return serve(args)
    if args.command in ("plot", "attention"):
        from kerasnets.pictures.cli import run as draw

        return draw(args)
    try:
        {"summary": _summary, "list": _list, "export": _export, "demo": _demo, "train": _train}[args.command](args)
    except UsageError as error:
        print(f"kerasnets: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
