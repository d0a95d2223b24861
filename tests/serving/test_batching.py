"""Server-side batching: BatchingParameters text, the batch scheduler, and serve --enable_batching."""

import os
import threading

import numpy as np
import pytest
import requests

from kerasnets.serving.batching import (
    FILENAME, BatchScheduler, BatchingParameters, batching_parameters_text, parse_batching_parameters,
)
from kerasnets.serving.status import Code, StatusError
from tests.serving.conftest import save_half_model


def test_parse_defaults_and_values():
    params = parse_batching_parameters("")
    assert (params.max_batch_size, params.batch_timeout_micros, params.max_enqueued_batches) == (1000, 0, 10)
    assert params.num_batch_threads == (os.cpu_count() or 1)
    assert params.allowed_batch_sizes == [] and params.enable_large_batch_splitting is False
    params = parse_batching_parameters(
        "max_batch_size { value: 8 }\nbatch_timeout_micros: 500  # comment\n"
        "allowed_batch_sizes: 2\nallowed_batch_sizes: 8\npad_variable_length_inputs: true\n")
    assert (params.max_batch_size, params.batch_timeout_micros) == (8, 500)
    assert params.allowed_batch_sizes == [2, 8] and params.pad_variable_length_inputs is True


@pytest.mark.parametrize("text, message", [
    ("max_batch_size { value: 8 }\nallowed_batch_sizes: 4\nallowed_batch_sizes: 2", "monotonically increasing"),
    ("max_batch_size { value: 8 }\nallowed_batch_sizes: 4", "must match max_batch_size"),
    ("max_batch_sise { value: 8 }", 'no field named "max_batch_sise"'),
    ("max_batch_size { value: eight }", "invalid value"),
    ("max_batch_size {", "cannot parse"),
])
def test_parse_errors(text, message):
    with pytest.raises(StatusError) as error:
        parse_batching_parameters(text)
    assert error.value.code == Code.INVALID_ARGUMENT and message in error.value.message


def _concurrent(scheduler, inputs_list):
    results, errors = [None] * len(inputs_list), [None] * len(inputs_list)

    def one(i):
        try:
            results[i] = scheduler.submit(inputs_list[i])
        except StatusError as error:
            errors[i] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(inputs_list))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results, errors


def test_merged_batches_padded_and_split():
    seen = []

    def double(inputs):
        seen.append(inputs["x"].shape[0])
        return {"y": (1, inputs["x"] * 2.0)}

    params = BatchingParameters(max_batch_size=8, batch_timeout_micros=200_000, num_batch_threads=1,
                                allowed_batch_sizes=[4, 8])
    scheduler = BatchScheduler(double, params)
    inputs = [{"x": np.full((1 + i % 2, 3), float(i), np.float32)} for i in range(5)]  # 7 rows
    results, errors = _concurrent(scheduler, inputs)
    scheduler.shutdown()
    assert errors == [None] * 5
    for given, result in zip(inputs, results):
        np.testing.assert_array_equal(result["y"][1], given["x"] * 2.0)
    assert sum(seen) >= 7 and all(size in (4, 8) for size in seen) and len(seen) < 5


def _two_task_batch(pad, *inputs, function=None):
    """Runs `inputs` as one batch (it closes when the last arrives); returns (merged inputs seen, results, errors)."""
    seen = []

    def record(merged):
        seen.append(merged)
        return {"y": (1, merged["x"])}

    rows = sum(given["x"].shape[0] for given in inputs)
    params = BatchingParameters(max_batch_size=rows, batch_timeout_micros=10_000_000, num_batch_threads=1,
                                pad_variable_length_inputs=pad)
    scheduler = BatchScheduler(function or record, params)
    results, errors = _concurrent(scheduler, list(inputs))
    scheduler.shutdown()
    return seen, results, errors


def test_variable_length_inputs_are_padded_with_each_tensors_first_element():
    a = {"x": np.array([[7, 1]], np.int32)}
    b = {"x": np.array([[5, 6, 8, 9]], np.int32)}
    c = {"x": np.array([[3, 4, 2], [0, 1, 1]], np.int32)}
    seen, results, errors = _two_task_batch(True, a, b, c)
    assert errors == [None] * 3 and len(seen) == 1
    merged = seen[0]["x"]
    assert merged.shape == (4, 4)
    rows = {tuple(row) for row in merged.tolist()}  # the tasks' order in the batch is the threads' order
    assert rows == {(7, 1, 7, 7), (5, 6, 8, 9), (3, 4, 2, 3), (0, 1, 1, 3)}  # c pads with c's first element, 3
    for given, result in zip((a, b, c), results):
        assert result["y"][1].shape == (given["x"].shape[0], 4)  # outputs keep the padding, as TF Serving's
        width = given["x"].shape[1]
        np.testing.assert_array_equal(result["y"][1][:, :width], given["x"])


def test_different_shapes_without_padding_fail_the_batch_with_tf_servings_text():
    seen, results, errors = _two_task_batch(False, {"x": np.zeros((1, 2), np.float32)},
                                            {"x": np.zeros((1, 3), np.float32)})
    assert seen == [] and results == [None, None]
    for error in errors:
        assert error.code == Code.FAILED_PRECONDITION
        assert error.message == (
            "Tensors with name 'x' from different tasks have different shapes and padding is turned off."
            "Set pad_variable_length_inputs to true, or ensure that all tensors with the same name"
            "have equal dimensions starting with the first dim.")


@pytest.mark.parametrize("shapes, code, message", [
    ([(1, 0), (1, 3)], Code.INVALID_ARGUMENT, "Got empty tensor in batch of non-empty tensors."),
    ([(1,) * 7, (1,) * 6 + (2,)], Code.INVALID_ARGUMENT, "Only tensors with rank from 1 to 6 can be padded."),
    ([(1, 1, 5000), (1, 5000, 1)], Code.RESOURCE_EXHAUSTED, "would make a batch of more than 16777216 elements"),
])
def test_padding_refuses_what_tf_serving_refuses_and_what_would_not_fit(shapes, code, message):
    if len(shapes[0]) == 7:  # ranks beyond 6 fail even where no padding is needed
        shapes = [shapes[0], shapes[0]]
    _, results, errors = _two_task_batch(True, *({"x": np.ones(shape, np.float32)} for shape in shapes))
    assert results == [None, None]
    assert all(error.code == code and message in error.message for error in errors)


def test_full_queue_is_unavailable_and_oversized_task_refused():
    release = threading.Event()

    def slow(inputs):
        release.wait(30)
        return {"y": (1, inputs["x"])}

    params = BatchingParameters(max_batch_size=1, max_enqueued_batches=1, num_batch_threads=1)
    scheduler = BatchScheduler(slow, params)
    x = {"x": np.zeros((1, 2), np.float32)}
    running = threading.Thread(target=scheduler.submit, args=(x,))
    running.start()
    while scheduler._batches:  # the worker took the first batch
        threading.Event().wait(0.01)
    queued = threading.Thread(target=scheduler.submit, args=(x,))
    queued.start()
    while not scheduler._batches:
        threading.Event().wait(0.01)
    with pytest.raises(StatusError) as error:
        scheduler.submit(x)
    assert error.value.code == Code.UNAVAILABLE
    assert error.value.message == "The batch scheduling queue to which this task was submitted is full"
    with pytest.raises(StatusError) as error:
        scheduler.submit({"x": np.zeros((2, 2), np.float32)})
    assert error.value.message == "Task size 2 is larger than maximum input batch size 1"
    release.set()
    running.join(30), queued.join(30)
    scheduler.shutdown()


@pytest.fixture(scope="module")
def batching_server(tmp_path_factory):
    from kerasnets.serving import ModelServer
    from kerasnets.serving.model_manager import single_model_config

    root = tmp_path_factory.mktemp("batching")
    save_half_model(f"{root}/half/1")
    params = BatchingParameters(max_batch_size=8, batch_timeout_micros=100_000, num_batch_threads=1,
                                max_enqueued_batches=2, allowed_batch_sizes=[4, 8])
    server = ModelServer(single_model_config("half", f"{root}/half"), port=0, rest_api_num_threads=8,
                         file_system_poll_wait_seconds=0, batching_parameters=params)
    server.start()
    yield server
    server.stop()


def test_rest_requests_share_batches(batching_server):
    url = batching_server.url + "/v1/models/half:predict"
    answers = [None] * 6

    def post(i):
        answers[i] = requests.post(url, json={"instances": [float(i)]}, timeout=30)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for i, answer in enumerate(answers):
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": [0.5 * i + 2.0]}
    scheduler = batching_server.manager.servable("half").batch_schedulers["serving_default"]
    assert scheduler.calls < 6  # six concurrent requests ran in fewer signature calls


def test_a_malformed_request_fails_alone_and_never_joins_a_batch(batching_server):
    url = batching_server.url + "/v1/models/half:predict"
    answers = {}

    def post(key, body):
        answers[key] = requests.post(url, json=body, timeout=30)

    bodies = {i: {"instances": [float(i)]} for i in range(3)}
    bodies["bad"] = {"instances": [[1.0, 2.0]]}  # rank 2 where the signature takes [None]
    threads = [threading.Thread(target=post, args=item) for item in bodies.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers["bad"].status_code == 400 and "expects [-1]" in answers["bad"].json()["error"]
    for i in range(3):
        assert answers[i].status_code == 200 and answers[i].json() == {"predictions": [0.5 * i + 2.0]}


def save_token_max_model(path):
    """tokens int32 [None, None] -> the largest token of each row, and the width the row was run at."""
    import tensorflow as tf

    class TokenMax(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="tokens")])
        def serve(self, tokens):
            width = tf.fill(tf.shape(tokens)[:1], tf.shape(tokens)[1])
            return {"largest": tf.reduce_max(tokens, axis=1), "width": width}

    module = TokenMax()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


def test_serve_pads_variable_length_requests_into_one_batch(tmp_path):
    from kerasnets.serving import ModelServer
    from kerasnets.serving.model_manager import single_model_config

    save_token_max_model(f"{tmp_path}/tokens/1")
    params = BatchingParameters(max_batch_size=4, batch_timeout_micros=5_000_000, num_batch_threads=1,
                                pad_variable_length_inputs=True)
    server = ModelServer(single_model_config("tokens", f"{tmp_path}/tokens"), port=0, rest_api_num_threads=8,
                         file_system_poll_wait_seconds=0, batching_parameters=params)
    server.start()
    try:
        url = server.url + "/v1/models/tokens:predict"
        sequences = [[4, 9], [1, 2, 3], [8, 1, 1, 1, 5], [2]]
        answers = [None] * 4

        def post(i):
            answers[i] = requests.post(url, json={"instances": [sequences[i]]}, timeout=30)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for sequence, answer in zip(sequences, answers):
            assert answer.status_code == 200, answer.text
            prediction = answer.json()["predictions"][0]
            assert prediction == {"largest": max(sequence), "width": 5}  # one batch, padded to the longest
        assert server.manager.servable("tokens").batch_schedulers["serving_default"].calls == 1
    finally:
        server.stop()


def test_rest_full_queue_is_503(batching_server):
    servable = batching_server.manager.servable("half")
    requests.post(batching_server.url + "/v1/models/half:predict", json={"instances": [1.0]}, timeout=30)
    scheduler = servable.batch_schedulers["serving_default"]
    release, real = threading.Event(), scheduler.function
    scheduler.function = lambda merged: (release.wait(30), real(merged))[1]
    scheduler.params = BatchingParameters(max_batch_size=1, max_enqueued_batches=1, num_batch_threads=1)
    url = batching_server.url + "/v1/models/half:predict"
    try:
        background = [threading.Thread(target=requests.post, args=(url,),
                                       kwargs={"json": {"instances": [1.0]}, "timeout": 30}) for _ in range(2)]
        background[0].start()
        while scheduler._batches or scheduler.calls < 2:
            threading.Event().wait(0.01)
        background[1].start()
        while not scheduler._batches:
            threading.Event().wait(0.01)
        answer = requests.post(url, json={"instances": [1.0]}, timeout=30)
        assert answer.status_code == 503
        assert answer.json() == {"error": "The batch scheduling queue to which this task was submitted is full"}
    finally:
        release.set()
        for thread in background:
            thread.join(30)
        scheduler.function = real


def test_export_text_parses(tmp_path):
    params = parse_batching_parameters(batching_parameters_text(max_batch_size=48, num_batch_threads=2))
    assert params.max_batch_size == 48 and params.allowed_batch_sizes[-1] == 48 and params.num_batch_threads == 2


def test_serve_flags_parse_file(tmp_path):
    from kerasnets.serving.cli import _batching_parameters, _parser

    path = tmp_path / FILENAME
    path.write_text("max_batch_size { value: 4 }\n")
    args = _parser().parse_args(["--model_base_path=/x", "--enable_batching", f"--batching_parameters_file={path}"])
    assert _batching_parameters(args).max_batch_size == 4
    args = _parser().parse_args(["--model_base_path=/x", f"--batching_parameters_file={path}"])
    assert _batching_parameters(args) is None  # TF Serving ignores the file without --enable_batching


def test_write_batching_parameters_file_parses(tmp_path):
    from kerasnets.serving.batching import read_batching_parameters_file, write_batching_parameters

    path = write_batching_parameters(str(tmp_path))
    assert os.path.basename(path) == FILENAME and os.listdir(tmp_path) == [FILENAME]
    params = read_batching_parameters_file(path)
    assert params.max_batch_size == 32 and params.allowed_batch_sizes == [1, 2, 4, 8, 16, 32]
