"""JSON text exactly as TF Serving reads and writes it (it uses rapidjson).

Reading (`parse_document`): TF Serving's `ParseJson` runs rapidjson's
iterative reader with `kParseNanAndInfFlag | kParseStopWhenDoneFlag` over a
`MemoryStream`, so `NaN`, `Inf`, `Infinity`, `-Inf`, `-Infinity` are
numbers; reading stops after the root value (trailing bytes are never looked
at); a leading UTF-8 BOM is skipped; strings are raw bytes (no UTF-8
validation; undecodable bytes come back as surrogate escapes, see
`to_bytes`); a duplicated key finds its first value (`FindMember`); nesting
depth is unbounded; a syntax error is reported as `JSON Parse error:
<rapidjson's English message> at offset: <byte offset>`.

Every body goes first through python-rapidjson (the same C++ reader, with
rapidjson's own number conversion). It differs from TF Serving's call in
four places, all handled here: it checks for trailing values (re-read up to
them), it does not skip a BOM (stripped first), its recursive reader says
"Invalid value." where the iterative one says "The document is empty." (a
root starting with `]`, `}`, `,` or `:`), and it refuses two inputs TF
Serving takes: bytes that are not UTF-8 and nesting deeper than Python's
recursion limit. Those bodies are re-read by `_RapidJsonReader`, a byte-level
port of rapidjson's grammar, so the error text and offset are rapidjson's.
kerasnets adds two resource bounds TF Serving does not have:
`MAX_NESTING_DEPTH` levels and `MAX_DOCUMENT_VALUES` values per document.

Writing: `PrettyWriter` reproduces rapidjson's `PrettyWriter` (4-space
indent, `kFormatSingleLineArray`); `write_decimal` is TF Serving's
`WriteDecimal` (`%g` with 6 digits unless that does not round-trip, then
`max_digits10`; `.0` appended to whole numbers; bare `NaN`/`Infinity`);
`value_to_string` is TF Serving's `JsonValueToDebugString`, used inside error
messages (cut after 256 bytes).
"""

import itertools
import json
import math
import re
import struct

import rapidjson

from kerasnets.serving.status import invalid_argument

_PLAIN_STRING_BYTES = re.compile(rb'[^"\\\x00-\x1f]+')
_WHITESPACE_RUN = re.compile(rb"[ \t\n\r]*")
_ARRAY_OPENINGS = re.compile(rb"(?:\[[ \t\n\r]*)+")
# A complete JSON number token (the reader's fast path; anything else goes char by char).
_PLAIN_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![0-9.eE])")
_ESCAPES = {ord('"'): '"', ord("\\"): "\\", ord("/"): "/", ord("b"): "\b", ord("f"): "\f",
            ord("n"): "\n", ord("r"): "\r", ord("t"): "\t"}
_RAPIDJSON_ERROR = re.compile(r"Parse error at offset (\d+): (.*)", re.DOTALL)
_ROOT_NOT_SINGULAR = "The document root must not be followed by other values."
# Tokens the iterative reader's start state has no transition for (its HandleError says "empty").
_NOT_A_ROOT = frozenset(b"]},:")


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT32_MAX, UINT64_MAX = 2**32 - 1, 2**64 - 1

# kerasnets' bounds (rapidjson has none): deeper documents cost the fallback
# reader ~1 us per level and ~100 bytes per level; more values than this cost
# over 0.5 GB of Python objects.
MAX_NESTING_DEPTH = 100_000
MAX_DOCUMENT_VALUES = 1 << 24


class JsonParseError(ValueError):
    """A body rapidjson would not parse; `str()` is TF Serving's message."""


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


def _first_value_wins(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):
        result = {}
        for key, value in pairs:
            result.setdefault(key, value)
    return result


class _RapidJsonDecoder(rapidjson.Decoder):
    """python-rapidjson with rapidjson's own numbers; a repeated key keeps its first value."""

    def start_object(self):
        return []  # members arrive as (key, value) pairs

    def end_object(self, pairs):
        return _first_value_wins(pairs)


_DECODE = _RapidJsonDecoder(number_mode=rapidjson.NM_NATIVE | rapidjson.NM_NAN)


def parse_document(body, max_values=MAX_DOCUMENT_VALUES):
    """Parse a request body (bytes) the way TF Serving's `ParseJson` does.

    Returns plain Python values: dict, list, str, int, float, bool, None.
    Integers outside [-2**63, 2**64) are floats, as rapidjson stores them as
    doubles. Raises `JsonParseError` with TF Serving's message, or
    `StatusError` (INVALID_ARGUMENT) when the body has more than
    `max_values` value separators (`,`), counted before anything is built.
    """
    if not body:
        raise JsonParseError("JSON Parse error: The document is empty")
    body = bytes(body)
    if max_values is not None and len(body) > max_values and body.count(b",") >= max_values:
        raise invalid_argument(
            f"JSON document is too large to decode: more than {max_values} values "
            "(kerasnets serve decodes at most that many per request)"
        )
    start = 0  # EncodedInputStream<UTF8<>, MemoryStream> skips each BOM byte in turn
    for bom_byte in b"\xef\xbb\xbf":
        if start < len(body) and body[start] == bom_byte:
            start += 1
    data = body[start:] if start else body
    try:
        return _rapidjson_document(data, start)
    except (UnicodeDecodeError, RecursionError):  # raw bytes or deep nesting: TF Serving reads both
        return _RapidJsonReader(body).read_document()


def _rapidjson_error(error):
    """(offset, rapidjson's English message) of a python-rapidjson parse error."""
    match = _RAPIDJSON_ERROR.match(str(error))
    if match is None:
        raise error
    return int(match.group(1)), match.group(2)


def _rapidjson_document(data, start):
    try:
        return _DECODE(data)
    except rapidjson.JSONDecodeError as error:
        offset, message = _rapidjson_error(error)
    if message == _ROOT_NOT_SINGULAR:  # kParseStopWhenDoneFlag: the root value ended before `offset`
        return _DECODE(data[:offset])
    if (message == "Invalid value." and offset < len(data) and data[offset] in _NOT_A_ROOT
            and offset == len(data) - len(data.lstrip(b" \t\n\r"))):
        message = "The document is empty."
    raise JsonParseError(f"JSON Parse error: {message} at offset: {offset + start}")


class _ParseFailure(Exception):
    def __init__(self, message, offset):
        super().__init__(message)
        self.message = message
        self.offset = offset


class _RapidJsonReader:
    """rapidjson's iterative reader (TF Serving's flags), over bytes, in Python."""

    # After this many sub-documents Python's json could not read, go on char by char only.
    _MAX_SHORTCUT_FAILURES = 16

    def __init__(self, data):
        self.data = data
        self.size = len(data)
        self.pos = 0
        # Python's C decoder finds the ends of sub-values; latin-1 keeps byte offsets.
        self._text = data.decode("latin-1")
        self._scanner = json.JSONDecoder(object_pairs_hook=list)
        self._failures = 0

    def _decode_container(self):
        """A whole array/object at `pos` in one step, or None (then char by char).

        Python's C decoder finds where a well-formed container ends; if that
        range is ASCII, python-rapidjson reads it, so values and any error
        (e.g. "Number too big") are rapidjson's, at the same offsets.
        """
        if self._failures >= self._MAX_SHORTCUT_FAILURES:
            return None
        try:
            end = self._scanner.raw_decode(self._text, self.pos)[1]
            text = self.data[self.pos:end]
            if not text.isascii():
                raise ValueError("raw bytes: read char by char")
            value = _DECODE(text)
        except rapidjson.JSONDecodeError as error:  # (a ValueError too)
            offset, message = _rapidjson_error(error)
            self._fail(message, self.pos + offset)
        except (ValueError, RecursionError):
            self._failures += 1
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
        for bom_byte in (0xEF, 0xBB, 0xBF):
            self._consume(bom_byte)
        self._skip_whitespace()
        if self._peek() == 0 or self._peek() in _NOT_A_ROOT:
            self._fail("The document is empty.")
        return self._value()  # kParseStopWhenDoneFlag: whatever follows the root is not read

    def _check_depth(self, depth, opened=1):
        """Fail at the bracket that would open level MAX_NESTING_DEPTH + 1 (of `opened` ones from `pos`)."""
        if depth <= MAX_NESTING_DEPTH:
            return
        offset = self.pos
        for _ in range(opened - (depth - MAX_NESTING_DEPTH) + 1):
            offset = self.data.index(self.data[self.pos], offset) + 1
        self._fail(f"The document is nested deeper than {MAX_NESTING_DEPTH} levels.", offset - 1)

    def _value(self):
        # One entry per open container: the container (None: an array with no
        # element yet, so a run of '[' allocates nothing) and its pending key.
        containers, keys = [], []
        while True:
            char = self._peek()
            value = self._decode_container() if char in (ord("["), ord("{")) else None
            if value is None:
                if char == ord("{"):
                    self._check_depth(len(containers) + 1)
                    self.pos += 1
                    self._skip_whitespace()
                    if self._consume(ord("}")):
                        value = {}
                    else:
                        containers.append({})
                        keys.append(self._member_name())
                        continue
                elif char == ord("["):
                    run = _ARRAY_OPENINGS.match(self.data, self.pos)  # '[[[' in one step
                    opened = run.group().count(b"[")
                    self._check_depth(len(containers) + opened, opened)
                    containers.extend(itertools.repeat(None, opened))
                    keys.extend(itertools.repeat(None, opened))
                    self.pos = run.end()
                    if not self._consume(ord("]")):
                        continue
                    containers.pop()
                    keys.pop()
                    value = []
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
                if not containers:
                    return value
                container = containers[-1]
                if type(container) is not dict:
                    if container is None:
                        container = containers[-1] = []
                    container.append(value)
                    self._skip_whitespace()
                    if self._consume(ord(",")):
                        self._skip_whitespace()
                        break
                    if self._consume(ord("]")):
                        containers.pop()
                        keys.pop()
                        value = container
                        continue
                    self._fail("Missing a comma or ']' after an array element.")
                container.setdefault(keys[-1], value)
                self._skip_whitespace()
                if self._consume(ord(",")):
                    self._skip_whitespace()
                    keys[-1] = self._member_name()
                    break
                if self._consume(ord("}")):
                    containers.pop()
                    keys.pop()
                    value = container
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
        start = self.pos
        plain = _PLAIN_NUMBER.match(self.data, start)
        if plain:
            self.pos = plain.end()
            return self._number_value(start)
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
        if self._consume(ord(".")) and not self._digits():
            self._fail("Miss fraction part in number.")
        if self._consume(ord("e")) or self._consume(ord("E")):
            if not self._consume(ord("+")):
                self._consume(ord("-"))
            if not self._digits():
                self._fail("Miss exponent in number.")
        return self._number_value(start)

    def _number_value(self, start):
        """The number token at [start, pos) converted by rapidjson itself (its doubles are not always Python's)."""
        try:
            return _DECODE(self.data[start:self.pos])
        except rapidjson.JSONDecodeError:  # the only error left for a well-formed token
            self._fail("Number too big to be stored in double.", start)


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
    """The writer stops: rapidjson refuses NaN/Inf in a document, or the byte limit is reached."""


class PrettyWriter:
    """rapidjson's `PrettyWriter<StringBuffer>`: same separators, newlines and indents.

    `single_line_arrays` is `kFormatSingleLineArray`, which TF Serving turns
    on and off while writing responses. With `max_bytes`, every event first
    checks that fewer than `max_bytes` bytes were written, as TF Serving's
    `JsonWriterWithLimit` does, and raises `_WriteAborted` otherwise.
    """

    def __init__(self, max_bytes=None):
        self._out = []
        self._size = 0
        self._levels = []  # [in_array, value_count]
        self.single_line_arrays = False
        self._max_bytes = max_bytes

    def getvalue(self):
        return "".join(self._out)

    def _event(self):
        if self._max_bytes is not None and self._size >= self._max_bytes:
            raise _WriteAborted("limit")

    def _put(self, text):
        self._out.append(text)
        if self._max_bytes is not None:
            self._size += len(text) if text.isascii() else len(to_bytes(text))

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
        self._event()
        self._prefix()
        self._levels.append([False, 0])
        self._put("{")

    def end_object(self):
        self._event()
        level = self._levels.pop()
        if level[1]:
            self._put("\n")
            self._indent()
        self._put("}")

    def start_array(self):
        self._event()
        self._prefix()
        self._levels.append([True, 0])
        self._put("[")

    def end_array(self):
        self._event()
        level = self._levels.pop()
        if level[1] and not self.single_line_arrays:
            self._put("\n")
            self._indent()
        self._put("]")

    def key(self, name):
        self.string(name)

    def string(self, text):
        self._event()
        self._prefix()
        self._put(quote(text))

    def raw_number(self, text):
        self._event()
        self._prefix()
        self._put(text)

    def double(self, value):
        self._event()
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


# TF Serving's kMaxJsonDebugStringBytes: an echoed value stops at the first
# event that starts past this many bytes (one long string still goes out whole).
MAX_DEBUG_STRING_BYTES = 256


def value_to_string(value):
    """TF Serving's `JsonValueToDebugString`: a value as it appears inside error messages.

    rapidjson's PrettyWriter with `kFormatSingleLineArray`, numbers as
    `Writer` writes them (a double in shortest form, nothing for NaN/Inf,
    where writing stops), cut once `MAX_DEBUG_STRING_BYTES` are written. The
    limit also bounds the recursion: each level writes at least one byte.
    """
    writer = PrettyWriter(max_bytes=MAX_DEBUG_STRING_BYTES)
    writer.single_line_arrays = True
    try:
        writer.accept(value)
    except _WriteAborted:
        pass
    return writer.getvalue()


def error_body(message):
    """TF Serving's `MakeJsonFromStatus`: `{"error": "<message>"}`, pretty-printed, as bytes."""
    return to_bytes('{\n    "error": ' + quote(message) + "\n}")
