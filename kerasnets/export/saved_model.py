"""Export a Keras model as a versioned SavedModel that TensorFlow Serving serves.

    exported = export_model(model, "lenet5", class_names=FASHION_MNIST_CLASSES)
    # saved_models/lenet5/1/{saved_model.pb, variables/, assets/}
    # saved_models/models.config gains an entry for "lenet5"

Signatures written (see `saved_model_cli show --dir saved_models/lenet5/1 --all`):

* `serving_default` — the model's own named inputs → its named outputs
  (e.g. `image` → `probabilities`), float32 outputs, batch dimension None.
  Classifiers also return `class_id`, `score` and, given `class_names`, `label`.
* Text models exported with a `tokenizer`: `serving_default` takes raw strings
  (`text`, shape `(None,)`), tokenizes them in the graph, and returns the same
  outputs; the token-id function stays available as `predict_token_ids`.
  BERT models pack the WordPiece ids as `[CLS] a [SEP] (b [SEP])` with segment
  ids in the graph too: `classify_text` (`text`) and `classify_text_pair`
  (`text`, `text_pair`), one of them as `serving_default`.
* Generative models (`gpt`, `rnn_language_model`, `seq2seq`, `transformer`)
  additionally get `generate` (greedy), `sample` (top-k / temperature with a
  seed) and `beam_search`, running the whole decoding loop in the graph; see
  `kerasnets.export.generation_signatures`.
"""

import collections
import os

import keras
import tensorflow as tf

from kerasnets.export import signatures as sig
from kerasnets.export.generation_signatures import DEFAULT_MAX_TEXT_BYTES, checked_texts
from kerasnets.export.model_config import update_model_config
from kerasnets.export.versions import atomic_version_directory, check_version, next_version

DEFAULT_BASE_DIR = "saved_models"

ExportedModel = collections.namedtuple("ExportedModel", ["name", "version", "path", "signatures"])


def _check_name(name):
    if not name or not isinstance(name, str) or "/" in name or ":" in name or name.startswith("."):
        raise ValueError(
            f"A model name must be a non-empty string without '/', ':' or a leading '.', got {name!r}."
        )
    return name


def _is_text_model(model):
    names = set(sig.input_specs(model))
    return "token_ids" in names and not names & {"encoder_token_ids", "decoder_token_ids"}


def _is_bert_model(model):
    return {"token_ids", "segment_ids", "padding_mask"} <= set(sig.input_specs(model))


def _bert_text_signatures(archive, model, tokenizer, sequence_length, text_pair, outputs_for, numeric):
    """`serving_default` for a BERT model: strings → WordPiece → `[CLS] a [SEP] (b [SEP])` → outputs.

    Signatures: `classify_text` (`text`), `classify_text_pair` (`text`, `text_pair`),
    `serving_default` (the pair one when `text_pair`), `predict_token_ids` (the three id inputs).
    """
    from kerasnets.tokenizers.bert_packer import BertPacker

    specials = getattr(tokenizer, "special_token_ids", {})
    missing = [token for token in ("[CLS]", "[SEP]") if token not in specials]
    if missing:
        raise ValueError(f"A BERT model's tokenizer needs the special tokens {missing} to pack its inputs.")
    backbone = getattr(model, "backbone", model)
    length = sequence_length or getattr(backbone, "max_sequence_length", None)
    if length is None:
        raise ValueError(f"Pass sequence_length to export BERT model '{model.name}' with a tokenizer.")
    packer = BertPacker(
        length, specials["[CLS]"], specials["[SEP]"], pad_id=specials.get("[PAD]", 0), name="bert_packer"
    )
    archive.track(packer)

    def ids(texts):
        return tokenizer.tokenize_ragged(checked_texts(texts, DEFAULT_MAX_TEXT_BYTES, "text"))

    def single(inputs):
        return outputs_for(packer(ids(inputs["text"])))

    def pair(inputs):
        return outputs_for(packer(ids(inputs["text"]), ids(inputs["text_pair"])))

    text = tf.TensorSpec([None], tf.string, name="text")
    single_function = tf.function(single, input_signature=[{"text": text}])
    pair_function = tf.function(
        pair, input_signature=[{"text": text, "text_pair": tf.TensorSpec([None], tf.string, name="text_pair")}]
    )
    archive.add_endpoint("serving_default", pair_function if text_pair else single_function)
    archive.add_endpoint("classify_text", single_function)
    archive.add_endpoint("classify_text_pair", pair_function)
    archive.add_endpoint("predict_token_ids", numeric)
    return ["serving_default", "classify_text", "classify_text_pair", "predict_token_ids"]


def _add_default_signatures(
    archive, model, class_names, tokenizer, sequence_length, text_pair=False, truncation_side="right"
):
    specs = sig.input_specs(model)
    probabilities_name = "probabilities" if "probabilities" in sig.output_names(model) else None

    def outputs_for(inputs):
        # A wrong rank must fail as an error, not abort the server (oneDNN convolutions CHECK-fail).
        inputs = {name: tf.ensure_shape(value, specs[name].shape) for name, value in inputs.items()}
        outputs = sig.named_outputs(model, sig.call_model(model, inputs))
        probabilities = outputs.get(probabilities_name)
        if probabilities is not None and probabilities.shape.rank == 2:
            outputs.update(sig.classification_outputs(probabilities, class_names))
        return outputs

    numeric = tf.function(outputs_for, input_signature=[specs], autograph=False)
    if tokenizer is None:
        archive.add_endpoint("serving_default", numeric)
        return ["serving_default"]

    if not _is_text_model(model):
        raise ValueError(
            f"A tokenizer was given, but model '{model.name}' does not take `token_ids`; "
            "pass the tokenizers of an encoder-decoder model through generation instead."
        )
    if not getattr(tokenizer, "built", True):
        tokenizer(tf.constant([""]))  # e.g. an adapted TextVectorization: build it so it can be tracked
    archive.track(tokenizer)
    if _is_bert_model(model):
        if truncation_side != "right":
            raise ValueError("truncation_side='left' is for token-id models; BERT inputs are truncated on the right.")
        return _bert_text_signatures(archive, model, tokenizer, sequence_length, text_pair, outputs_for, numeric)
    if text_pair:
        raise ValueError(f"text_pair=True is for BERT models; '{model.name}' takes one text.")
    minimum_length = sig.minimum_text_length(model)

    def from_text(inputs):
        texts = checked_texts(inputs["text"], DEFAULT_MAX_TEXT_BYTES, "text")
        token_ids = sig.fit_length(tokenizer(texts), sequence_length, minimum_length, truncation_side)
        return outputs_for(sig.token_inputs(model, token_ids))

    text_spec = {"text": tf.TensorSpec([None], tf.string, name="text")}
    archive.add_endpoint("serving_default", tf.function(from_text, input_signature=[text_spec]))
    archive.add_endpoint("predict_token_ids", numeric)
    return ["serving_default", "predict_token_ids"]


def export_model(
    model,
    name,
    *,
    base_dir=DEFAULT_BASE_DIR,
    version=None,
    class_names=None,
    tokenizer=None,
    sequence_length=None,
    truncation_side="right",
    text_pair=False,
    generation=None,
    update_config=True,
    config_base_path=None,
    batching=False,
    warmup=True,
    warmup_inputs=None,
):
    """Writes `model` to `<base_dir>/<name>/<version>/` as a SavedModel for TF Serving.

    Args:
        model: A built Functional Keras model (e.g. from `kerasnets.models`).
        name: The served model name (`/v1/models/{name}`).
        base_dir: The export root; TF Serving's `--model_base_path` is `<base_dir>/<name>`.
        version: A positive integer; by default one more than the newest version present.
        class_names: Names of the output classes; adds a `label` output to classifiers.
        tokenizer: For text classifiers: a layer mapping a `(B,)` string tensor to
            `(B, T)` int token ids padded with 0. Baked into the graph, so the
            served `serving_default` takes raw strings.
        sequence_length: Pad/truncate tokenized text to this length (None: the
            longest text of the request, at least the model's minimum; BERT:
            the model's context).
        truncation_side: "right" keeps a long text's first `sequence_length`
            tokens, "left" its last (as the model was trained).
        text_pair: BERT models with a tokenizer: `serving_default` takes
            `text` and `text_pair` (sentence pairs, e.g. MRPC) instead of `text`;
            both forms are also served as `classify_text` / `classify_text_pair`.
        generation: For generative models: a dict of keyword arguments for
            `kerasnets.export.generation_signatures.add_generation_signatures`
            (tokenizers, start/end token ids); `None` exports no decoding loop.
        update_config: Add the model to `<base_dir>/models.config`.
        config_base_path: The `base_path` to write into models.config (default:
            the absolute path of `<base_dir>/<name>`).
        batching: Also write `<base_dir>/batching_parameters.txt` for
            `--enable_batching` (see `kerasnets.serving.batching`).
        warmup: Write `assets.extra/tf_serving_warmup_requests` (PredictionLog
            records TF Serving and `kerasnets serve` replay before the version
            is AVAILABLE); see `kerasnets.export.warmup_requests`.
        warmup_inputs: {signature name: {input name: array-like}} (or a list of
            such dicts per signature): real batches to write as the warm-up
            records (each must run). None: one batch-1 default record per
            signature (zeros, a short text, a 2-token generation), kept only
            when it runs on the staged export.

    Returns:
        `ExportedModel(name, version, path, signatures)`.
    """
    _check_name(name)
    if truncation_side not in ("right", "left"):
        raise ValueError(f"truncation_side must be 'right' or 'left', got {truncation_side!r}.")
    if not isinstance(model, keras.Model) or not model.inputs:
        raise TypeError(f"export_model expects a built Functional keras.Model, got {type(model).__name__}.")
    model_dir = os.path.join(base_dir, name)
    version = next_version(model_dir) if version is None else check_version(version)

    archive = keras.export.ExportArchive()
    archive.track(model)
    names = []
    if generation is not None:  # first: it checks the model is generative
        from kerasnets.export.generation_signatures import add_generation_signatures

        names += add_generation_signatures(archive, model, **generation)
    names = (
        _add_default_signatures(archive, model, class_names, tokenizer, sequence_length, text_pair, truncation_side)
        + names
    )

    with atomic_version_directory(model_dir, version) as staging:
        archive.write_out(staging, verbose=False)
        if warmup:
            from kerasnets.export.warmup_requests import write_warmup_requests

            write_warmup_requests(staging, name, warmup_inputs)
    path = os.path.join(model_dir, str(version))
    if update_config:
        update_model_config(base_dir, name, config_base_path)
    if batching:
        from kerasnets.serving.batching import write_batching_parameters

        write_batching_parameters(base_dir)
    return ExportedModel(name, version, path, tuple(names))
