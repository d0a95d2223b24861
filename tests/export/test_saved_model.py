import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasnets
from kerasnets import models
from kerasnets.export import export_model, list_versions, read_model_config

TINY = {
    "mlp": {},
    "lenet5": {},
    "text_cnn": dict(vocabulary_size=50, embedding_dim=8, filters=4),
    "rnn_classifier": dict(units=8),
    "seq2seq": dict(source_vocabulary_size=40, target_vocabulary_size=30, embedding_dim=8, units=8),
    "bert": dict(vocabulary_size=60, num_layers=1, hidden_dim=16, intermediate_dim=32, max_sequence_length=16),
    "gpt": dict(vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16),
}


def example_inputs(model, batch=3, length=7, seed=0):
    """Random valid inputs for every named model input (ids ≥ 1 so nothing is padding)."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for tensor in model.inputs:
        name = tensor.name
        shape = [batch] + [length if dim is None else dim for dim in tensor.shape[1:]]
        if name == "padding_mask":
            inputs[name] = np.ones(shape, "int32")
        elif name == "segment_ids":
            inputs[name] = np.zeros(shape, "int32")
        elif "int" in str(tensor.dtype):
            inputs[name] = rng.integers(1, 10, size=shape).astype("int32")
        else:
            inputs[name] = rng.random(shape).astype("float32")
    return inputs


def serve_locally(path, signature="serving_default", **inputs):
    function = tf.saved_model.load(path).signatures[signature]
    return {name: value.numpy() for name, value in function(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


@pytest.mark.parametrize("architecture", sorted(TINY))
def test_served_outputs_equal_the_keras_model(architecture, tmp_path):
    model = models.build(architecture, **TINY[architecture])
    exported = export_model(model, architecture, base_dir=str(tmp_path))
    assert exported.version == 1 and exported.signatures[0] == "serving_default"
    for part in ("saved_model.pb", "variables", "assets"):
        assert os.path.exists(os.path.join(exported.path, part))

    inputs = example_inputs(model)
    expected = model(inputs if isinstance(model.input, dict) else next(iter(inputs.values())))
    expected = expected if isinstance(expected, dict) else {"probabilities": expected}
    served = serve_locally(exported.path, **inputs)
    for name, value in expected.items():
        assert served[name].dtype == np.float32
        np.testing.assert_allclose(served[name], np.asarray(value), atol=1e-5)

    signature = tf.saved_model.load(exported.path).signatures["serving_default"]
    _, input_specs = signature.structured_input_signature
    assert set(input_specs) == {tensor.name for tensor in model.inputs}
    assert all(spec.shape[0] is None for spec in input_specs.values())


def test_classifiers_return_class_id_score_and_label(tmp_path):
    model = models.lenet5()
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    exported = export_model(model, "lenet5", base_dir=str(tmp_path), class_names=names)
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    served = serve_locally(exported.path, image=images)
    probabilities = np.asarray(model(images))
    np.testing.assert_array_equal(served["class_id"], probabilities.argmax(-1))
    np.testing.assert_allclose(served["score"], probabilities.max(-1), atol=1e-6)
    assert [label.decode() for label in served["label"]] == [names[i] for i in probabilities.argmax(-1)]


def test_binary_sigmoid_classifier_scores_the_chosen_class(tmp_path):
    model = models.mlp()
    exported = export_model(model, "neuron", base_dir=str(tmp_path), class_names=["outside", "inside"])
    features = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    served = serve_locally(exported.path, features=features)
    p = np.asarray(model(features))[:, 0]
    np.testing.assert_array_equal(served["class_id"], (p >= 0.5).astype(int))
    np.testing.assert_allclose(served["score"], np.where(p >= 0.5, p, 1 - p), atol=1e-6)


def test_text_classifier_takes_raw_strings(tmp_path):
    vectorizer = keras.layers.TextVectorization(max_tokens=50, output_mode="int")
    vectorizer.adapt(["a good film", "a bad film", "good good acting", "bad plot"])
    model = models.text_cnn(vocabulary_size=50, embedding_dim=8, filters=4, ngram_sizes=(2, 3))
    exported = export_model(
        model, "sentiment", base_dir=str(tmp_path), tokenizer=vectorizer, class_names=["negative", "positive"]
    )
    assert exported.signatures == ("serving_default", "predict_token_ids")
    texts = ["a good film", "Bad!"]  # the second is shorter than the widest n-gram: padded up to 3
    served = serve_locally(exported.path, text=np.array(texts, dtype=object))
    ids = np.asarray(vectorizer(texts))
    ids = np.pad(ids, [[0, 0], [0, max(0, 3 - ids.shape[1])]])
    np.testing.assert_allclose(served["probabilities"], np.asarray(model(ids)), atol=1e-6)
    assert set(served) == {"probabilities", "class_id", "score", "label"}
    by_ids = serve_locally(exported.path, "predict_token_ids", token_ids=ids.astype("int32"))
    np.testing.assert_allclose(by_ids["probabilities"], served["probabilities"], atol=1e-6)

    # One huge string is refused before it is tokenized (no GBs of tokens for one request).
    from kerasnets.export.generation_signatures import DEFAULT_MAX_TEXT_BYTES

    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 100000 bytes"):
        serve_locally(exported.path, text=np.array(["good " * (DEFAULT_MAX_TEXT_BYTES // 5 + 1)], dtype=object))


def test_text_served_with_left_truncation_keeps_the_last_tokens(tmp_path):
    from kerasnets.tokenizers import WordTokenizer

    tokenizer = WordTokenizer()
    tokenizer.adapt(tf.data.Dataset.from_tensor_slices(["a good film", "a bad film", "good acting bad plot"]))
    model = models.rnn_classifier(vocabulary_size=tokenizer.vocabulary_size(), embedding_dim=8, units=4, num_classes=2)
    exported = export_model(model, "rnn", base_dir=str(tmp_path), tokenizer=tokenizer, sequence_length=3,
                            truncation_side="left")  # fmt: skip
    texts = ["a good film but a bad plot", "bad film"]  # longer and shorter than 3 tokens
    served = serve_locally(exported.path, text=np.array(texts, dtype=object))
    examples = tf.data.Dataset.from_tensor_slices({"text": texts, "label": [0, 1]})
    pipeline = kerasnets.data.text_classification_dataset(
        examples, tokenizer, ["text"], 2, sequence_length=3, truncation_side="left", shuffle=False
    )
    ids = next(iter(pipeline))[0].numpy()
    assert ids.tolist() == [
        np.asarray(tokenizer.tokenize("a bad plot")).tolist(),
        np.asarray(tokenizer.tokenize("bad film", sequence_length=3)).tolist(),
    ]  # the last three words of the first text; the second right-padded as before
    np.testing.assert_allclose(served["probabilities"], np.asarray(model(ids)), atol=1e-6)
    right = export_model(model, "rnn", base_dir=str(tmp_path), tokenizer=tokenizer, sequence_length=3)
    first_words = serve_locally(right.path, text=np.array(texts, dtype=object))["probabilities"]
    np.testing.assert_allclose(first_words, np.asarray(model(np.asarray(tokenizer.tokenize(texts, 3)))), atol=1e-6)
    with pytest.raises(ValueError, match="truncation_side must be 'right' or 'left'"):
        export_model(model, "rnn", base_dir=str(tmp_path), tokenizer=tokenizer, truncation_side="end")


def test_tokenizer_needs_a_token_ids_model(tmp_path):
    with pytest.raises(ValueError, match="does not take `token_ids`"):
        export_model(models.mlp(), "m", base_dir=str(tmp_path), tokenizer=keras.layers.TextVectorization())


def test_outputs_are_float32_under_mixed_precision(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = models.bert(**TINY["bert"])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    exported = export_model(model, "bert", base_dir=str(tmp_path))
    signature = tf.saved_model.load(exported.path).signatures["serving_default"]
    assert {spec.dtype for spec in signature.structured_outputs.values()} == {tf.float32}


def test_versions_count_up_and_models_config_lists_every_model(tmp_path):
    base = str(tmp_path)
    model = models.mlp()
    assert [export_model(model, "neuron", base_dir=base).version for _ in range(2)] == [1, 2]
    assert export_model(model, "neuron", base_dir=base, version=7).version == 7
    assert export_model(model, "neuron", base_dir=base).version == 8
    export_model(model, "other", base_dir=base)
    assert list_versions(os.path.join(base, "neuron")) == [1, 2, 7, 8]
    assert not [entry for entry in os.listdir(os.path.join(base, "neuron")) if entry.startswith(".")]

    config = read_model_config(os.path.join(base, "models.config"))
    entries = {entry.name: entry for entry in config.model_config_list.config}
    assert set(entries) == {"neuron", "other"}
    assert entries["neuron"].base_path == os.path.abspath(os.path.join(base, "neuron"))
    assert entries["neuron"].model_platform == "tensorflow"


def test_models_config_keeps_hand_edited_policies_and_labels(tmp_path):
    base = str(tmp_path)
    with open(os.path.join(base, "models.config"), "w") as handle:
        handle.write(
            'model_config_list { config { name: "neuron" base_path: "/elsewhere" model_platform: "tensorflow" '
            "model_version_policy { specific { versions: 1 } } version_labels { key: 'stable' value: 1 } } }"
        )
    export_model(models.mlp(), "neuron", base_dir=base)
    (entry,) = read_model_config(os.path.join(base, "models.config")).model_config_list.config
    assert list(entry.model_version_policy.specific.versions) == [1]
    assert dict(entry.version_labels) == {"stable": 1}
    assert entry.base_path == os.path.abspath(os.path.join(base, "neuron"))


def test_malformed_models_config_is_reported_and_left_alone(tmp_path):
    path = os.path.join(tmp_path, "models.config")
    with open(path, "w") as handle:
        handle.write("model_config_list { config { nme: 'x' } }")
    with pytest.raises(ValueError, match="Invalid protobuf file"):
        export_model(models.mlp(), "neuron", base_dir=str(tmp_path))
    assert open(path).read() == "model_config_list { config { nme: 'x' } }"


@pytest.mark.parametrize("version", [0, -1, "v2", 1.5, True])
def test_bad_versions_are_refused(version, tmp_path):
    with pytest.raises(ValueError, match="positive integer"):
        export_model(models.mlp(), "neuron", base_dir=str(tmp_path), version=version)


@pytest.mark.parametrize("name", ["", "a/b", "m:predict", ".hidden"])
def test_bad_names_are_refused(name, tmp_path):
    with pytest.raises(ValueError, match="model name"):
        export_model(models.mlp(), name, base_dir=str(tmp_path))


def test_an_existing_version_is_never_overwritten(tmp_path):
    export_model(models.mlp(), "neuron", base_dir=str(tmp_path), version=3)
    with pytest.raises(FileExistsError, match="Version 3 of this model already exists"):
        export_model(models.mlp(), "neuron", base_dir=str(tmp_path), version=3)


def test_a_failed_export_leaves_no_version_behind(tmp_path, monkeypatch):
    def half_write(obj, export_dir, *args, **kwargs):
        with open(os.path.join(export_dir, "saved_model.pb"), "wb") as handle:
            handle.write(b"\x08")  # a truncated file, then the disk fills up
        raise RuntimeError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", half_write)
    with pytest.raises(RuntimeError, match="disk full"):
        export_model(models.mlp(), "neuron", base_dir=str(tmp_path))
    assert os.listdir(os.path.join(tmp_path, "neuron")) == []


def test_saved_model_cli_shows_the_signatures(tmp_path):
    exported = export_model(models.lenet5(), "lenet5", base_dir=str(tmp_path), class_names=list("abcdefghij"))
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run(
        [cli, "show", "--dir", exported.path, "--all"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "signature_def['serving_default']" in result.stdout
    for name in ("inputs['image']", "outputs['probabilities']", "outputs['label']", "outputs['class_id']"):
        assert name in result.stdout
    assert "shape: (-1, 28, 28, 1)" in result.stdout
