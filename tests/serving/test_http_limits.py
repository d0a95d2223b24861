"""HTTP-level limits of `ModelServer`: read deadlines, the connection cap, bad requests, versions, CORS.

Slow and idle clients are raw sockets driven a byte at a time, each loop
bounded by a deadline a few seconds past the server's timeout.
"""

import logging
import select
import socket
import threading
import time

import pytest
import requests

from kerasnets.serving import server as server_module
from kerasnets.serving.server import CORS_HEADERS, ModelServer, capped_error_message
from tests.serving.conftest import error_of

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5
SLACK_S = 3.0  # scheduling slack on a loaded 2-core machine
SMALL_LIMIT_BYTES = 64 * 1024


def _config(saved_models):
    from kerasnets.serving import single_model_config

    return single_model_config("half", saved_models["half"])


@pytest.fixture(scope="module")
def limited(saved_models):
    """A server with short read deadlines, a small body limit and CORS support on."""
    with ModelServer(
        _config(saved_models), port=0, file_system_poll_wait_seconds=0, rest_api_num_threads=2,
        header_timeout_s=HEADER_TIMEOUT_S, body_timeout_s=BODY_TIMEOUT_S, max_request_bytes=SMALL_LIMIT_BYTES,
        rest_api_enable_cors_support=True,
    ) as model_server:
        yield model_server


def _connect(model_server):
    sock = socket.create_connection(("127.0.0.1", model_server.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _closed_by_server(sock, wait_s):
    """Whether the server closed `sock` (EOF or reset) within `wait_s`; data it sends is returned too."""
    readable, _, _ = select.select([sock], [], [], wait_s)
    if not readable:
        return False, b""
    try:
        data = sock.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        return True, b""
    return data == b"", data


def _trickle(sock, data, deadline_s, interval_s=0.2):
    """Send `data` a byte every `interval_s` until the server closes `sock`; seconds until then, or None."""
    start = time.monotonic()
    for byte in data:
        if time.monotonic() - start > deadline_s:
            return None
        try:
            sock.send(bytes([byte]))
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        closed, received = _closed_by_server(sock, interval_s)
        assert received == b"", f"the server answered a request it should have cut off: {received[:80]!r}"
        if closed:
            return time.monotonic() - start
    return None


def _exchange(sock, request):
    """Send one HTTP/1.1 request and read its answer (status line, headers, Content-Length body)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {key.lower(): value.strip() for key, value in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _get(path):
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode("ascii")


def _keep_serving(model_server, stop, statuses):
    with requests.Session() as session:
        while not stop.is_set():
            statuses.append(session.get(model_server.url + "/v1/models/half", timeout=10).status_code)
            time.sleep(0.05)


# --- read deadlines -------------------------------------------------------------


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_slow_client_is_cut_off_while_others_are_served(limited, where):
    request = b"POST /v1/models/half:predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n"
    body = b'{"instances": [1.0]}'.ljust(100)
    stop, statuses = threading.Event(), []
    others = threading.Thread(target=_keep_serving, args=(limited, stop, statuses))
    others.start()
    try:
        with _connect(limited) as sock:
            if where == "headers":
                timeout = HEADER_TIMEOUT_S
                elapsed = _trickle(sock, request, timeout + SLACK_S)
            else:
                timeout = BODY_TIMEOUT_S
                sock.sendall(request)
                elapsed = _trickle(sock, body, timeout + SLACK_S)
    finally:
        stop.set()
        others.join(timeout=30)
    assert elapsed is not None, f"a client sending its {where} a byte at a time was never cut off"
    assert timeout - 0.3 <= elapsed <= timeout + SLACK_S
    assert statuses and set(statuses) == {200}


def test_an_idle_connection_is_closed_after_the_header_timeout(limited):
    with _connect(limited) as sock:
        start = time.monotonic()
        closed, data = _closed_by_server(sock, HEADER_TIMEOUT_S + SLACK_S)
        elapsed = time.monotonic() - start
    assert closed and data == b""
    assert HEADER_TIMEOUT_S - 0.3 <= elapsed <= HEADER_TIMEOUT_S + SLACK_S


def test_a_kept_alive_connection_gets_a_fresh_header_deadline_per_request(limited):
    with _connect(limited) as sock:
        for _ in range(3):  # together longer than one header timeout
            status, _, _ = _exchange(sock, _get("/v1/models/half"))
            assert status == 200
            time.sleep(HEADER_TIMEOUT_S / 2)
        elapsed = _trickle(sock, _get("/v1/models/half"), HEADER_TIMEOUT_S + SLACK_S, interval_s=0.1)
    # 35 bytes at 0.1 s each take 3.5 s: the trickled request is cut off from its own first byte
    assert elapsed is not None and HEADER_TIMEOUT_S - 0.3 <= elapsed <= HEADER_TIMEOUT_S + SLACK_S


# --- connection cap --------------------------------------------------------------


def test_connections_beyond_the_cap_get_503_and_the_others_keep_working(saved_models):
    cap = 4
    with ModelServer(_config(saved_models), port=0, file_system_poll_wait_seconds=0, rest_api_num_threads=2,
                     max_connections=cap) as model_server:
        held = [_connect(model_server) for _ in range(cap)]
        try:
            for sock in held:  # each answered: each admitted
                assert _exchange(sock, _get("/v1/models/half"))[0] == 200
            for _ in range(3):
                with _connect(model_server) as extra:
                    start = time.monotonic()
                    status, headers, body = _exchange(extra, b"")
                    assert status == 503 and headers["connection"] == "close"
                    assert b"<TITLE>503 Service Unavailable</TITLE>" in body
                    assert _closed_by_server(extra, 5)[0]
                    assert time.monotonic() - start < 2
            for sock in held:
                assert _exchange(sock, _get("/v1/models/half"))[0] == 200
            held.pop().close()
            deadline = time.monotonic() + 10
            while True:  # the freed slot is taken by the next connection
                with _connect(model_server) as sock:
                    if _exchange(sock, _get("/v1/models/half"))[0] == 200:
                        break
                assert time.monotonic() < deadline, "a closed connection never freed its slot"
                time.sleep(0.1)
        finally:
            for sock in held:
                sock.close()


def test_the_default_cap_fits_the_descriptor_limit():
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = server_module.default_max_connections()
    assert 1 <= cap <= 1024
    assert soft == resource.RLIM_INFINITY or cap <= max(1, soft // 2)


# --- requests that are not HTTP ----------------------------------------------------


@pytest.mark.parametrize("garbage", [
    b"\x00\x01\x02GARBAGE\r\n\r\n",
    b"GET /v1/models/half HTTP/1.1\r\nthis is not a header\r\n\r\n",
    b"GET /v1/models/half HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
])
def test_a_malformed_request_gets_400_and_one_log_line(server, caplog, garbage):
    with caplog.at_level(logging.DEBUG, logger="kerasnets.serving"), \
            caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        with _connect(server) as sock:
            status, headers, body = _exchange(sock, garbage)
            assert _closed_by_server(sock, 5)[0]
    assert status == 400 and headers["content-type"] == "text/html; charset=ISO-8859-1"
    assert body == server_module.libevent_error_page(400, "Bad Request").body
    records = [record for record in caplog.records if record.name in ("kerasnets.serving", "aiohttp.server")]
    assert len(records) == 1, [record.getMessage() for record in records]
    record = records[0]
    assert record.levelno == logging.DEBUG and record.exc_info is None
    assert record.getMessage().startswith("Bad HTTP request from 127.0.0.1: ")
    assert "\n" not in record.getMessage() and len(record.getMessage()) < 300
    # and the server goes on
    assert requests.get(server.url + "/v1/models/half", timeout=10).status_code == 200


# --- body size ----------------------------------------------------------------------


def test_the_body_limit_is_inclusive(limited):
    url = limited.url + "/v1/models/half:predict"
    at_limit = b'{"instances": [1.0]}'.ljust(SMALL_LIMIT_BYTES)
    response = requests.post(url, data=at_limit, timeout=10)
    assert response.status_code == 200 and response.json() == {"predictions": [3.5]}  # latest: y = 0.5 x + 3
    response = requests.post(url, data=at_limit + b" ", timeout=10)
    assert response.status_code == 413
    assert error_of(response).startswith(f"Request body is larger than this server's limit of {SMALL_LIMIT_BYTES}")


def test_small_requests_are_served_while_a_large_body_decodes(saved_models):
    # 8 MiB of floats: ~1M instances, seconds of decoding and tensor building on a worker thread
    body = b'{"instances": [' + b"0.123456, " * (8 * 2**20 // 10) + b"1.0]}"
    with ModelServer(_config(saved_models), port=0, file_system_poll_wait_seconds=0,
                     rest_api_num_threads=2) as model_server:
        assert len(body) < model_server.max_request_bytes
        stop, latencies = threading.Event(), []

        def small_requests():
            with requests.Session() as session:
                while not stop.is_set():
                    start = time.perf_counter()
                    assert session.get(model_server.url + "/v1/models/half", timeout=30).status_code == 200
                    latencies.append(time.perf_counter() - start)

        thread = threading.Thread(target=small_requests)
        thread.start()
        try:
            time.sleep(0.3)
            already = len(latencies)
            start = time.perf_counter()
            response = requests.post(model_server.url + "/v1/models/half:predict", data=body, timeout=120)
            large = time.perf_counter() - start
        finally:
            stop.set()
            thread.join(timeout=60)
    assert response.status_code == 200 and response.json()["predictions"][-1] == 3.5
    during = latencies[already:]
    # not queued behind it: many small answers while it ran, none waiting anywhere near as long
    assert len(during) >= 5, (large, during)
    assert max(during) < large / 2, (large, max(during))


# --- version numbers ------------------------------------------------------------------


@pytest.mark.parametrize("version", ["9" * 5000, "9223372036854775808", "1" + "0" * 19])
@pytest.mark.parametrize("route", ["GET /v1/models/half/versions/{}", "GET /v1/models/half/versions/{}/metadata",
                                   "POST /v1/models/half/versions/{}:predict"])
def test_a_version_beyond_int64_is_400(http, route, version):
    method, path = route.split(" ")
    response = http.request(method, path.format(version), data=b'{"instances": [1.0]}')
    assert response.status_code == 400
    assert error_of(response) == capped_error_message(f"Failed to convert version: {version} to numeric.")


def test_int64_versions_parse_with_leading_zeros(http):
    assert http.get("/v1/models/half/versions/" + "0" * 5000 + "1").status_code == 200
    assert http.get("/v1/models/half/versions/9223372036854775807").status_code == 404
    assert http.get("/v1/models/half/versions/" + "0" * 30 + "9223372036854775807").status_code == 404


# --- CORS -------------------------------------------------------------------------------


def _cors(response):
    return {key: response.headers[key] for key in CORS_HEADERS if key in response.headers}


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/v1/models/half", 200),
    ("GET", "/v1/models/nope", 404),
    ("POST", "/v1/models/half:predict", 200),
    ("POST", "/v1/models/half:predict/", 400),
])
def test_cors_headers_on_every_rest_answer_only_when_enabled(limited, server, method, path, status):
    for model_server, expected in ((limited, CORS_HEADERS), (server, {})):
        response = requests.request(method, model_server.url + path, data=b'{"instances": [1.0]}', timeout=10)
        assert response.status_code == status
        assert _cors(response) == expected


def test_no_cors_headers_outside_the_rest_api(limited):
    response = requests.get(limited.url + "/elsewhere", timeout=10)
    assert response.status_code == 404 and _cors(response) == {}


@pytest.mark.parametrize("origin, status", [("http://example.com", 200), ("https://a.example:8080", 200),
                                            (None, 400), ("example.com", 400)])
def test_preflight(limited, server, origin, status):
    headers = {"Access-Control-Request-Method": "POST"}
    if origin is not None:
        headers["Origin"] = origin
    for model_server, expected in ((limited, CORS_HEADERS), (server, {})):
        response = requests.options(model_server.url + "/v1/models/half:predict", headers=headers, timeout=10)
        assert response.status_code == status and response.content == b""
        assert _cors(response) == expected


def test_cors_flag_is_implemented():
    from kerasnets.serving import cli as serving_cli

    args = serving_cli._parser().parse_args(["--model_base_path=/abs/half", "--rest_api_enable_cors_support"])
    assert args.rest_api_enable_cors_support is True
    args = serving_cli._parser().parse_args(["--model_base_path=/abs/half", "--rest_api_enable_cors_support=false"])
    assert args.rest_api_enable_cors_support is False
    assert "rest_api_enable_cors_support" not in serving_cli.UNIMPLEMENTED_FLAGS


# --- unexpected errors --------------------------------------------------------------------


def test_an_unexpected_error_echoes_at_most_a_capped_text(caplog):
    def fail():
        raise ValueError("x" * 1_000_000)

    with caplog.at_level(logging.CRITICAL, logger="kerasnets.serving"):
        answer = server_module._answer(fail)
    assert answer.status == 500
    message = answer.body.decode("utf-8")
    assert "ValueError: xxx" in message
    assert server_module.MAX_ECHOED_ERROR_CHARS < len(message) < server_module.MAX_ECHOED_ERROR_CHARS + 200
    hidden = len("ValueError: ") + 1_000_000 - server_module.MAX_ECHOED_ERROR_CHARS
    assert message.endswith(f"... ({hidden} more characters)\"\n}}")
