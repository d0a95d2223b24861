"""The Python client against the development server."""

import math
import socket

import numpy as np
import pytest

from kerasnets.serving import Client, ServingError


@pytest.fixture(scope="module")
def half(server):
    with Client(server.url, "half") as client:
        yield client


def test_status_and_metadata(half, server):
    assert [s["version"] for s in half.status()["model_version_status"]] == ["2", "1"]
    assert half.status(version=1)["model_version_status"][0]["state"] == "AVAILABLE"
    assert half.metadata(label="stable")["model_spec"]["version"] == "1"
    host, port = server.url.rsplit("//", 1)[1].split(":")
    assert Client(host=host, port=int(port), model_name="half").metadata()["model_spec"]["version"] == "2"


def test_predict_both_formats(half):
    assert half.predict(instances=[1.0, 2.0]) == [2.5 + 1, 3.0 + 1]
    assert half.predict(inputs={"x": np.array([1.0, 3.0], np.float32)}, version=1) == [2.5, 3.5]
    assert half.predict(instances=np.array([1.0]), signature_name="times_three") == [3.0]
    assert half.predict(inputs=[2.0], signature_name="both", label="canary") == {"x_as_double": [2 / 3], "y": [4.0]}


def test_nan_and_infinity_round_trip(half):
    values = half.predict(instances=[math.nan, math.inf, -math.inf])
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


def test_bytes_and_non_utf8_strings(server):
    strings = Client(server.url, "strings")
    rows = strings.predict(instances=[b"\x00\xffraw", "text"])
    assert rows[0]["echo_bytes"] == {"b64": "AP9yYXc="}
    assert rows[1] == {"echo_bytes": {"b64": "dGV4dA=="}, "length": 4, "upper": "TEXT"}
    raw = strings.predict(inputs=["ok"], signature_name="raw")
    assert raw[0].encode("utf-8", "surrogateescape") == b"ok\xff"


def test_classify_and_regress(server):
    classifier = Client(server.url, "classifier")
    assert classifier.classify([{"x": 0.0}]) == [[["neg", 0.5], ["pos", 0.5]]]
    assert classifier.regress([{"x": 1.0}], context={"bias": 0.5}, signature_name="regress") == [2.5]


def test_errors_carry_the_servers_status_and_message(server, half):
    with pytest.raises(ServingError) as caught:
        Client(server.url, "nope").predict(instances=[1.0])
    assert (caught.value.status, caught.value.message) == (404, "Servable not found for request: Latest(nope)")
    with pytest.raises(ServingError) as caught:
        half.predict(instances=["a"])
    assert caught.value.status == 400
    assert caught.value.message.endswith('JSON Value: "a" Type: String is not of expected type: float')
    with pytest.raises(ServingError) as caught:
        half.status(version=9)
    assert str(caught.value) == "HTTP 404: Could not find version 9 of model half"
    with pytest.raises(ServingError) as caught:
        half.predict(instances=[1.0], label="nope")
    assert (caught.value.status, caught.value.message) == (400, "Unrecognized servable version label: nope")


def test_client_side_mistakes(half):
    with pytest.raises(ValueError):
        half.predict()
    with pytest.raises(ValueError):
        half.predict(instances=[1.0], inputs=[1.0])
    with pytest.raises(ValueError):
        half.status(version=1, label="stable")


def test_no_server_listening():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ServingError) as caught:
        Client(f"127.0.0.1:{port}", "half", timeout=2).status()
    assert caught.value.status is None and "ConnectionError" in caught.value.message
