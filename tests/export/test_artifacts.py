import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets import cli, models
from kerasnets.export.artifacts import export_from_path, load_for_export, save_for_export


def test_a_run_directory_exports_with_its_tokenizer_and_class_names(tmp_path):
    vectorizer = keras.layers.TextVectorization(max_tokens=30, vocabulary=["good", "bad", "film"])
    model = models.text_cnn(vocabulary_size=30, embedding_dim=4, filters=2, ngram_sizes=(2,))
    run = os.path.join(tmp_path, "run")
    save_for_export(run, model, class_names=["negative", "positive"], tokenizer=vectorizer, sequence_length=6)
    assert json.load(open(os.path.join(run, "export.json")))["class_names"] == ["negative", "positive"]

    exported = export_from_path(run, "sentiment", base_dir=os.path.join(tmp_path, "saved"))
    served = tf.saved_model.load(exported.path).signatures["serving_default"](text=tf.constant(["good film"]))
    ids = np.pad(np.asarray(vectorizer(["good film"])), [[0, 0], [0, 4]])
    np.testing.assert_allclose(served["probabilities"].numpy(), np.asarray(model(ids)), atol=1e-6)
    assert served["label"].numpy()[0].decode() in {"negative", "positive"}

    # A model trained on each text's last tokens is served the same way.
    save_for_export(run, model, tokenizer=vectorizer, sequence_length=2, truncation_side="left")
    assert json.load(open(os.path.join(run, "export.json")))["truncation_side"] == "left"
    exported = export_from_path(run, "sentiment", base_dir=os.path.join(tmp_path, "saved"))
    served = tf.saved_model.load(exported.path).signatures["serving_default"](text=tf.constant(["bad good film"]))
    np.testing.assert_allclose(served["probabilities"].numpy(), np.asarray(model(vectorizer(["good film"]))), atol=1e-6)


def test_missing_and_malformed_sources_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model at"):
        load_for_export(os.path.join(tmp_path, "missing"))
    run = os.path.join(tmp_path, "run")
    save_for_export(run, models.mlp())
    with open(os.path.join(run, "export.json"), "w") as handle:
        handle.write("{not json")
    with pytest.raises(ValueError, match="export.json is not valid JSON"):
        load_for_export(run)


def test_cli_export_and_its_errors(tmp_path, capsys):
    source = os.path.join(tmp_path, "neuron.keras")
    models.mlp().save(source)
    base = os.path.join(tmp_path, "saved")
    assert cli.main(["export", source, "--name", "neuron", "--base-dir", base]) == 0
    assert "Exported 'neuron' version 1" in capsys.readouterr().out
    assert cli.main(["export", source, "--name", "neuron", "--base-dir", base, "--version", "1"]) == 2
    assert "Version 1 of this model already exists" in capsys.readouterr().err
    assert cli.main(["export", os.path.join(tmp_path, "nope.keras"), "--name", "x", "--base-dir", base]) == 2
    assert "No model at" in capsys.readouterr().err
    assert sorted(os.listdir(base)) == ["models.config", "neuron"]
