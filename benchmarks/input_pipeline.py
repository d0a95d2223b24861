"""Is the input pipeline the bottleneck? Steps/s on each recipe's real tf.data
pipeline vs on one cached in-memory batch, same model, same run.

    python benchmarks/input_pipeline.py                  # prints a Markdown table
    python benchmarks/input_pipeline.py --steps 100 --recipes lenet5-fashion_mnist gpt-tiny_shakespeare
"""

import argparse

from kerasnets.data import measure_input_pipeline
from kerasnets.training import RECIPES, tasks
from kerasnets.training.trainer import resolve_config

DEFAULT_RECIPES = [
    "lenet5-fashion_mnist",
    "rnn_classifier-fashion_mnist",
    "gpt-tiny_shakespeare",
    "text_cnn-sst2",
    "bert-imdb",
    "transformer-spa_eng",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="*", default=DEFAULT_RECIPES)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    rows = []
    for name in args.recipes:
        recipe = RECIPES[name]
        task = tasks.TASKS[recipe.task](recipe, resolve_config(recipe))
        train, _, batches_per_pass = task.datasets()
        # One pass first, as in every epoch after the first: decoded examples are cached in memory.
        for _ in train.take(batches_per_pass + 1):
            pass
        model = task.build()
        task.compile(model)
        result = measure_input_pipeline(model, train, steps=args.steps, warmup=10)
        rows.append((name, result))
        print(f"{name}: {result}", flush=True)
    print("\n| recipe | real pipeline (steps/s) | cached batch (steps/s) | ratio |\n|---|---:|---:|---:|")
    for name, result in rows:
        print(
            f"| `{name}` | {result['pipeline_steps_per_second']:.1f} | "
            f"{result['cached_steps_per_second']:.1f} | {result['ratio']:.2f} |"
        )


if __name__ == "__main__":
    main()
