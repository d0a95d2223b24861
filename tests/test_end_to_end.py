"""Real kerasnets exports served over real HTTP on 127.0.0.1.

LeNet-5 (images → probabilities, labels), a text CNN taking raw strings, GPT
generating text from a prompt, and a new version exported while serving.
Every answer is checked against the Keras model itself.
"""

import os
import time

import keras
import numpy as np
import pytest
import requests

from kerasnets.tokenizers import CharacterTokenizer, WordTokenizer
from kerasnets.export import export_model
from kerasnets.models import gpt, lenet5, text_cnn
from kerasnets.serving import Client, ModelServer, ServingError, read_model_config_file

CLASSES = tuple(f"class_{i}" for i in range(10))
SENTENCES = ["a fine film", "a dull and boring film", "the plot was fine"]
SHAKESPEARE = "first citizen: before we proceed any further, hear me speak."


def wait_for(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except ServingError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Three models exported into one saved_models/ root, served from its models.config."""
    root = str(tmp_path_factory.mktemp("saved_models"))
    keras.utils.set_random_seed(0)
    image_model = lenet5()
    export_model(image_model, "lenet5", base_dir=root, class_names=CLASSES)

    words = WordTokenizer()
    words.adapt(SENTENCES)
    text_model = text_cnn(
        vocabulary_size=words.vocabulary_size(), embedding_dim=8, ngram_sizes=(2, 3), filters=4, dropout=0.0
    )
    export_model(text_model, "sentiment", base_dir=root, tokenizer=words, class_names=("negative", "positive"))

    characters = CharacterTokenizer()
    characters.adapt([SHAKESPEARE])
    language_model = gpt(
        vocabulary_size=characters.vocabulary_size(), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=48, dropout=0.0,
    )  # fmt: skip
    export_model(language_model, "gpt", base_dir=root, generation={"tokenizer": characters})

    server = ModelServer(
        read_model_config_file(os.path.join(root, "models.config")), port=0, file_system_poll_wait_seconds=0.2
    ).start()
    yield {
        "root": root,
        "url": server.url,
        "lenet5": image_model,
        "sentiment": (text_model, words),
        "gpt": (language_model, characters),
    }
    server.stop()


def post(served, path, body):
    return requests.post(served["url"] + path, json=body, timeout=60)


def test_lenet5_predict_rows_and_columns(served):
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    expected = np.asarray(served["lenet5"](images))

    response = post(served, "/v1/models/lenet5:predict", {"instances": images.tolist()})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    np.testing.assert_allclose([p["probabilities"] for p in predictions], expected, atol=1e-5)
    assert [p["class_id"] for p in predictions] == list(expected.argmax(-1))
    assert [p["label"] for p in predictions] == [CLASSES[i] for i in expected.argmax(-1)]

    columns = post(served, "/v1/models/lenet5/versions/1:predict", {"inputs": {"image": images.tolist()}})
    np.testing.assert_allclose(columns.json()["outputs"]["probabilities"], expected, atol=1e-5)

    metadata = Client(served["url"], "lenet5").metadata()
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert list(signature["inputs"]) == ["image"]
    assert signature["inputs"]["image"]["tensor_shape"]["dim"][0]["size"] == "-1"  # batch dimension None
    assert {"probabilities", "class_id", "score", "label"} <= set(signature["outputs"])


def test_lenet5_bad_requests_get_4xx_and_the_server_keeps_answering(served):
    image = np.zeros((28, 28, 1)).tolist()
    bad = {
        "not json": ("{instances: [", 400),
        "wrong dtype": ({"instances": [[["pixel"] * 1] * 28] * 1}, 400),
        "wrong shape": ({"instances": [[1.0, 2.0]]}, 400),
        "ragged": ({"instances": [image, [[0.0]]]}, 400),
        "unknown signature": ({"signature_name": "nope", "instances": [image]}, 400),
    }
    for name, (body, status) in bad.items():
        if isinstance(body, str):
            response = requests.post(served["url"] + "/v1/models/lenet5:predict", data=body, timeout=30)
        else:
            response = post(served, "/v1/models/lenet5:predict", body)
        assert response.status_code == status, (name, response.text)
        assert response.json()["error"], name
    assert post(served, "/v1/models/lenet5/versions/9:predict", {"instances": [image]}).status_code == 404
    assert post(served, "/v1/models/nobody:predict", {"instances": [image]}).status_code == 404
    # Still correct afterwards.
    good = post(served, "/v1/models/lenet5:predict", {"instances": [image]})
    expected = np.asarray(served["lenet5"](np.zeros((1, 28, 28, 1), np.float32)))
    np.testing.assert_allclose(good.json()["predictions"][0]["probabilities"], expected[0], atol=1e-5)


def test_text_classifier_takes_raw_strings(served):
    model, words = served["sentiment"]
    response = post(served, "/v1/models/sentiment:predict", {"instances": SENTENCES})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    for sentence, prediction in zip(SENTENCES, predictions):
        ids = words.tokenize([sentence])
        ids = np.pad(np.asarray(ids), [(0, 0), (0, max(0, 3 - ids.shape[1]))])  # widest n-gram: 3
        expected = np.asarray(model(ids))[0]
        np.testing.assert_allclose(prediction["probabilities"], expected, atol=1e-5)
        assert prediction["label"] == ("negative", "positive")[int(expected.argmax())]
    ids = post(
        served, "/v1/models/sentiment:predict", {"signature_name": "predict_token_ids", "instances": [[3, 4, 5]]}
    )
    assert ids.status_code == 200, ids.text


def test_gpt_generates_text_from_a_prompt(served):
    model, characters = served["gpt"]
    body = {"signature_name": "generate", "instances": [{"prompt": "first", "max_new_tokens": 12}]}
    response = post(served, "/v1/models/gpt:predict", body)
    assert response.status_code == 200, response.text
    (prediction,) = response.json()["predictions"]
    prompt_ids = characters.tokenize(["first"])
    expected = model.generate(prompt_ids, 12)[0, 5:]
    assert prediction["generated_token_ids"] == expected.tolist()
    expected_text = characters.detokenize(expected[None]).numpy()[0].decode()
    assert prediction["generated_text"] == expected_text
    assert prediction["text"] == "first" + expected_text

    sample = {
        "signature_name": "sample",
        "inputs": {"prompt": ["hear", "speak"], "max_new_tokens": [8, 4], "temperature": [0.8, 0.8],
                   "top_k": [5, 5], "seed": [42, 42]},
    }  # fmt: skip
    first = post(served, "/v1/models/gpt:predict", sample).json()["outputs"]
    again = post(served, "/v1/models/gpt:predict", sample).json()["outputs"]
    assert first == again  # a seed gives the same text
    assert [len(ids) - ids.count(0) for ids in first["generated_token_ids"]] == [8, 4]

    too_cold = dict(sample, inputs=dict(sample["inputs"], temperature=[0.0, 1.0]))
    response = post(served, "/v1/models/gpt:predict", too_cold)
    assert response.status_code == 400 and "temperature must be > 0" in response.json()["error"]


def test_a_new_version_exported_while_serving_takes_over(served):
    client = Client(served["url"], "lenet5")
    image = np.ones((1, 28, 28, 1), np.float32)
    before = client.predict(instances=image.tolist())[0]["probabilities"]
    keras.utils.set_random_seed(7)
    retrained = lenet5()
    exported = export_model(retrained, "lenet5", base_dir=served["root"], class_names=CLASSES)
    assert exported.version == 2
    wait_for(lambda: client.status()["model_version_status"][0]["version"] == "2"
             and client.status()["model_version_status"][0]["state"] == "AVAILABLE")  # fmt: skip
    after = client.predict(instances=image.tolist())[0]["probabilities"]
    np.testing.assert_allclose(after, np.asarray(retrained(image))[0], atol=1e-5)
    assert not np.allclose(after, before)
    # Version 1 is unloaded under the default policy (latest 1).
    wait_for(lambda: client.status(version=1)["model_version_status"][0]["state"] == "END")
