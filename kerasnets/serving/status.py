"""TensorFlow status codes, as TF Serving reports them over REST.

TF Serving turns every failure into a `tensorflow::Status` (a code plus a
message). The REST handler sends only the message, as `{"error": "..."}`, with
the HTTP status that `ToHTTPStatusCode` (http_server.cc) picks for the code;
`StatusError` carries both through this package.
"""

import enum
import re


class Code(enum.IntEnum):
    """`tensorflow.error.Code` (the numbers are the proto's, so they can fill a StatusProto)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


# TF Serving's ToHTTPStatusCode; note FAILED_PRECONDITION -> 400, not 412.
_HTTP_STATUS = {
    Code.OK: 200,
    Code.CANCELLED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}


def http_status(code):
    """The HTTP status TF Serving answers for a status `code`."""
    return _HTTP_STATUS.get(Code(code), 500)


class StatusError(Exception):
    """A failed `tensorflow::Status`: `code` (a `Code`) and the exact `message`."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = Code(code)
        self.message = message

    @property
    def http_status(self):
        return http_status(self.code)

    def status_string(self):
        """`Status::ToString()` in TF 2.x: 'INVALID_ARGUMENT: <message>'."""
        return f"{self.code.name}: {self.message}"

    def __repr__(self):
        return f"StatusError({self.code.name}, {self.message!r})"


def invalid_argument(message):
    return StatusError(Code.INVALID_ARGUMENT, message)


def not_found(message):
    return StatusError(Code.NOT_FOUND, message)


def failed_precondition(message):
    return StatusError(Code.FAILED_PRECONDITION, message)


def unimplemented(message):
    return StatusError(Code.UNIMPLEMENTED, message)


def internal(message):
    return StatusError(Code.INTERNAL, message)


def from_tensorflow_error(error):
    """A `StatusError` for an exception raised by TensorFlow while loading or running a model.

    `tf.errors.OpError` keeps its own code (TF Serving passes Session::Run
    statuses through); Python-side binding errors become INVALID_ARGUMENT and
    anything else UNKNOWN.
    """
    import tensorflow as tf

    if isinstance(error, StatusError):
        return error
    if isinstance(error, tf.errors.OpError):
        return StatusError(error.error_code, _clean_op_error_message(error.message))
    if isinstance(error, (TypeError, ValueError)):
        return StatusError(Code.INVALID_ARGUMENT, str(error))
    return StatusError(Code.UNKNOWN, f"{type(error).__name__}: {error}")


def _clean_op_error_message(message):
    # Eager execution wraps graph errors in a Python-side trace
    # ("Graph execution error:\n\nDetected at node X defined at ...:\n<trace>\n")
    # and appends " [Op:__inference_...]"; TF Serving's Session::Run message
    # is what is left.
    lines = message.splitlines()
    if lines and lines[0].startswith("Graph execution error:"):
        kept = []
        for line in lines[1:]:
            if kept or not (
                not line.strip()
                or line.startswith((" ", "Detected at node", "<stack traces unavailable>"))
            ):
                kept.append(line)
        lines = kept or lines
    text = "\n".join(lines).strip()
    return re.sub(r" \[Op:[^\]]*\]$", "", text)
