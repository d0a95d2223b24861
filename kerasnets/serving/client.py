"""A small client for TensorFlow Serving's REST API (real TF Serving or `kerasnets serve`).

    client = Client("http://localhost:8501", "half")
    client.status()                                   # {"model_version_status": [...]}
    client.predict(instances=[[1.0], [2.0]])          # the decoded "predictions"
    client.predict(inputs={"x": [1.0, 2.0]}, signature_name="times_three", version=2)
    client.predict(instances=[b"raw bytes"])          # bytes travel as {"b64": ...}

Request values may be NumPy arrays/scalars and `bytes`; `NaN`/`Infinity` are
sent as TF Serving reads them. Answers are decoded with the same leniency:
bare `NaN`/`Infinity` are floats, and strings that are not UTF-8 (TF Serving
writes string tensors' raw bytes) come back as `str` with surrogate escapes
(`text.encode("utf-8", "surrogateescape")` gives the bytes back). Any
non-200 answer raises `ServingError` with the HTTP status and the server's
`error` message; network failures raise `ServingError` with `status` None.
"""

import base64
import json
import urllib.parse

import requests


class ServingError(Exception):
    """An error answer (or no answer) from the server: `status` (HTTP code or None) and `message`."""

    def __init__(self, status, message, url=None):
        super().__init__(f"HTTP {status}: {message}" if status is not None else message)
        self.status = status
        self.message = message
        self.url = url


def _to_json_ready(value):
    """NumPy values -> lists/numbers, bytes -> {"b64": ...}, recursively."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {key: _to_json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json_ready(item) for item in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy array or scalar
        return _to_json_ready(value.tolist())
    return value


class Client:
    """One model on one server: `Client("http://host:8501", "name")` or `Client(host=..., port=..., model_name=...)`."""

    def __init__(self, url=None, model_name=None, *, host="localhost", port=8501, timeout=30.0, session=None):
        if model_name is None:
            raise ValueError("Client needs a model_name")
        if url is None:
            url = f"http://{host}:{port}"
        if "://" not in url:
            url = "http://" + url
        self.url = url.rstrip("/")
        self.model_name = model_name
        self.timeout = timeout
        self._session = session or requests.Session()

    def close(self):
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _model_url(self, version=None, label=None):
        if version is not None and label is not None:
            raise ValueError("give a version or a label, not both")
        url = f"{self.url}/v1/models/{urllib.parse.quote(self.model_name, safe='')}"
        if version is not None:
            url += f"/versions/{int(version)}"
        elif label is not None:
            url += f"/labels/{urllib.parse.quote(label, safe='')}"
        return url

    def _request(self, method, url, body=None):
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(_to_json_ready(body), allow_nan=True).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            response = self._session.request(method, url, data=data, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            raise ServingError(None, f"{type(error).__name__}: {error}", url) from error
        text = response.content.decode("utf-8", "surrogateescape")
        try:
            decoded = json.loads(text) if text else None
        except ValueError:
            decoded = None
        if response.status_code != 200:
            if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
                message = decoded["error"]
            else:
                message = text.strip() or response.reason
            raise ServingError(response.status_code, message, url)
        if decoded is None:
            raise ServingError(response.status_code, f"the server answered with something that is not JSON: {text[:200]!r}", url)
        return decoded

    def status(self, version=None, label=None):
        """GET /v1/models/{name}[...]: the parsed status JSON (`model_version_status` list)."""
        return self._request("GET", self._model_url(version, label))

    def metadata(self, version=None, label=None):
        """GET .../metadata: the parsed JSON (`model_spec`, `metadata.signature_def.signature_def`)."""
        return self._request("GET", self._model_url(version, label) + "/metadata")

    def predict(self, instances=None, inputs=None, signature_name=None, version=None, label=None):
        """POST ...:predict; returns `predictions` (row format) or `outputs` (columnar)."""
        if (instances is None) == (inputs is None):
            raise ValueError("give exactly one of instances= (row format) or inputs= (columnar format)")
        body = {"instances": instances} if instances is not None else {"inputs": inputs}
        if signature_name is not None:
            body["signature_name"] = signature_name
        answer = self._request("POST", self._model_url(version, label) + ":predict", body)
        return answer["predictions"] if instances is not None else answer["outputs"]

    def _examples_request(self, verb, examples, context, signature_name, version, label):
        body = {"examples": examples}
        if context is not None:
            body["context"] = context
        if signature_name is not None:
            body["signature_name"] = signature_name
        return self._request("POST", self._model_url(version, label) + ":" + verb, body)["results"]

    def classify(self, examples, context=None, signature_name=None, version=None, label=None):
        """POST ...:classify with tf.Example-like dicts; returns `results` ([[label, score], ...] per example)."""
        return self._examples_request("classify", examples, context, signature_name, version, label)

    def regress(self, examples, context=None, signature_name=None, version=None, label=None):
        """POST ...:regress with tf.Example-like dicts; returns `results` (one number per example)."""
        return self._examples_request("regress", examples, context, signature_name, version, label)
