"""What each kind of recipe trains on and how it is scored.

A task turns a recipe's flat configuration into tf.data pipelines, builds and
compiles the model, and computes the held-out metrics:

    image_classification   MNIST / Fashion-MNIST → probabilities; accuracy
    text_classification    SST-2, IMDB, CoLA, MRPC (pairs with segment ids); accuracy, F1, MCC
    language_modeling      Tiny Shakespeare characters; loss (nats/char), perplexity
    translation            English → Spanish, teacher forcing; loss, accuracy, BLEU
    bert_pretraining       MLM + NSP on a text corpus, then fine-tuning on a classification task

Every task reads its data through `kerasnets.data` (tensorflow-datasets;
offline from the data root where the files are there).
"""

import math
import os

import keras
import numpy as np
import tensorflow as tf

from kerasnets import data, models
from kerasnets.training import metrics as extra_metrics
from kerasnets.training.errors import ConfigurationError
from kerasnets.training.schedules import TransformerSchedule

# Keys every task understands; a recipe or `--set` may override any of them.
COMMON_DEFAULTS = dict(
    batch_size=64,
    optimizer="adam",  # or "adamw", "lamb", "sgd" (with `momentum`)
    momentum=0.9,
    learning_rate=1e-3,
    weight_decay=0.0,
    weight_decay_matrices_only=False,  # AdamW: decay weight matrices and embeddings, not biases or norms (GPT-2's rule)
    beta_2=0.999,  # Adam / AdamW second-moment decay
    global_clipnorm=0.0,  # > 0: gradients scaled so that their global norm is at most this
    min_learning_rate=0.0,  # schedule="cosine" decays to this instead of 0
    warmup_steps=0,  # > 0: the Transformer schedule of Vaswani et al. (learning_rate is then its scale)
    schedule="constant",  # or "cosine": learning_rate decays to 0 over the run (cos, Loshchilov & Hutter)
    train_split="train",
    eval_split="test",
    validation_split=None,  # None: the eval split
    steps_per_epoch=None,  # None: one pass over the training split
    checkpoint_steps=500,  # a crash-safe checkpoint every this many steps (0: only at epoch ends)
    validation_freq=1,  # validate after every this many epochs
    early_stopping_patience=0,  # > 0: stop after this many validated epochs without improvement, keep the best
    early_stopping_monitor="val_loss",  # the validation metric early stopping watches (lower is better for losses)
    mixed_precision="float32",  # or "mixed_float16" (loss-scaled), "mixed_bfloat16"; outputs stay float32
    seed=0,
    jit_compile="auto",
    data_root=None,
    data_dir=None,
)


RECURRENT_BUILDERS = ("rnn_classifier", "rnn_language_model", "seq2seq")


def pretraining_losses():
    """BertPretrainer's two losses (`data.bert_pretraining_dataset`'s targets and weights).

    Each is `Σ w·(−log p) / Σ w`: the mean over the masked-token slots (and the two-segment
    examples) that carry weight, so the progress bar shows the loss per masked token rather
    than one diluted by the padding slots, which `"sum_over_batch_size"` would also count.
    """
    return {
        name: keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight", name=f"{name}_loss")
        for name in ("mlm_probabilities", "nsp_probabilities")
    }


def make_optimizer(config, model_width=None, variables=None):
    """Adam / AdamW / LAMB / SGD from the configuration; `warmup_steps > 0` uses `TransformerSchedule`.

    With `weight_decay_matrices_only`, AdamW leaves the 0-D and 1-D `variables` (biases, norm
    scales and offsets) undecayed.
    """
    learning_rate = config["learning_rate"]
    warmup_steps = int(config["warmup_steps"] or 0)
    kwargs = {}
    if config["schedule"] == "cosine":
        # Keras' CosineDecay warms up linearly to `learning_rate` itself, then decays over the rest.
        total = max(1, config.get("total_steps") or 1)
        floor = float(config["min_learning_rate"] or 0.0)
        if floor > learning_rate:
            raise ConfigurationError(f"min_learning_rate={floor} is above learning_rate={learning_rate}.")
        learning_rate = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup_steps else learning_rate,
            decay_steps=max(1, total - warmup_steps),
            alpha=floor / learning_rate,  # of the peak: lr_t = floor + (peak - floor)·½(1 + cos πt/T)
            warmup_target=learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    elif config["schedule"] != "constant":
        raise ConfigurationError(f"Unknown schedule '{config['schedule']}'. Valid schedules: constant, cosine.")
    elif warmup_steps:
        learning_rate = TransformerSchedule(model_width, warmup_steps, scale=learning_rate)
        kwargs = dict(beta_1=0.9, beta_2=0.98, epsilon=1e-9)  # §5.3
    name = config["optimizer"]
    if config["global_clipnorm"]:
        kwargs["global_clipnorm"] = float(config["global_clipnorm"])
    if name in ("adam", "adamw", "lamb"):
        kwargs.setdefault("beta_2", float(config["beta_2"]))
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, **kwargs)
    if name == "adamw":
        optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=config["weight_decay"] or 0.01, **kwargs)
        if config["weight_decay_matrices_only"] and variables is not None:
            optimizer.exclude_from_weight_decay(var_list=[v for v in variables if len(v.shape) < 2])
        return optimizer
    if name == "lamb":  # You et al. 2020: Adam's step rescaled per variable to lr·‖w‖ / ‖step‖
        return keras.optimizers.Lamb(learning_rate, **kwargs)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=config["momentum"], **kwargs)
    raise ConfigurationError(f"Unknown optimizer '{name}'. Valid optimizers: adam, adamw, lamb, sgd.")


def model_options(builder, config):
    """The builder's own hyperparameters out of the flat configuration."""
    names = models.hyperparameters(builder)
    return {key: value for key, value in config.items() if key in names and key != "name"}


def count_batches(dataset):
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        return cardinality
    return sum(1 for _ in dataset)


CHECKPOINT_BUILDERS = ("bert", "gpt")  # what `--set checkpoint=DIR` can start from


def checkpoint_tokenizer(recipe, config):
    """The tokenizer of `config["checkpoint"]` (a published GPT-2 / BERT directory), or None."""
    checkpoint = config.get("checkpoint")
    if checkpoint is None:
        return None
    if not isinstance(checkpoint, str) or not checkpoint:
        raise ConfigurationError(f"Setting 'checkpoint' of recipe {recipe.name} must be a directory, got {checkpoint!r}.")
    if recipe.builder not in CHECKPOINT_BUILDERS:
        raise ConfigurationError(
            f"Recipe {recipe.name} trains {recipe.builder}; checkpoint=… starts {' and '.join(CHECKPOINT_BUILDERS)} "
            "recipes only."
        )
    from kerasnets import tokenizers

    expected = {"bert": "bert", "gpt": "gpt2"}[recipe.builder]
    try:
        found = models.checkpoint_files(models.pretrained.resolve(checkpoint, download=False))
        if found["model_type"] != expected:
            raise ValueError(f"{checkpoint} holds a {found['model_type']} model; recipe {recipe.name} needs {expected}.")
        return tokenizers.from_pretrained(checkpoint, download=False)
    except (ValueError, OSError) as error:
        raise ConfigurationError(f"checkpoint={checkpoint}: {str(error).strip().splitlines()[0]}") from None


def checkpoint_model(config, **task_arguments):
    """The model of `config["checkpoint"]`, its weights loaded unless `checkpoint_weights` is
    False (then the same architecture from scratch); dropout from the recipe."""
    return models.from_pretrained(
        config["checkpoint"], download=False, weights=bool(config.get("checkpoint_weights", True)),
        dropout=config["dropout"], **task_arguments,
    )  # fmt: skip


class Task:
    """Base class: `datasets` → (train, validation, steps per epoch); `build`; `evaluate`."""

    defaults = {}
    jit_compile = True

    def __init__(self, recipe, config):
        self.recipe = recipe
        self.config = config
        self.export_options = {}

    def data_kwargs(self):
        return dict(data_root=self.config["data_root"], data_dir=self.config["data_dir"])

    def datasets(self):
        raise NotImplementedError

    def build(self):
        return models.build(self.recipe.builder, **model_options(self.recipe.builder, self.config))

    def loss(self):
        return "sparse_categorical_crossentropy"

    def uses_xla(self):
        """Whether the train step is compiled with XLA: the `jit_compile` setting, else the task's default."""
        jit = self.config["jit_compile"]
        if jit == "auto":
            # The recurrent layers compile with XLA but train about half as fast with it on CPU
            # (benchmarks/lstm_speed.py); `--set jit_compile=True` turns it on.
            jit = self.jit_compile and self.recipe.builder not in RECURRENT_BUILDERS
        return bool(jit)

    def compile(self, model):
        model.compile(
            optimizer=make_optimizer(self.config, self.model_width(), model.trainable_variables),
            loss=self.loss(),
            metrics=self.metrics(),
            weighted_metrics=self.weighted_metrics(),
            jit_compile=self.uses_xla(),
        )

    def metrics(self):
        return ["accuracy"]

    def weighted_metrics(self):
        """Metrics weighted by the pipeline's sample weights (None: the pipeline has none)."""
        return None

    def model_width(self):
        return self.config.get("hidden_dim") or self.config.get("units") or 128

    def evaluate(self, model):
        """Held-out metrics under Keras' names: `model.evaluate` on the eval split."""
        results = model.evaluate(self.eval_dataset(), verbose=0, return_dict=True)
        return {key: float(value) for key, value in results.items()}

    def eval_dataset(self):
        raise NotImplementedError

    def save_outputs(self, output, model):
        """Writes what the run leaves beside `model.keras` (before `metrics.json` marks it finished)."""


class ImageClassification(Task):
    defaults = dict(batch_size=128, image_rows_as_sequence=False)
    # On CPU XLA's own convolution and dense kernels train these models 1.7-6x slower than
    # TensorFlow's oneDNN ones (benchmarks/conv_speed.py); `--set jit_compile=True` turns it on.
    jit_compile = False

    def _load(self, split, training):
        dataset = data.load_image_classification(
            self.recipe.dataset, split, self.config["batch_size"], shuffle=training, seed=self.config["seed"],
            repeat=training, **self.data_kwargs(),
        )  # fmt: skip
        if self.config["image_rows_as_sequence"]:  # (B, 28, 28, 1) → 28 time steps of 28 pixels
            dataset = dataset.map(lambda x, y: (tf.squeeze(x, -1), y))
        return dataset

    def datasets(self):
        self.export_options = {"class_names": data.images.CLASS_NAMES.get(self.recipe.dataset)}
        steps = count_batches(self._load(self.config["train_split"], False))
        validation = self._load(self.config["validation_split"] or self.config["eval_split"], False)
        return self._load(self.config["train_split"], True), validation, steps

    def eval_dataset(self):
        return self._load(self.config["eval_split"], False)


class TextClassification(Task):
    # checkpoint: a BERT checkpoint directory (Hugging Face or KerasHub) to fine-tune, with its WordPiece vocabulary;
    # checkpoint_weights=False: its architecture and vocabulary with fresh weights (the from-scratch baseline).
    defaults = dict(batch_size=32, sequence_length=64, truncation_side="right", max_tokens=20_000,
                    eval_split="validation", checkpoint=None, checkpoint_weights=True)  # fmt: skip
    jit_compile = False  # keep the id pipelines simple; the models are small
    tokenizer = None  # learnt from the training split by `datasets`

    def _bert(self):
        return self.recipe.builder == "bert"

    def _load(self, split, training, tokenizer=None):
        dataset, tokenizer = data.load_text_classification(
            self.recipe.dataset, split, self.config["batch_size"],
            sequence_length=self.config["sequence_length"], truncation_side=self.config["truncation_side"],
            tokenizer=tokenizer or self.tokenizer,
            max_tokens=self.config["max_tokens"], tokenizer_split=self.config["train_split"],
            bert_inputs=self._bert() or None, input_name=None if self._bert() else "token_ids",
            shuffle=training, seed=self.config["seed"], repeat=training, **self.data_kwargs(),
        )  # fmt: skip
        return dataset, tokenizer

    def datasets(self):
        self.tokenizer = checkpoint_tokenizer(self.recipe, self.config) or self.tokenizer
        plain, self.tokenizer = self._load(self.config["train_split"], False)
        self.config["vocabulary_size"] = self.tokenizer.vocabulary_size()
        if self._bert() and not self.config["checkpoint"]:
            self.config["max_sequence_length"] = self.config["sequence_length"]
        train, _ = self._load(self.config["train_split"], True)
        validation, _ = self._load(self.config["validation_split"] or self.config["eval_split"], False)
        names = {"glue/cola": ("unacceptable", "acceptable"), "glue/mrpc": ("not_equivalent", "equivalent")}
        self.export_options = {
            "class_names": names.get(self.recipe.dataset, ("negative", "positive")),
            "sequence_length": self.config["sequence_length"],
            "truncation_side": self.config["truncation_side"],
        }
        self.export_options["tokenizer"] = self.tokenizer  # BERT: served text is packed as [CLS] a [SEP] (b [SEP])
        if self._bert() and self.recipe.dataset == "glue/mrpc":
            self.export_options["text_pair"] = True
        return train, validation, count_batches(plain)

    def build(self):
        if self.config["checkpoint"]:
            return checkpoint_model(self.config, head="classifier", num_classes=self.config["num_classes"])
        return super().build()

    def eval_dataset(self):
        return self._load(self.config["eval_split"], False)[0]

    def evaluate(self, model):
        results = super().evaluate(model)
        if self.recipe.dataset in ("glue/mrpc", "glue/cola"):
            labels, predicted = [], []
            for inputs, targets in self.eval_dataset():
                labels.append(targets.numpy())
                predicted.append(np.argmax(model.predict_on_batch(inputs), axis=-1))
            labels, predicted = np.concatenate(labels), np.concatenate(predicted)
            if self.recipe.dataset == "glue/mrpc":
                results["f1"] = extra_metrics.binary_f1(labels, predicted)
            else:
                results["matthews_correlation"] = extra_metrics.matthews_correlation(labels, predicted)
        return results


class LanguageModeling(Task):
    # checkpoint: a GPT-2 checkpoint directory (Hugging Face or KerasHub) to fine-tune, with its BPE vocabulary.
    defaults = dict(
        batch_size=32, sequence_length=None, eval_split="test", validation_split="validation", checkpoint=None,
        checkpoint_weights=True,
    )
    tokenizer = None  # learnt from the training split by `datasets`

    def _window(self):
        return self.config["sequence_length"] or self.config.get("max_sequence_length") or 100

    def _load(self, split, training, repeat=None):
        dataset, tokenizer = data.load_language_modeling(
            self.recipe.dataset, split, sequence_length=self._window(), batch_size=self.config["batch_size"],
            tokenizer=self.tokenizer, shuffle=training, seed=self.config["seed"],
            repeat=training if repeat is None else repeat, **self.data_kwargs(),
        )  # fmt: skip
        return dataset, tokenizer

    def datasets(self):
        self.tokenizer = checkpoint_tokenizer(self.recipe, self.config) or self.tokenizer
        plain, self.tokenizer = self._load(self.config["train_split"], False, repeat=False)
        self.config["vocabulary_size"] = self.tokenizer.vocabulary_size()
        # From a checkpoint the context is the checkpoint's (windows must fit in it: checked in `build`).
        if not self.config["checkpoint"] and "max_sequence_length" in models.hyperparameters(self.recipe.builder):
            self.config["max_sequence_length"] = max(self.config.get("max_sequence_length") or 0, self._window())
        train, _ = self._load(self.config["train_split"], True)
        validation, _ = self._load(self.config["validation_split"] or self.config["eval_split"], False)
        self.export_options = {"generation": {"tokenizer": self.tokenizer}}
        return train, validation, count_batches(plain)

    def build(self):
        if not self.config["checkpoint"]:
            return super().build()
        model = checkpoint_model(self.config)
        if self._window() > model.max_sequence_length:
            raise ConfigurationError(
                f"sequence_length={self._window()} exceeds the checkpoint's context of {model.max_sequence_length}."
            )
        return model

    def eval_dataset(self):
        return self._load(self.config["eval_split"], False)[0]

    def evaluate(self, model):
        results = super().evaluate(model)
        results["perplexity"] = extra_metrics.perplexity(results["loss"])
        return results


class Translation(Task):
    defaults = dict(
        batch_size=64, sequence_length=20, max_tokens=15_000, eval_split="test", validation_split="validation",
        bleu_examples=2000, bleu_beam_width=0,  # > 0: also BLEU of beam search with this many beams
    )  # fmt: skip
    tokenizers = (None, None)  # (source, target), learnt from the training split by `datasets`

    def _shared(self):
        return self.recipe.builder == "transformer" and self.config.get("target_vocabulary_size") is None

    def _load(self, split, training):
        dataset, tokenizers = data.load_translation(
            self.recipe.dataset, split, self.config["batch_size"], sequence_length=self.config["sequence_length"],
            source_tokenizer=self.tokenizers[0], target_tokenizer=self.tokenizers[1],
            max_tokens=self.config["max_tokens"], shared_vocabulary=self._shared(),
            tokenizer_split=self.config["train_split"], shuffle=training, seed=self.config["seed"],
            repeat=training, **self.data_kwargs(),
        )  # fmt: skip
        return dataset, tokenizers

    def datasets(self):
        plain, self.tokenizers = self._load(self.config["train_split"], False)
        source, target = self.tokenizers
        if self.recipe.builder == "transformer":
            self.config["vocabulary_size"] = source.vocabulary_size()
            if not self._shared():
                self.config["target_vocabulary_size"] = target.vocabulary_size()
            self.config["max_sequence_length"] = max(self.config.get("max_sequence_length") or 0,
                                                     self.config["sequence_length"] + 1)  # fmt: skip
        else:
            self.config["source_vocabulary_size"] = source.vocabulary_size()
            self.config["target_vocabulary_size"] = target.vocabulary_size()
        train, _ = self._load(self.config["train_split"], True)
        validation, _ = self._load(self.config["validation_split"] or self.config["eval_split"], False)
        self.export_options = {"generation": {"source_tokenizer": source, "target_tokenizer": target}}
        return train, validation, count_batches(plain)

    def loss(self):
        # Padded target positions carry no loss (the models' outputs keep the target padding mask).
        return keras.losses.SparseCategoricalCrossentropy(ignore_class=0)

    def metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def eval_dataset(self):
        return self._load(self.config["eval_split"], False)[0]

    def evaluate(self, model):
        """Keras' loss and token accuracy, then BLEU of greedy decoding on `bleu_examples` pairs:

        - `bleu`: against the references as the target tokenizer sees them (lowercased,
          punctuation stripped), the only text the model can produce;
        - `sacrebleu`: sacreBLEU's standard corpus BLEU (13a tokenization, cased) of the same
          output against the raw references, as papers report it. The output is the target
          tokenizer's detokenized text: lowercase words joined by spaces, no punctuation, so
          every capital and punctuation mark of a reference counts as a miss;
        - `bleu_beam` / `sacrebleu_beam`: the same two with beam search of `bleu_beam_width`
          beams, when it is > 0.
        """
        results = super().evaluate(model)
        width = int(self.config["bleu_beam_width"] or 0)
        samplers = {"": None}
        if width > 0:
            from kerasnets.samplers import BeamSampler

            samplers["_beam"] = BeamSampler(num_beams=width)
        hypotheses, normalized, raw = self.translate(model, self.config["bleu_examples"], samplers)
        for suffix, outputs in hypotheses.items():
            results[f"bleu{suffix}"] = extra_metrics.corpus_bleu(outputs, normalized)
            results[f"sacrebleu{suffix}"] = extra_metrics.corpus_bleu(outputs, raw)
        if width > 0:
            results["bleu_beam_width"] = width
        return results

    def translate(self, model, limit=None, samplers=None):
        """`({key: hypotheses}, normalized references, raw references)` for the first `limit` eval pairs,
        one list of hypotheses per sampler of `samplers` ({key: sampler}; None = greedy), the pairs
        read and the sources tokenized once for all of them."""
        samplers = {"": None} if samplers is None else samplers
        source_tokenizer, target_tokenizer = self.tokenizers
        start, end = target_tokenizer.special_token_ids["[start]"], target_tokenizer.special_token_ids["[end]"]
        pairs = data.load_pairs(self.recipe.dataset, self.config["eval_split"], **self.data_kwargs())
        if limit:
            pairs = pairs.take(int(limit))
        hypotheses, normalized, raw = {key: [] for key in samplers}, [], []
        length = self.config["sequence_length"]
        for sources, targets in pairs.batch(256):
            ids = source_tokenizer.tokenize(sources, sequence_length=length)
            for key, sampler in samplers.items():
                generated = model.generate(ids, length, start_token_id=start, end_token_id=end, sampler=sampler)
                generated = np.where(generated == end, 0, generated)
                hypotheses[key] += [t.decode() for t in target_tokenizer.detokenize(generated).numpy()]
            normalized += [t.decode() for t in target_tokenizer.standardize(targets).numpy()]
            raw += [t.decode() for t in targets.numpy()]
        return hypotheses, normalized, raw


class BertPretrainingThenFineTuning(TextClassification):
    """MLM + NSP pre-training on `pretraining_dataset`, then fine-tuning on the recipe's dataset.

    The word-piece-free tokenizer (a `WordTokenizer` with [CLS], [SEP], [MASK])
    is learnt on the pre-training text and reused for fine-tuning; the
    classifier is built on the pre-trainer's own backbone object
    (`BertClassifier(pretrainer.backbone)`), its pooler included.
    """

    defaults = dict(
        TextClassification.defaults, pretraining_dataset="imdb_reviews", pretraining_steps=2000,
        pretraining_batch_size=32, pretraining_learning_rate=1e-3, max_predictions=20, pretraining_split="train",
    )  # fmt: skip

    def datasets(self):
        if self.config["checkpoint"]:
            raise ConfigurationError(
                f"Recipe {self.recipe.name} pre-trains its own BERT; to fine-tune a published checkpoint use "
                f"bert-{self.recipe.name.split('-', 1)[1]} --set checkpoint=…"
            )
        split = self.config["pretraining_split"]
        pretraining, self.tokenizer = data.load_bert_pretraining(
            self.config["pretraining_dataset"], split, self.config["pretraining_batch_size"], tokenizer_split=split,
            sequence_length=self.config["sequence_length"], max_predictions=self.config["max_predictions"],
            max_tokens=self.config["max_tokens"], seed=self.config["seed"], **self.data_kwargs(),
        )  # fmt: skip
        self.pretraining = pretraining.repeat()
        return super().datasets()

    def build(self):
        options = model_options("bert", self.config)  # the recipe's classifier
        pretrainer = models.build("bert", **dict(options, head="pretraining"))
        pretrainer.compile(
            optimizer=keras.optimizers.AdamW(self.config["pretraining_learning_rate"]),
            loss=pretraining_losses(),
            metrics={"mlm_probabilities": "accuracy", "nsp_probabilities": "accuracy"},
        )  # fmt: skip
        steps = int(self.config["pretraining_steps"])
        if steps > 0:
            print(f"Pre-training (MLM + NSP) on {self.config['pretraining_dataset']} for {steps} steps")
            epochs = max(1, min(10, steps // 100))
            history = pretrainer.fit(self.pretraining, epochs=epochs, steps_per_epoch=math.ceil(steps / epochs))
            self.pretraining_history = history.history
        return models.BertClassifier(pretrainer.backbone, num_classes=options.get("num_classes", 2))


class BertPretraining(Task):
    """MLM + NSP pre-training of a BERT on the unlabelled corpus (`data.load_pretraining_corpus`),
    written as a Hugging Face checkpoint directory `<run>/checkpoint` that the `bert-*` recipes
    fine-tune with `--set checkpoint=<run>/checkpoint`.

    A WordPiece vocabulary of `vocabulary_size` is learnt on the training documents first (Hugging
    Face `tokenizers`' trainer). Validation and the final scores are on the held-out documents (IMDB
    test reviews, Shakespeare's validation split), masked the same way every time: held-out
    masked-token accuracy and next-sentence accuracy (chance: 0.5), weighted so that one-segment
    examples and padding slots do not count.
    """

    # XLA makes this model's train step twice as slow on CPU (341 vs 170 ms for 32 × 64 tokens, 2-core EPYC).
    jit_compile = False
    # mask_rate: the share of tokens the masked LM predicts (Devlin et al.: 0.15; Wettig et al. 2023 found 0.4
    # better), at most max_predictions a sequence. next_sentence_rate: the share of "IsNext" training pairs; 1.0
    # gives contiguous segments only, so NSP has nothing to learn (RoBERTa's finding that NSP does not help).
    # Held-out NSP accuracy stays measured on 50/50 pairs.
    defaults = dict(batch_size=32, sequence_length=64, max_predictions=10, mask_rate=0.15, next_sentence_rate=0.5,
                    vocabulary_size=8192, steps_per_epoch=500, eval_split="held_out", checkpoint=None, corpus_sources=list(data.pretraining_corpus.TRAIN_SOURCES))  # fmt: skip

    def datasets(self):
        from kerasnets.tokenizers import train_wordpiece

        if self.config["checkpoint"]:
            raise ConfigurationError(f"Recipe {self.recipe.name} pre-trains from scratch; checkpoint=… is for bert-*.")
        seed = int(self.config["seed"])
        documents = data.load_pretraining_corpus(
            "train", sources=tuple(self.config["corpus_sources"]), seed=seed, **self.data_kwargs()
        )
        print(f"Learning a {self.config['vocabulary_size']}-token WordPiece vocabulary on the pre-training corpus")
        segments = documents.map(lambda document: tf.strings.split(document, "\n")).unbatch()
        self.tokenizer = train_wordpiece(segments, int(self.config["vocabulary_size"]))
        self.config["vocabulary_size"] = self.tokenizer.vocabulary_size()
        shape = dict(sequence_length=int(self.config["sequence_length"]),
                     max_predictions=int(self.config["max_predictions"]), mask_rate=float(self.config["mask_rate"]),
                     single_segment_documents=True)  # fmt: skip
        train = data.bert_pretraining_dataset(documents, self.tokenizer, int(self.config["batch_size"]), **shape,
                                              next_sentence_rate=float(self.config["next_sentence_rate"]),
                                              seed=seed, repeat=True)  # fmt: skip
        self.held_out = data.bert_pretraining_dataset(
            data.load_pretraining_corpus("held_out", seed=None, **self.data_kwargs()), self.tokenizer,
            int(self.config["batch_size"]), **shape, shuffle=False, dynamic_masking=False, seed=seed + 1,
        )  # fmt: skip
        return train, self.held_out, None  # epochs of `steps_per_epoch` batches

    def loss(self):
        return pretraining_losses()

    def metrics(self):
        return None

    def weighted_metrics(self):  # padding slots and one-segment examples carry weight 0
        return {"mlm_probabilities": ["accuracy"], "nsp_probabilities": ["accuracy"]}

    def eval_dataset(self):
        return self.held_out

    def evaluate(self, model):
        results = super().evaluate(model)
        results["mlm_most_frequent_token_accuracy"] = extra_metrics.most_frequent_target_rate(self.held_out)
        return results

    def save_outputs(self, output, model):
        from kerasnets.models.save_pretrained import save_pretrained

        save_pretrained(model, os.path.join(output, "checkpoint"), tokenizer=self.tokenizer)


TASKS = {
    "image_classification": ImageClassification,
    "text_classification": TextClassification,
    "language_modeling": LanguageModeling,
    "translation": Translation,
    "bert_pretraining": BertPretrainingThenFineTuning,
    "masked_lm_pretraining": BertPretraining,
}
