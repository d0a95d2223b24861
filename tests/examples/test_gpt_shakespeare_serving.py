"""examples/gpt_shakespeare_serving.py in smoke mode: it trains, exports, and the export generates text."""

import json
import os

import tensorflow as tf


def test_smoke_run_exports_a_generating_savedmodel(run_example):
    results, printed, output_dir = run_example("gpt_shakespeare_serving")

    assert "Total params" in printed
    assert results["steps"] == 5
    assert all(0 < loss < 10 for loss in results["loss"] + results["val_loss"])
    assert results["greedy_text"].startswith("ROMEO:") and len(results["greedy_text"]) > len("ROMEO:")

    # The export lies under the output dir, as a numbered version with the four signatures.
    assert results["base_dir"] == os.path.join(str(output_dir), "saved_models")
    assert results["export_path"] == os.path.join(results["base_dir"], "gpt", str(results["version"]))
    assert os.path.isfile(os.path.join(results["export_path"], "saved_model.pb"))
    assert {"serving_default", "generate", "sample", "beam_search"} <= set(results["signatures"])
    assert f"Exported version {results['version']}" in printed

    loaded = tf.saved_model.load(results["export_path"])
    assert {"serving_default", "generate", "sample", "beam_search"} <= set(loaded.signatures)
    outputs = loaded.signatures["generate"](prompt=tf.constant(["ROMEO:"]), max_new_tokens=tf.constant([8]))
    generated = outputs["generated_text"].numpy()[0].decode()
    full = outputs["text"].numpy()[0].decode()
    assert int(outputs["generated_lengths"].numpy()[0]) == 8
    assert full == "ROMEO:" + generated
    # Greedy decoding in the graph agrees with the model's own generate in Python.
    assert results["greedy_text"].startswith(full)
    json.dumps({k: v for k, v in results.items()})  # the returned numbers are plain Python values
