"""Training recipes: one builder on one dataset, with defaults that reach the target on 2 CPU cores.

A recipe is named `<builder>-<dataset>` and holds a flat configuration: the
builder's hyperparameters, the pipeline's options and the optimizer's, all
overridable with `--set key=value` (`kerasnets.train(name, overrides={...})`).
`target` is the held-out metric the defaults are tuned to reach, `reference`
the published figure it is compared with.
"""

import dataclasses

from kerasnets import models
from kerasnets.training import tasks
from kerasnets.training.errors import ConfigurationError


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    builder: str
    task: str
    dataset: str
    config: dict
    epochs: int = None
    steps: int = None
    target: tuple = None  # (metric, ">=" or "<=", value)
    reference: str = ""

    def defaults(self):
        """The full configuration: task defaults < builder defaults < the recipe's own."""
        task = tasks.TASKS[self.task]
        builder = {k: v for k, v in models.hyperparameters(self.builder).items() if k != "name"}
        return {**tasks.COMMON_DEFAULTS, **task.defaults, **builder, **self.config}


_FASHION = "fashion_mnist"
_LM_REFERENCE = "nanoGPT README, its CPU configuration: val loss 1.88 after 2,000 steps"
_RECIPES = [
    Recipe("mlp-fashion_mnist", "mlp", "image_classification", _FASHION,
           dict(input_shape=(28, 28, 1), hidden_units=(256, 128, 100), num_classes=10, dropout=0.1), epochs=20,
           target=("accuracy", ">=", 0.885), reference="MLP 256-128-100: 0.8833 (Fashion-MNIST benchmark)"),
    Recipe("lenet5-fashion_mnist", "lenet5", "image_classification", _FASHION,
           dict(activation="relu", pooling="max", schedule="cosine"), epochs=20,
           target=("accuracy", ">=", 0.905), reference="2 Conv+pooling (TensorFlow doc): 0.916"),
    # Two conv blocks straight into the classifier: 50,474 parameters (README).
    Recipe("simple_cnn-fashion_mnist", "simple_cnn", "image_classification", _FASHION,
           dict(filters=(32, 64), padding="same", dense_units=(), dropout=0.3, batch_norm=True,
                schedule="cosine"), epochs=25,
           target=("accuracy", ">=", 0.925), reference="2 Conv < 100K parameters: 0.925"),
    Recipe("lenet5-mnist", "lenet5", "image_classification", "mnist",
           dict(activation="relu", pooling="max", schedule="cosine"), epochs=12,
           target=("accuracy", ">=", 0.990), reference="LeNet-5, LeCun et al. 1998: 0.95% error"),
    Recipe("rnn_classifier-fashion_mnist", "rnn_classifier", "image_classification", _FASHION,
           dict(input_shape=(28, 28), units=128, image_rows_as_sequence=True, schedule="cosine",
                learning_rate=2e-3), epochs=20,
           target=("accuracy", ">=", 0.890), reference="GRU+SVM: 0.888"),
    Recipe("rnn_language_model-tiny_shakespeare", "rnn_language_model", "language_modeling", "tiny_shakespeare",
           dict(embedding_dim=64, units=384, sequence_length=100, batch_size=32, steps_per_epoch=250,
                validation_freq=4),
           steps=4000, target=("val_loss", "<=", 1.60), reference="-"),
    Recipe("gpt-tiny_shakespeare", "gpt", "language_modeling", "tiny_shakespeare",
           dict(num_layers=4, num_heads=4, hidden_dim=128, intermediate_dim=512, max_sequence_length=64,
                dropout=0.0, batch_size=32, optimizer="adamw", learning_rate=1e-3, steps_per_epoch=250,
                validation_freq=4),
           steps=5000, target=("val_loss", "<=", 1.60), reference=_LM_REFERENCE),
    Recipe("seq2seq-spa_eng", "seq2seq", "translation", "spa_eng",
           dict(embedding_dim=128, units=256, attention="bahdanau", batch_size=64, max_tokens=8000), epochs=4,
           target=("bleu", ">=", 0.0), reference="Bahdanau et al. 2015: attention helps"),
    Recipe("transformer-spa_eng", "transformer", "translation", "spa_eng",
           dict(num_layers=2, num_heads=4, hidden_dim=128, intermediate_dim=512, dropout=0.1, batch_size=64,
                max_tokens=8000, learning_rate=1.0, warmup_steps=2000, bleu_beam_width=4), epochs=6,
           target=("bleu", ">=", 25.0), reference="Vaswani et al. 2017"),
    Recipe("text_cnn-sst2", "text_cnn", "text_classification", "glue/sst2",
           dict(embedding_dim=128, filters=100, dropout=0.5, num_classes=2, sequence_length=48), epochs=4,
           target=("accuracy", ">=", 0.82), reference="Kim 2014 CNN-rand: 82.7"),
    # Kim's regularisation: max-norm 3, early stopping on 5 % of the training reviews held out (README).
    Recipe("text_cnn-imdb", "text_cnn", "text_classification", "imdb_reviews",
           dict(embedding_dim=128, filters=100, dropout=0.5, max_norm=3.0, num_classes=2, sequence_length=400,
                train_split="train[:95%]", validation_split="train[95%:]", eval_split="test",
                early_stopping_monitor="val_accuracy", early_stopping_patience=1),
           epochs=5, target=("accuracy", ">=", 0.88), reference="keras.io text classification: ≈0.88"),
    Recipe("rnn_classifier-sst2", "rnn_classifier", "text_classification", "glue/sst2",
           dict(embedding_dim=64, units=64, num_classes=2, sequence_length=48), epochs=4,
           target=("accuracy", ">=", 0.80), reference="Kim 2014 CNN-rand: 82.7"),
    # An LSTM's last state reads the review's last 200 tokens (where the verdict tends to be); dropout
    # 0.5 and early stopping on 5 % of the training reviews held out, as text_cnn-imdb (README).
    Recipe("rnn_classifier-imdb", "rnn_classifier", "text_classification", "imdb_reviews",
           dict(embedding_dim=64, units=64, dropout=0.5, num_classes=2, sequence_length=200, truncation_side="left",
                train_split="train[:95%]", validation_split="train[95%:]", eval_split="test",
                early_stopping_monitor="val_accuracy", early_stopping_patience=1), epochs=5,
           target=("accuracy", ">=", 0.85), reference="keras.io text classification: ≈0.88"),
    Recipe("bert-sst2", "bert", "text_classification", "glue/sst2",
           dict(head="classifier", num_classes=2, sequence_length=48, num_layers=2, num_heads=2, hidden_dim=128,
                intermediate_dim=256, learning_rate=2e-4), epochs=2,
           target=("accuracy", ">=", 0.78), reference="Transformer encoder from scratch"),
    Recipe("bert-imdb", "bert", "text_classification", "imdb_reviews",
           dict(head="classifier", num_classes=2, sequence_length=200, num_layers=2, num_heads=2, hidden_dim=64,
                intermediate_dim=128, learning_rate=3e-4, eval_split="test"), epochs=2,
           target=("accuracy", ">=", 0.85), reference="keras.io Transformer on IMDB: ≈0.88"),
    Recipe("bert-mrpc", "bert", "text_classification", "glue/mrpc",
           dict(head="classifier", num_classes=2, sequence_length=64, intermediate_dim=256, learning_rate=2e-4),
           epochs=4, target=("accuracy", ">=", 0.0), reference="Devlin et al. 2019 BERT-base: F1 88.9"),
    Recipe("bert-cola", "bert", "text_classification", "glue/cola",
           dict(head="classifier", num_classes=2, sequence_length=32, intermediate_dim=256, learning_rate=2e-4),
           epochs=4, target=("matthews_correlation", ">=", 0.0), reference="Devlin et al. 2019 BERT-base: MCC 52.1"),
    Recipe("bert_pretrained-sst2", "bert", "bert_pretraining", "glue/sst2",
           dict(head="classifier", num_classes=2, sequence_length=48, num_layers=2, num_heads=2, hidden_dim=128,
                intermediate_dim=256, learning_rate=2e-4, pretraining_steps=2000), epochs=2,
           target=("accuracy", ">=", 0.0), reference="Devlin et al. 2019: pre-training helps"),
    # BERT-Tiny's shape (Turc et al. 2019: L2/H128/A2); `--set checkpoint=runs/bert_pretraining-corpus/checkpoint`
    # then fine-tunes it in the bert-* recipes. Bounded by steps (cosine to 0 after a 5 % warm-up).
    Recipe("bert_pretraining-corpus", "bert", "masked_lm_pretraining", "pretraining_corpus",
           dict(head="pretraining", num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512,
                max_sequence_length=128, vocabulary_size=8192, optimizer="adamw", learning_rate=1e-3,
                weight_decay=0.01,
                schedule="cosine", warmup_steps=350, checkpoint_steps=1000), steps=7000,
           reference="Devlin et al. 2019 (MLM + NSP)"),
]  # fmt: skip
RECIPES = {recipe.name: recipe for recipe in _RECIPES}


def get_recipe(name):
    if name not in RECIPES:
        raise ConfigurationError(f"Unknown recipe '{name}'. Valid recipes: {', '.join(RECIPES)}.")
    return RECIPES[name]
