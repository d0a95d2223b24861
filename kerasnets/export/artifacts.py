"""A trained model on disk, with what its export needs: `model.keras` + `export.json`.

Training writes a directory

    runs/lenet5-fashion_mnist/
        model.keras      the trained model (reloads with no custom_objects)
        export.json      {"class_names": [...], "sequence_length": 128, "truncation_side": "left",
                          "tokenizer": <serialized Keras layer>, "generation": {...}}

and `kerasnets export runs/lenet5-fashion_mnist --name lenet5` turns it into a
served version. `export.json` is optional; a bare `.keras` file works too, and
so does a published GPT-2 / BERT checkpoint directory (`config.json` +
`model.safetensors` from Hugging Face, or a KerasHub preset), with its tokenizer.
"""

import json
import os
import zipfile

import keras

from kerasnets import files
from kerasnets.export.saved_model import DEFAULT_BASE_DIR, export_model

MODEL_FILENAME = "model.keras"
EXPORT_OPTIONS_FILENAME = "export.json"
_TOKENIZER_KEYS = ("tokenizer", "source_tokenizer", "target_tokenizer")


def save_for_export(
    directory,
    model,
    *,
    class_names=None,
    tokenizer=None,
    sequence_length=None,
    truncation_side="right",
    text_pair=False,
    generation=None,
):
    """Saves `model` and the options its export needs into `directory`."""
    os.makedirs(directory, exist_ok=True)
    with files.replacing(os.path.join(directory, MODEL_FILENAME)) as staging:
        model.save(staging)
    options = {}
    if class_names is not None:
        options["class_names"] = [str(name) for name in class_names]
    if tokenizer is not None:
        options["tokenizer"] = keras.saving.serialize_keras_object(tokenizer)
    if sequence_length is not None:
        options["sequence_length"] = int(sequence_length)
    if truncation_side != "right":
        options["truncation_side"] = truncation_side
    if text_pair:
        options["text_pair"] = True
    if generation:
        options["generation"] = {
            key: keras.saving.serialize_keras_object(value) if key in _TOKENIZER_KEYS else value
            for key, value in generation.items()
        }
    files.write_json(os.path.join(directory, EXPORT_OPTIONS_FILENAME), options)


def _is_checkpoint_directory(source):
    return (
        os.path.isdir(source)
        and not os.path.isfile(os.path.join(source, MODEL_FILENAME))
        and os.path.isfile(os.path.join(source, "config.json"))
    )


def load_checkpoint_for_export(directory):
    """`(model, export options)` of a published GPT-2 / BERT checkpoint directory (Hugging Face or
    KerasHub): GPT-2 is served from prompt strings (`generate`, `sample`, `beam_search`), BERT from
    texts (its sequence and pooled outputs)."""
    from kerasnets import models, tokenizers

    model = models.from_pretrained(directory, download=False)
    tokenizer = tokenizers.from_pretrained(directory, download=False)
    if isinstance(model, models.GPTCausalLM):
        return model, {"generation": {"tokenizer": tokenizer}}
    return model, {"tokenizer": tokenizer}


def load_for_export(source):
    """`(model, export options)` from a `.keras` file, a directory written by `save_for_export`,
    or a published checkpoint directory (see `load_checkpoint_for_export`)."""
    if _is_checkpoint_directory(source):
        return load_checkpoint_for_export(source)
    if os.path.isdir(source):
        model_path = os.path.join(source, MODEL_FILENAME)
        options_path = os.path.join(source, EXPORT_OPTIONS_FILENAME)
    else:
        model_path, options_path = source, None
    if not os.path.isfile(model_path):
        raise FileNotFoundError(
            f"No model at {model_path}: give a .keras file or a directory holding {MODEL_FILENAME}."
        )
    if not model_path.endswith(".keras"):
        raise ValueError(f"{model_path} is not a .keras file.")
    damaged = f"{model_path} is not a readable .keras file (truncated or damaged?)"
    if not zipfile.is_zipfile(model_path):  # Keras would call it "File not found"
        raise ValueError(f"{damaged}: not a zip archive.")
    try:
        model = keras.saving.load_model(model_path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValueError(f"{damaged}: {error}") from None
    options = {}
    if options_path and os.path.isfile(options_path):
        with open(options_path, encoding="utf-8") as handle:
            try:
                options = json.load(handle)
            except json.JSONDecodeError as error:
                raise ValueError(f"{options_path} is not valid JSON: {error}") from None
        if "tokenizer" in options:
            options["tokenizer"] = keras.saving.deserialize_keras_object(options["tokenizer"])
        generation = options.get("generation")
        if generation:
            for key in _TOKENIZER_KEYS:
                if key in generation:
                    generation[key] = keras.saving.deserialize_keras_object(generation[key])
    return model, options


def export_from_path(source, name, *, base_dir=DEFAULT_BASE_DIR, **kwargs):
    """Loads `source` (see `load_for_export`) and exports it with `export_model`."""
    model, options = load_for_export(source)
    options.update({key: value for key, value in kwargs.items() if value is not None})
    return export_model(model, name, base_dir=base_dir, **options)
