"""JSON text exactly as TF Serving reads and writes it (it uses rapidjson).

Reading (`parse_document`): rapidjson with `kParseNanAndInfFlag`, so `NaN`,
`Inf`, `Infinity`, `-Inf`, `-Infinity` are numbers; strings are raw bytes (no
UTF-8 validation; undecodable bytes come back as surrogate escapes, see
`to_bytes`); a duplicated key finds its first value (`FindMember`); a syntax
error is reported as `JSON Parse error: <rapidjson's English message> at
offset: <byte offset>`. Well-formed bodies go through Python's C `json`
module; anything it rejects or might read differently (number overflow, `Inf`,
a BOM, a NUL byte...) is re-read by `_RapidJsonReader`, a byte-level port of
rapidjson's grammar, so the error text and offset are rapidjson's.

Writing: `PrettyWriter` reproduces rapidjson's `PrettyWriter` (4-space
indent, `kFormatSingleLineArray`); `write_decimal` is TF Serving's
`WriteDecimal` (`%g` with 6 digits unless that does not round-trip, then
`max_digits10`; `.0` appended to whole numbers; bare `NaN`/`Infinity`);
`value_to_string` is TF Serving's `JsonValueToString`, used inside error
messages.
"""

import json
import math
import re
import struct

# Bodies Python's json might read differently from rapidjson (numbers that
# overflow to inf instead of "Number too big", surrogate escapes rapidjson
# checks), sent to the exact reader instead.
# That is, bytes matching `[0-9]{200}|[eE]\+?[0-9]{3}|\\u[dD][89a-fA-F]`; found with one
# bytes.translate into digit/e/+ classes and a few bytes.find (C loops, ~15x faster than
# that regex on a LeNet-5 body, which it scanned on every request).
_NUMBER_CLASSES = bytes(
    ord("0") if chr(byte).isdigit() and byte < 128 else ord("e") if byte in b"eE" else ord("+") if byte == ord("+")
    else ord(" ")
    for byte in range(256)
)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

_PLAIN_STRING_BYTES = re.compile(rb'[^"\\\x00-\x1f]+')
_WHITESPACE_RUN = re.compile(rb"[ \t\n\r]*")
# A complete, ordinary JSON number (the reader's fast path; anything else goes char by char).
_PLAIN_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?(?:[eE][+-]?[0-9]{1,2})?(?![0-9.eE])")
_ESCAPES = {ord('"'): '"', ord("\\"): "\\", ord("/"): "/", ord("b"): "\b", ord("f"): "\f",
            ord("n"): "\n", ord("r"): "\r", ord("t"): "\t"}


def _python_may_differ(body):
    """Whether Python's json may read `body` differently from rapidjson (see above)."""
    if b"\\u" in body and _SURROGATE_ESCAPE.search(body):
        return True
    classes = body.translate(_NUMBER_CLASSES)
    return b"0" * 200 in classes or b"e000" in classes or b"e+000" in classes


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT32_MAX, UINT64_MAX = 2**32 - 1, 2**64 - 1
_RAPIDJSON_FLOAT_RANGE = 3.4028234e38  # rapidjson's Value::IsFloat() bound


class JsonParseError(ValueError):
    """A body rapidjson would not parse; `str()` is TF Serving's message."""


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


def _first_value_wins(pairs):
    result = {}
    for key, value in pairs:
        result.setdefault(key, value)
    return result


def parse_document(body):
    """Parse a request body (bytes) the way TF Serving's `ParseJson` does.

    Returns plain Python values: dict, list, str, int, float, bool, None.
    Integers outside [-2**63, 2**64) are floats, as rapidjson stores them as
    doubles. Raises `JsonParseError` with TF Serving's message.
    """
    if not body:
        raise JsonParseError("JSON Parse error: The document is empty")
    if not _python_may_differ(body):
        try:
            value = json.loads(body.decode("utf-8", "surrogateescape"), object_pairs_hook=_first_value_wins)
        except (ValueError, RecursionError):
            pass
        else:
            return value
    return _RapidJsonReader(body).read_document()


class _ParseFailure(Exception):
    def __init__(self, message, offset):
        super().__init__(message)
        self.message = message
        self.offset = offset


class _RapidJsonReader:
    """rapidjson's recursive-descent reader, iterative, over bytes."""

    def __init__(self, data):
        self.data = data
        self.size = len(data)
        self.pos = 0
        # For ASCII bodies Python's C decoder reads well-formed sub-values at the
        # same offsets; using it for whole arrays/objects keeps big bodies fast.
        self._text = data.decode("ascii") if data.isascii() and not _python_may_differ(data) else None
        self._decoder = json.JSONDecoder(object_pairs_hook=_first_value_wins)
        self._failures = 0

    def _decode_container(self):
        """A whole array/object at `pos` via Python's decoder, or None (then char by char).

        Each failure re-scans up to the error, so after a few (deep nesting) the
        reader goes on char by char only.
        """
        if self._text is None:
            return None
        try:
            value, end = self._decoder.raw_decode(self._text, self.pos)
        except ValueError:
            self._failures += 1
            if self._failures > 16:
                self._text = None
            return None
        except RecursionError:
            self._text = None
            return None
        self.pos = end
        return value

    def read_document(self):
        try:
            return self._document()
        except _ParseFailure as failure:
            raise JsonParseError(f"JSON Parse error: {failure.message} at offset: {failure.offset}") from None

    # A MemoryStream yields '\0' past the end, and rapidjson stops at a NUL byte.
    def _peek(self):
        return self.data[self.pos] if self.pos < self.size else 0

    def _consume(self, char):
        if self._peek() == char:
            self.pos += 1
            return True
        return False

    def _skip_whitespace(self):
        self.pos = _WHITESPACE_RUN.match(self.data, self.pos).end()

    def _fail(self, message, offset=None):
        raise _ParseFailure(message, self.pos if offset is None else offset)

    def _document(self):
        for bom_byte in (0xEF, 0xBB, 0xBF):  # EncodedInputStream<UTF8> skips a BOM
            self._consume(bom_byte)
        self._skip_whitespace()
        if self._peek() == 0:
            self._fail("The document is empty.")
        value = self._value()
        self._skip_whitespace()
        if self._peek() != 0:
            self._fail("The document root must not be followed by other values.")
        return value

    def _value(self):
        # Frames are [container, pending_key]; containers are filled in place.
        stack = []
        while True:
            char = self._peek()
            value = self._decode_container() if char in (ord("["), ord("{")) else None
            if value is None:
                if char == ord("{"):
                    self.pos += 1
                    self._skip_whitespace()
                    if self._consume(ord("}")):
                        value = {}
                    else:
                        stack.append([{}, self._member_name()])
                        continue
                elif char == ord("["):
                    self.pos += 1
                    self._skip_whitespace()
                    if self._consume(ord("]")):
                        value = []
                    else:
                        stack.append([[], None])
                        continue
                elif char == ord('"'):
                    value = self._string()
                elif char == ord("n"):
                    value = self._literal(b"null", None)
                elif char == ord("t"):
                    value = self._literal(b"true", True)
                elif char == ord("f"):
                    value = self._literal(b"false", False)
                else:
                    value = self._number()

            while True:  # attach the finished value to its parents
                if not stack:
                    return value
                frame = stack[-1]
                container = frame[0]
                if isinstance(container, list):
                    container.append(value)
                    self._skip_whitespace()
                    if self._consume(ord(",")):
                        self._skip_whitespace()
                        break
                    if self._consume(ord("]")):
                        value = stack.pop()[0]
                        continue
                    self._fail("Missing a comma or ']' after an array element.")
                container.setdefault(frame[1], value)
                self._skip_whitespace()
                if self._consume(ord(",")):
                    self._skip_whitespace()
                    frame[1] = self._member_name()
                    break
                if self._consume(ord("}")):
                    value = stack.pop()[0]
                    continue
                self._fail("Missing a comma or '}' after an object member.")

    def _member_name(self):
        if self._peek() != ord('"'):
            self._fail("Missing a name for object member.")
        name = self._string()
        self._skip_whitespace()
        if not self._consume(ord(":")):
            self._fail("Missing a colon after a name of object member.")
        self._skip_whitespace()
        return name

    def _literal(self, word, value):
        self.pos += 1
        for char in word[1:]:
            if not self._consume(char):
                self._fail("Invalid value.")
        return value

    def _hex4(self, escape_offset):
        codepoint = 0
        for _ in range(4):
            char = chr(self._peek())
            if char not in "0123456789abcdefABCDEF":
                self._fail("Incorrect hex digit after \\u escape in string.", escape_offset)
            codepoint = codepoint * 16 + int(char, 16)
            self.pos += 1
        return codepoint

    def _string(self):
        self.pos += 1  # opening quote
        out = bytearray()
        while True:
            plain = _PLAIN_STRING_BYTES.match(self.data, self.pos)
            if plain:
                out += plain.group()
                self.pos = plain.end()
            char = self._peek()
            if char == ord("\\"):
                escape_offset = self.pos
                self.pos += 1
                escaped = self._peek()
                if escaped in _ESCAPES:
                    self.pos += 1
                    out += _ESCAPES[escaped].encode()
                elif escaped == ord("u"):
                    self.pos += 1
                    codepoint = self._hex4(escape_offset)
                    if 0xD800 <= codepoint <= 0xDBFF:
                        if not (self._consume(ord("\\")) and self._consume(ord("u"))):
                            self._fail("The surrogate pair in string is invalid.", escape_offset)
                        low = self._hex4(escape_offset)
                        if not 0xDC00 <= low <= 0xDFFF:
                            self._fail("The surrogate pair in string is invalid.", escape_offset)
                        codepoint = 0x10000 + ((codepoint - 0xD800) << 10) + (low - 0xDC00)
                    elif 0xDC00 <= codepoint <= 0xDFFF:
                        self._fail("The surrogate pair in string is invalid.", escape_offset)
                    out += chr(codepoint).encode("utf-8")
                else:
                    self._fail("Invalid escape character in string.", escape_offset)
            elif char == ord('"'):
                self.pos += 1
                return out.decode("utf-8", "surrogateescape")
            elif char == 0:
                self._fail("Missing a closing quotation mark in string.")
            else:  # a control character
                self._fail("Invalid encoding in string.")

    def _digits(self):
        start = self.pos
        while self.pos < self.size and 0x30 <= self.data[self.pos] <= 0x39:
            self.pos += 1
        return self.pos - start

    def _number(self):
        plain = _PLAIN_NUMBER.match(self.data, self.pos)
        if plain:  # short enough that neither int64 nor double range can be exceeded
            self.pos = plain.end()
            text = plain.group()
            return float(text) if plain.group(1) is not None or b"e" in text or b"E" in text else int(text)
        start = self.pos
        minus = self._consume(ord("-"))
        char = self._peek()
        if char == ord("0"):
            self.pos += 1
        elif ord("1") <= char <= ord("9"):
            self._digits()
        elif char in (ord("N"), ord("I")):
            if self._consume(ord("N")):
                if self._consume(ord("a")) and self._consume(ord("N")):
                    return math.nan
            elif self._consume(ord("I")):
                if self._consume(ord("n")) and self._consume(ord("f")):
                    if self._peek() == ord("i") and not all(self._consume(ord(c)) for c in "inity"):
                        self._fail("Invalid value.")
                    return -math.inf if minus else math.inf
            self._fail("Invalid value.")
        else:
            self._fail("Invalid value.")
        integer_end = self.pos
        fraction_digits = 0
        is_double = False
        if self._consume(ord(".")):
            fraction_digits = self._digits()
            if not fraction_digits:
                self._fail("Miss fraction part in number.")
            is_double = True
        if self._consume(ord("e")) or self._consume(ord("E")):
            is_double = True
            exponent_negative = False
            if not self._consume(ord("+")):
                exponent_negative = self._consume(ord("-"))
            if not ord("0") <= self._peek() <= ord("9"):
                self._fail("Miss exponent in number.")
            exponent = 0
            max_exponent = 308 + fraction_digits
            first = True
            while ord("0") <= self._peek() <= ord("9"):
                exponent = exponent * 10 + self._peek() - ord("0")
                self.pos += 1
                if not first and not exponent_negative and exponent > max_exponent:
                    self._fail("Number too big to be stored in double.", start)
                first = False
        text = self.data[start:self.pos].decode("ascii")
        if not is_double:
            value = int(self.data[start:integer_end])
            if INT64_MIN <= value <= UINT64_MAX:
                return value
        value = float(text)
        if math.isinf(value):
            self._fail("Number too big to be stored in double.", start)
        return value


# --------------------------------------------------------------------------
# Inspecting values the way rapidjson classifies them
# --------------------------------------------------------------------------


def json_type_name(value):
    """TF Serving's `JsonTypeString`: Null, False, True, Object, Array, String or Number."""
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def is_integer(value):
    """An integer rapidjson stores as one (not a double)."""
    return type(value) is int and INT64_MIN <= value <= UINT64_MAX


def is_base64_object(value):
    """`{"b64": "<string>"}`, with no other key (TF Serving's IsValBase64Object)."""
    return type(value) is dict and len(value) == 1 and type(value.get("b64")) is str


def to_bytes(text):
    """The raw bytes of a parsed JSON string (undecodable bytes were surrogate-escaped)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate written as an escape
        return text.encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

_STRING_ESCAPES = {chr(c): "\\u%04X" % c for c in range(0x20)}
_STRING_ESCAPES.update({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r",
                        '"': '\\"', "\\": "\\\\"})
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\]')


def quote(text):
    """A JSON string as rapidjson's Writer writes it (only `"`, `\\` and control characters escaped)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    return '"' + _NEEDS_ESCAPE.sub(lambda match: _STRING_ESCAPES[match.group()], text) + '"'


def to_float32(value):
    """Round a Python float to the nearest float32 (overflow gives +-inf)."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def write_decimal(value, single_precision):
    """TF Serving's `WriteDecimal<float|double>` text for one number."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = "%.6g" % value
    parsed = float(text)
    if single_precision:
        round_trips = to_float32(parsed) == value
    else:
        round_trips = parsed == value
    if not round_trips:
        text = ("%.9g" if single_precision else "%.17g") % value
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def rapidjson_double(value):
    """rapidjson's `Writer::Double` text (shortest round-trip digits, rapidjson's layout)."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    text = repr(abs(value))
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    k = int(exponent or 0) - len(fraction)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    length = len(digits)
    kk = length + k
    if 0 <= k and kk <= 21:
        body = digits + "0" * k + ".0"
    elif 0 < kk <= 21:
        body = digits[:kk] + "." + digits[kk:]
    elif -6 < kk <= 0:
        body = "0." + "0" * -kk + digits
    elif length == 1:
        body = digits + "e" + str(kk - 1)
    else:
        body = digits[0] + "." + digits[1:] + "e" + str(kk - 1)
    return sign + body


class _WriteAborted(Exception):
    """rapidjson's Writer refuses NaN/Inf in a document and stops there."""


class PrettyWriter:
    """rapidjson's `PrettyWriter<StringBuffer>`: same separators, newlines and indents.

    `single_line_arrays` is `kFormatSingleLineArray`, which TF Serving turns
    on and off while writing responses.
    """

    def __init__(self, max_chars=None):
        self._out = []
        self._length = 0
        self._levels = []  # [in_array, value_count]
        self.single_line_arrays = False
        self._max_chars = max_chars

    def getvalue(self):
        return "".join(self._out)

    def _put(self, text):
        self._out.append(text)
        self._length += len(text)
        if self._max_chars is not None and self._length > self._max_chars:
            raise _WriteAborted("too long")

    def _indent(self):
        self._put(" " * (4 * len(self._levels)))

    def _prefix(self):
        if not self._levels:
            return
        level = self._levels[-1]
        if level[0]:
            if level[1] > 0:
                self._put(", " if self.single_line_arrays else ",")
            if not self.single_line_arrays:
                self._put("\n")
                self._indent()
        else:
            if level[1] > 0:
                self._put(",\n" if level[1] % 2 == 0 else ": ")
            else:
                self._put("\n")
            if level[1] % 2 == 0:
                self._indent()
        level[1] += 1

    def start_object(self):
        self._prefix()
        self._levels.append([False, 0])
        self._put("{")

    def end_object(self):
        level = self._levels.pop()
        if level[1]:
            self._put("\n")
            self._indent()
        self._put("}")

    def start_array(self):
        self._prefix()
        self._levels.append([True, 0])
        self._put("[")

    def end_array(self):
        level = self._levels.pop()
        if level[1] and not self.single_line_arrays:
            self._put("\n")
            self._indent()
        self._put("]")

    def key(self, name):
        self.string(name)

    def string(self, text):
        self._prefix()
        self._put(quote(text))

    def raw_number(self, text):
        self._prefix()
        self._put(text)

    def double(self, value):
        self._prefix()
        if math.isnan(value) or math.isinf(value):
            raise _WriteAborted("NaN or Inf")
        self._put(rapidjson_double(value))

    def accept(self, value):
        """`Value::Accept(writer)`: write a parsed JSON value (recursively)."""
        if value is None:
            self.raw_number("null")
        elif value is True:
            self.raw_number("true")
        elif value is False:
            self.raw_number("false")
        elif isinstance(value, str):
            self.string(value)
        elif isinstance(value, dict):
            self.start_object()
            for name, member in value.items():
                self.key(name)
                self.accept(member)
            self.end_object()
        elif isinstance(value, list):
            self.start_array()
            for item in value:
                self.accept(item)
            self.end_array()
        elif is_integer(value):
            self.raw_number(str(value))
        else:
            self.double(float(value))


# Error messages embed whole request documents, as TF Serving's do; past this
# many characters the text is cut (TF Serving has a TODO to truncate).
MAX_DOCUMENT_CHARS_IN_MESSAGES = 1 << 20


def value_to_string(value):
    """TF Serving's `JsonValueToString`: a value as it appears inside error messages.

    A top-level double goes through `WriteDecimal` (as a float when it is in
    float range, rapidjson's `IsFloat()`); anything else is pretty-printed, and
    printing stops at a NaN/Inf inside a container as rapidjson's does.
    """
    if type(value) is float or (type(value) is int and not is_integer(value)):
        number = float(value)
        if -_RAPIDJSON_FLOAT_RANGE <= number <= _RAPIDJSON_FLOAT_RANGE:
            return write_decimal(to_float32(number), single_precision=True)
        return write_decimal(number, single_precision=False)
    writer = PrettyWriter(max_chars=MAX_DOCUMENT_CHARS_IN_MESSAGES)
    try:
        writer.accept(value)
    except _WriteAborted as aborted:
        if str(aborted) == "too long":
            return writer.getvalue()[:MAX_DOCUMENT_CHARS_IN_MESSAGES] + "...(truncated)"
    return writer.getvalue()


def error_body(message):
    """TF Serving's `MakeJsonFromStatus`: `{"error": "<message>"}`, pretty-printed, as bytes."""
    return to_bytes('{\n    "error": ' + quote(message) + "\n}")
