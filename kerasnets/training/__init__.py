"""kerasnets.training: recipes that train every architecture on real data.

    import kerasnets
    history, metrics = kerasnets.train("lenet5-fashion_mnist", epochs=2)
    kerasnets.training.RECIPES          # name → Recipe(builder, task, dataset, config, target, reference)

From the shell: `kerasnets train RECIPE [--epochs N | --steps N] [--batch-size B]
[--max-minutes M] [--set key=value …] [--output DIR]`.
"""

from kerasnets.training.distribution import split_cpu  # noqa: F401
from kerasnets.training.errors import ConfigurationError  # noqa: F401
from kerasnets.training.metrics import binary_f1, corpus_bleu, matthews_correlation, perplexity  # noqa: F401
from kerasnets.training.recipes import RECIPES, Recipe, get_recipe  # noqa: F401
from kerasnets.training.schedules import TransformerSchedule  # noqa: F401
from kerasnets.training.trainer import train  # noqa: F401
