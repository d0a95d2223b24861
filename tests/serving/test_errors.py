"""Bad requests: TF Serving's status code and wording, and the server keeps answering correctly."""

import concurrent.futures
import gzip
import time

import pytest

from kerasnets.serving.server import MAX_REST_ERROR_CHARS
from tests.serving.conftest import MAX_REQUEST_BYTES, error_of

GOOD_BODY = '{"instances": [1.0, 2.0]}'
GOOD_ANSWER = {"predictions": [3.5, 4.0]}

BAD_REQUESTS = [
    # (path, body, HTTP status, exact error message)
    ("/v1/models/half:predict", "", 400, "JSON Parse error: The document is empty"),
    ("/v1/models/half:predict", '{"instances": [1.0,', 400, "JSON Parse error: Invalid value. at offset: 19"),
    ("/v1/models/half:predict", '{"instances": [1.0 2.0]}', 400,
     "JSON Parse error: Missing a comma or ']' after an array element. at offset: 19"),
    ("/v1/models/half:predict", '{"instances": [1e400]}', 400,
     "JSON Parse error: Number too big to be stored in double. at offset: 15"),
    ("/v1/models/half:predict", b"\xef\xbb\xbf ]", 400, "JSON Parse error: The document is empty. at offset: 4"),
    ("/v1/models/half:predict", "[1, 2]", 400, "JSON Value: [1, 2] Is not object"),
    ("/v1/models/half:predict", '{"instances": [[1,2],[3,4],[5,6,7]]}', 400,
     "Failed to process element: 2 of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor size: 2 but got: 3"),
    ("/v1/models/half:predict", '{"instances": ["a"]}', 400,
     "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
     'JSON Value: "a" Type: String is not of expected type: float'),
    ("/v1/models/half:predict", '{"inputs": {"x": [true]}}', 400,
     "JSON Value: true Type: True is not of expected type: float"),
    ("/v1/models/half:predict", "{}", 400, "Missing 'inputs' or 'instances' key"),
    ("/v1/models/half:predict", '{"instances": [1], "inputs": [1]}', 400,
     'JSON Value: {\n    "instances": [1],\n    "inputs": [1]\n}'
     " Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist "),
    ("/v1/models/half:predict", '{"instances": {"x": 1}}', 400,
     "JSON Value: {\n    \"instances\": {\n        \"x\": 1\n    }\n} Excepting 'instances' to be an list/array"),
    ("/v1/models/half:predict", '{"instances": []}', 400,
     "JSON Value: {\n    \"instances\": []\n} No values in 'instances' array"),
    ("/v1/models/half:predict", '{"signature_name": 3, "instances": [1]}', 400,
     "JSON Value: {\n    \"signature_name\": 3,\n    \"instances\": [1]\n}"
     " not formatted correctly. 'signature_name' key must be a string value."),
    ("/v1/models/half:predict", '{"signature_name": "nope", "instances": [1]}', 400,
     'Serving signature name: "nope" not found in signature def'),
    ("/v1/models/half:predict", '{"signature_name": "__saved_model_init_op", "instances": [1]}', 400,
     "Failed to get input map for signature: __saved_model_init_op"),
    ("/v1/models/nope:predict", '{"instances": [1]}', 404, "Servable not found for request: Latest(nope)"),
    ("/v1/models/half/versions/9:predict", '{"instances": [1]}', 404,
     "Servable not found for request: Specific(half, 9)"),
    ("/v1/models/half/labels/nope:predict", '{"instances": [1]}', 400, "Unrecognized servable version label: nope"),
    ("/v1/models/half/labels/future:predict", '{"instances": [1]}', 404,
     "Servable not found for request: Specific(half, 7)"),
    ("/v1/models/broken/versions/2:predict", '{"instances": [1]}', 404,
     "Servable not found for request: Specific(broken, 2)"),
    # TF Serving's order of checks: JSON syntax, then the servable, then instances/inputs.
    ("/v1/models/nope:predict", '{"instances": [1.0', 400,
     "JSON Parse error: Missing a comma or ']' after an array element. at offset: 18"),
    ("/v1/models/nope:predict", "{}", 404, "Servable not found for request: Latest(nope)"),
    ("/v1/models/half/labels/nope:predict", '{"instances": ["not a number"]}', 400,
     "Unrecognized servable version label: nope"),
    # :classify / :regress check the whole body before looking the model up.
    ("/v1/models/nope:classify", '{"examples": []}', 400,
     "JSON Value: {\n    \"examples\": []\n} 'examples' value is an empty array"),
    ("/v1/models/nope:regress", '{"examples": [{"x": 1}]}', 404, "Servable not found for request: Latest(nope)"),
    ("/v1/models/half:regress", '{"instances": [1]}', 400,
     "JSON Value: {\n    \"instances\": [1]\n} When method is classify, key 'examples' is expected and was not found"),
]


@pytest.mark.parametrize("path, body, status, message", BAD_REQUESTS)
def test_bad_request_then_a_good_one(http, path, body, status, message):
    response = http.post(path, body)
    assert response.status_code == status
    assert error_of(response) == message
    assert http.post("/v1/models/half:predict", GOOD_BODY).json() == GOOD_ANSWER


def test_error_bodies_are_pretty_printed_json(http):
    response = http.post("/v1/models/nope:predict", '{"instances": [1]}')
    assert response.content == b'{\n    "error": "Servable not found for request: Latest(nope)"\n}'


def test_oversize_body_gets_413(http):
    body = '{"instances": [' + ",".join(["1.0"] * (MAX_REQUEST_BYTES // 4 + 10)) + "]}"
    assert len(body) > MAX_REQUEST_BYTES
    response = http.post("/v1/models/half:predict", body)
    assert response.status_code == 413
    assert error_of(response) == (
        f"Request body is larger than this server's limit of {MAX_REQUEST_BYTES} bytes (kerasnets serve --max_request_bytes)"
    )

    def chunks():  # no Content-Length: the limit is found while reading
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536].encode()

    chunked = http.post("/v1/models/half:predict", data=chunks())
    assert chunked.status_code == 413
    assert http.post("/v1/models/half:predict", GOOD_BODY).json() == GOOD_ANSWER


def test_deeply_nested_json_is_refused(http):
    started = time.monotonic()
    response = http.post("/v1/models/half:predict", "[" * 100000)
    assert error_of(response) == "JSON Parse error: Invalid value. at offset: 100000"
    response = http.post("/v1/models/half:predict", '{"instances": ' + "[" * 5000 + "1.0" + "]" * 5000 + "}")
    assert error_of(response) == "tensor parsing error: x"  # TF's Tensor::FromProto refuses the rank
    response = http.post("/v1/models/half:predict", '{"signature_name": ' + "[" * 99_000 + "]" * 99_000 + "}")
    message = error_of(response)
    assert message.startswith('JSON Value: {\n    "signature_name": [[[[') and len(message) < 400
    assert time.monotonic() - started < 10
    assert http.post("/v1/models/half:predict", GOOD_BODY).json() == GOOD_ANSWER


def test_big_error_documents_are_cut(http):
    body = '{"inputs": [1], "instances": [' + ",".join(['"' + "x" * 1000 + '"'] * 2000) + "]}"
    message = error_of(http.post("/v1/models/half:predict", body))
    # TF Serving's JsonValueToDebugString stops at the first event past 256 bytes.
    assert message == 'JSON Value: {\n    "inputs": [1],\n    "instances": ["' + "x" * 1000 + '" ' + (
        "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ")


def test_gzip_bodies_are_inflated(http):
    response = http.post("/v1/models/half:predict", gzip.compress(GOOD_BODY.encode()),
                         headers={"Content-Encoding": "gzip"})
    assert response.json() == GOOD_ANSWER


def test_concurrent_requests(http):
    def one(value):
        answer = http.post("/v1/models/half/versions/1:predict", f'{{"instances": [{value}]}}').json()
        return answer["predictions"][0]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(40)))
    assert results == [0.5 * v + 2 for v in range(40)]


def test_inference_timeout_answers_504(server):
    import threading
    import time

    import requests

    from kerasnets.serving.server import Inference, ModelServer

    release = threading.Event()

    class SlowInference(Inference):
        def __init__(self, inner):
            self._inner = inner

        def run(self):
            release.wait(5)
            return self._inner.run()

    # A second HTTP front end on the shared (already started) models, with a 50 ms limit.
    slow_server = ModelServer(manager=_AlreadyStarted(server.manager), port=0, rest_api_timeout_in_ms=50)
    prepare = slow_server.handler.prepare

    def slow_prepare(method, path, body):
        prepared = prepare(method, path, body)
        return SlowInference(prepared) if isinstance(prepared, Inference) else prepared

    slow_server.handler.prepare = slow_prepare
    slow_server.start()
    try:
        started = time.monotonic()
        response = requests.post(slow_server.url + "/v1/models/half:predict", data=GOOD_BODY, timeout=10)
        assert response.status_code == 504
        assert response.json() == {"error": "Deadline Exceeded"}
        assert time.monotonic() - started < 2
        status = requests.get(slow_server.url + "/v1/models/half/versions/1", timeout=10)
        assert status.status_code == 200  # no model run: no time limit
    finally:
        release.set()
        slow_server.stop()


class _AlreadyStarted:
    """A manager proxy whose start/stop do nothing (the shared server owns the real one)."""

    def __init__(self, manager):
        self._manager = manager

    def start(self):
        return self

    def stop(self):
        pass

    def __getattr__(self, name):
        return getattr(self._manager, name)


def test_lists_nested_past_numpys_rank_limit_are_a_400_not_a_500(http):
    # TF Serving: Tensor::FromProto refuses more than 254 dimensions ("tensor parsing error: <input>");
    # NumPy holds 64, so kerasnets answers the same from 65 on.
    for depth in (65, 900):
        response = http.post("/v1/models/half:predict", '{"instances": ' + "[" * depth + "1" + "]" * depth + "}")
        assert response.status_code == 400 and error_of(response) == "tensor parsing error: x"


def test_errors_echoing_a_huge_request_are_capped(http):
    response = http.post("/v1/models/half:predict", json={"instances": [1.0], "signature_name": "x" * 1_000_000})
    message = error_of(response)
    assert response.status_code == 400 and message.startswith('Serving signature name: "xxx')
    assert message.endswith("...TRUNCATED") and len(message) == MAX_REST_ERROR_CHARS + len("...TRUNCATED")
