"""Routes, status and metadata over real HTTP: TF Serving's paths, JSON shapes and errors."""

import pytest

from tests.serving.conftest import error_of


def ok(version):
    return {"version": str(version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}


def test_status_of_every_version_newest_first(http):
    response = http.get("/v1/models/half")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"model_version_status": [ok(2), ok(1)]}
    # protobuf's JSON printer with whitespace: one-space indents, int64 version as a string.
    assert response.text.startswith('{\n "model_version_status": [\n  {\n   "version": "2",\n   "state": "AVAILABLE"')


def test_status_of_one_version_and_labels_are_ignored(http):
    assert http.get("/v1/models/half/versions/1").json() == {"model_version_status": [ok(1)]}
    assert http.get("/v1/models/half/versions/001").json() == {"model_version_status": [ok(1)]}
    # TF Serving's status endpoint does not resolve labels: all versions, even for an unknown label.
    assert http.get("/v1/models/half/labels/stable").json() == {"model_version_status": [ok(2), ok(1)]}
    assert http.get("/v1/models/half/labels/no_such_label").status_code == 200


def test_status_shows_a_version_that_failed_to_load(http):
    statuses = http.get("/v1/models/broken").json()["model_version_status"]
    assert statuses[1] == ok(1)
    assert statuses[0]["version"] == "2" and statuses[0]["state"] == "END"
    assert statuses[0]["status"]["error_code"] == "DATA_LOSS"
    assert statuses[0]["status"]["error_message"].startswith("Can't parse ")
    # ... and the version that loaded serves.
    assert http.post("/v1/models/broken:predict", '{"instances": [2.0]}').json() == {"predictions": [3.0]}


@pytest.mark.parametrize(
    "path, status, message",
    [
        ("/v1/models/nope", 404, "Could not find any versions of model nope"),
        ("/v1/models/half/versions/9", 404, "Could not find version 9 of model half"),
        ("/v1/models", 400, "Missing model name in request."),
        ("/v1/models/half/versions/99999999999999999999", 400,
         "Failed to convert version: 99999999999999999999 to numeric."),
    ],
)
def test_status_errors(http, path, status, message):
    response = http.get(path)
    assert response.status_code == status
    assert error_of(response) == message


def test_metadata(http):
    response = http.get("/v1/models/half/metadata")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["model_spec"] == {"name": "half", "signature_name": "", "version": "2"}
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert set(signatures) == {"serving_default", "times_three", "both", "__saved_model_init_op"}
    default = signatures["serving_default"]
    assert default["method_name"] == "tensorflow/serving/predict"
    assert default["defaults"] == {}
    x = default["inputs"]["x"]
    assert x["dtype"] == "DT_FLOAT"
    assert x["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
    assert x["name"] == "serving_default_x:0"
    assert set(signatures["both"]["outputs"]) == {"y", "x_as_double"}
    assert signatures["both"]["outputs"]["x_as_double"]["dtype"] == "DT_DOUBLE"
    assert signatures["__saved_model_init_op"]["outputs"]["__saved_model_init_op"]["tensor_shape"] == {
        "dim": [], "unknown_rank": True}


def test_metadata_of_a_version_or_label(http):
    assert http.get("/v1/models/half/versions/1/metadata").json()["model_spec"]["version"] == "1"
    assert http.get("/v1/models/half/labels/stable/metadata").json()["model_spec"]["version"] == "1"
    assert http.get("/v1/models/half/labels/canary/metadata").json()["model_spec"]["version"] == "2"


@pytest.mark.parametrize(
    "path, status, message",
    [
        ("/v1/models/nope/metadata", 404, "Servable not found for request: Latest(nope)"),
        ("/v1/models/half/versions/5/metadata", 404, "Servable not found for request: Specific(half, 5)"),
        ("/v1/models/half/labels/nope/metadata", 400, "Unrecognized servable version label: nope"),
        ("/v1/models/half/labels/future/metadata", 404, "Servable not found for request: Specific(half, 7)"),
    ],
)
def test_metadata_errors(http, path, status, message):
    response = http.get(path)
    assert response.status_code == status
    assert error_of(response) == message


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/foo"),
        ("POST", "/v1/foo"),
        ("GET", "/v1/models/debug/model_name"),
        ("POST", "/v1/models"),
        ("GET", "/v1/models/foo:predict"),
        ("GET", "/v1/models/foo/version/50:predict"),
        ("POST", "/v1/models/foo/version/50:regress"),
        ("POST", "/v1/models/foo/versions/HELLO:regress"),
        ("POST", "/v1/models/foo/metadata"),
        ("POST", "/v1/models/foo/label/some_label:regress"),
        ("POST", "/v1/models/foo/versions/50/labels/some_label:regress"),
        ("POST", "/v1/models/half"),
        ("POST", "/v1/models/half:PREDICT"),
        ("POST", "/v1/models/half:predict/"),
        ("GET", "/v1/models/half/"),
        ("GET", "/v1/models/"),
        ("POST", "/v1/models/half:predict?x=1"),
        ("GET", "/v1/models/half/metadata?x=1"),
        ("GET", "/v1/models/half/versions/1?x=1"),
        ("PUT", "/v1/models/half"),
        ("DELETE", "/v1/models/half"),
        ("PATCH", "/v1/models/half:predict"),
    ],
)
def test_malformed_requests(http, method, path):
    response = http.request(method, path, data=b'{"instances": [1.0]}')
    assert response.status_code == 400
    assert error_of(response) == f"Malformed request: {method} {path}"


def test_a_query_string_is_part_of_the_matched_path(http):
    # TF Serving full-matches its route regexes against path + query; "[^/:]+" takes
    # "?" and "=", so a query after a bare model name becomes part of the name.
    response = http.get("/v1/models/half?verbose=1")
    assert response.status_code == 404
    assert error_of(response) == "Could not find any versions of model half?verbose=1"


def test_head_is_malformed_without_a_body(http):
    response = http.request("HEAD", "/v1/models/half")
    assert response.status_code == 400 and response.content == b""
    assert response.headers["Content-Type"] == "application/json"


def test_routes_are_case_insensitive(http):
    assert http.get("/V1/MODELS/half").json()["model_version_status"][0]["version"] == "2"
    assert http.post("/v1/Models/half/Versions/1:predict", '{"instances": [1.0]}').json() == {"predictions": [2.5]}
    # "METADATA" matches the route, but TF Serving compares the subresource exactly: a status answer.
    assert "model_version_status" in http.get("/v1/models/half/METADATA").json()
    # a model literally named "metadata" is a status request
    assert error_of(http.get("/v1/models/metadata")) == "Could not find any versions of model metadata"


def test_names_are_percent_decoded(http):
    assert http.get("/v1/models/h%61lf/versions/1").json() == {"model_version_status": [ok(1)]}
    assert http.post("/v1/models/half/labels/st%61ble:predict", '{"instances": [1.0]}').json() == {"predictions": [2.5]}


@pytest.mark.parametrize("path", ["/", "/v2/models/half", "/healthz", "/v1", "/monitoring/prometheus/metrics"])
def test_paths_outside_v1_get_libevents_404_page(http, path):
    response = http.get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == "<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>\n</BODY></HTML>\n"


def test_methods_libevent_does_not_allow(http):
    response = http.request("TRACE", "/v1/models/half")
    assert response.status_code == 501 and "501 Not Implemented" in response.text
