"""Code-point tables for BERT's normalizer and pre-tokenizer, as Hugging Face `tokenizers` applies them.

Core TensorFlow has no Unicode normalization or category op, so what the
`BertNormalizer` does to each code point is worked out here once, in Python
(`unicodedata`), and applied in-graph by `WordPieceTokenizer` as a gather:

    clean text      drop U+0000, U+FFFD and categories Cc, Cf, Co (not \\t \\n \\r);
                    whitespace (Rust's `char::is_whitespace`, plus \\t \\n \\r) → " "
    CJK ideographs  c → " c " (the ranges of `tokenizers`' `is_chinese_char`)
    strip accents   NFD(c) without the code points of category Mn
    lowercase       str.lower per code point (no final-sigma context, as Rust's
                    per-char `to_lowercase`)

and what the `BertPreTokenizer` makes of each resulting code point: a space
(split there), a punctuation mark (a word by itself: ASCII 33–47, 58–64,
91–96, 123–126, or category P*), or part of a word.

`tokenizers` 0.23 takes categories (Mn, Cf, P*) from older Unicode tables
than Python 3.11's `unicodedata` (Unicode 14.0) and lowercase mappings from
newer ones; the `HF_*` sets below are those code points, found by running
both on every code point (tests/tokenizers/test_word_piece_tokenizer.py
checks all 1,112,064 again).
"""

import functools
import unicodedata

import numpy as np

OTHER, SPACE, PUNCTUATION = 0, 1, 2
EMPTY = -1  # an unused output slot
SAME = -2  # the slot takes the input code point itself

# Rust's `char::is_whitespace` (Unicode White_Space); 0x1C–0x1F are not in it.
WHITE_SPACE = frozenset(
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F]
    + [0x205F, 0x3000]
)

# `tokenizers`' `is_chinese_char` (0x2B820–0x2B91F is not in it, unlike the Python BertTokenizer).
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _expand(ranges):
    return frozenset(cp for first, last in ranges for cp in range(first, last + 1))


# Mn in Unicode 14 but kept by `tokenizers`' accent stripping (unassigned or not Mn in its tables).
HF_NOT_NONSPACING_MARK = _expand(
    [(0x07FD, 0x07FD), (0x0898, 0x089F), (0x08CA, 0x08E1), (0x09FE, 0x09FE), (0x0AFA, 0x0AFF), (0x0B55, 0x0B55)]
    + [(0x0C04, 0x0C04), (0x0C3C, 0x0C3C), (0x0D00, 0x0D00), (0x0D3B, 0x0D3C), (0x0D81, 0x0D81), (0x0EBA, 0x0EBA)]
    + [(0x180F, 0x180F), (0x1885, 0x1886), (0x1ABF, 0x1ACE), (0x1DF6, 0x1DFB), (0xA82C, 0xA82C), (0xA8C5, 0xA8C5)]
    + [(0xA8FF, 0xA8FF), (0xA9BD, 0xA9BD), (0x10D24, 0x10D27), (0x10EAB, 0x10EAC), (0x10F46, 0x10F50)]
    + [(0x10F82, 0x10F85), (0x11070, 0x11070), (0x11073, 0x11074), (0x110C2, 0x110C2), (0x111C9, 0x111C9)]
    + [(0x111CF, 0x111CF), (0x1123E, 0x1123E), (0x1133B, 0x1133B), (0x11438, 0x1143F), (0x11442, 0x11444)]
    + [(0x11446, 0x11446), (0x1145E, 0x1145E), (0x1182F, 0x11837), (0x11839, 0x1183A), (0x1193B, 0x1193C)]
    + [(0x1193E, 0x1193E), (0x11943, 0x11943), (0x119D4, 0x119D7), (0x119DA, 0x119DB), (0x119E0, 0x119E0)]
    + [(0x11A01, 0x11A0A), (0x11A33, 0x11A38), (0x11A3B, 0x11A3E), (0x11A47, 0x11A47), (0x11A51, 0x11A56)]
    + [(0x11A59, 0x11A5B), (0x11A8A, 0x11A96), (0x11A98, 0x11A99), (0x11C30, 0x11C36), (0x11C38, 0x11C3D)]
    + [(0x11C3F, 0x11C3F), (0x11C92, 0x11CA7), (0x11CAA, 0x11CB0), (0x11CB2, 0x11CB3), (0x11CB5, 0x11CB6)]
    + [(0x11D31, 0x11D36), (0x11D3A, 0x11D3A), (0x11D3C, 0x11D3D), (0x11D3F, 0x11D45), (0x11D47, 0x11D47)]
    + [(0x11D90, 0x11D91), (0x11D95, 0x11D95), (0x11D97, 0x11D97), (0x11EF3, 0x11EF4), (0x16F4F, 0x16F4F)]
    + [(0x16FE4, 0x16FE4), (0x1CF00, 0x1CF2D), (0x1CF30, 0x1CF46), (0x1E000, 0x1E006), (0x1E008, 0x1E018)]
    + [(0x1E01B, 0x1E021), (0x1E023, 0x1E024), (0x1E026, 0x1E02A), (0x1E130, 0x1E136), (0x1E2AE, 0x1E2AE)]
    + [(0x1E2EC, 0x1E2EF), (0x1E944, 0x1E94A)]
)
HF_NONSPACING_MARK = frozenset([0x1734])  # Mc in Unicode 14, Mn in `tokenizers`' tables
HF_NOT_FORMAT = _expand([(0x0890, 0x0891), (0x08E2, 0x08E2), (0x110CD, 0x110CD), (0x13430, 0x13438)])
HF_NO_DECOMPOSITION = frozenset([0x11938])  # a decomposition newer than `tokenizers`' NFD tables
# Lowercase mappings of code points that Unicode 14 leaves unassigned (Rust's std has them).
HF_LOWERCASE = {
    0x1C89: 0x1C8A, 0xA7CB: 0x0264, 0xA7CC: 0xA7CD, 0xA7CE: 0xA7CF, 0xA7D2: 0xA7D3, 0xA7D4: 0xA7D5,
    0xA7DA: 0xA7DB, 0xA7DC: 0x019B,
    **{cp: cp + 0x20 for cp in range(0x10D50, 0x10D66)},
    **{cp: cp + 0x1B for cp in range(0x16EA0, 0x16EB9)},
}  # fmt: skip
HF_NOT_PUNCTUATION = _expand(
    [(0x061D, 0x061D), (0x09FD, 0x09FD), (0x0A76, 0x0A76), (0x0C77, 0x0C77), (0x0C84, 0x0C84), (0x1B7D, 0x1B7E)]
    + [(0x2E43, 0x2E4F), (0x2E52, 0x2E5D), (0x10EAD, 0x10EAD), (0x10F55, 0x10F59), (0x10F86, 0x10F89)]
    + [(0x1144B, 0x1144F), (0x1145A, 0x1145B), (0x1145D, 0x1145D), (0x11660, 0x1166C), (0x116B9, 0x116B9)]
    + [(0x1183B, 0x1183B), (0x11944, 0x11946), (0x119E2, 0x119E2), (0x11A3F, 0x11A46), (0x11A9A, 0x11A9C)]
    + [(0x11A9E, 0x11AA2), (0x11C41, 0x11C45), (0x11C70, 0x11C71), (0x11EF7, 0x11EF8), (0x11FFF, 0x11FFF)]
    + [(0x12FF1, 0x12FF2), (0x16E97, 0x16E9A), (0x16FE2, 0x16FE2), (0x1E95E, 0x1E95F)]
)
HF_PUNCTUATION = frozenset([0x166D, 0x111C9])

MAX_CODE_POINT = 0x10FFFF


def _category(cp):
    return unicodedata.category(chr(cp))


def is_cjk(cp):
    return any(first <= cp <= last for first, last in CJK_RANGES)


def character_class(cp):
    """What the BertPreTokenizer makes of a (normalized) code point: SPACE, PUNCTUATION or OTHER."""
    if cp in WHITE_SPACE:
        return SPACE
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or cp in HF_PUNCTUATION:
        return PUNCTUATION
    if _category(cp).startswith("P") and cp not in HF_NOT_PUNCTUATION:
        return PUNCTUATION
    return OTHER


def _is_nonspacing_mark(cp):
    return cp in HF_NONSPACING_MARK or (_category(cp) == "Mn" and cp not in HF_NOT_NONSPACING_MARK)


def _strip_accents(text):
    decomposed = []
    for char in text:
        cp = ord(char)
        decomposed.extend([char] if cp in HF_NO_DECOMPOSITION else unicodedata.normalize("NFD", char))
    return "".join(char for char in decomposed if not _is_nonspacing_mark(ord(char)))


def _lowercase(text):
    return "".join(chr(HF_LOWERCASE[ord(char)]) if ord(char) in HF_LOWERCASE else char.lower() for char in text)


def normalize_code_point(cp, lowercase, strip_accents):
    """The BertNormalizer's output for one code point (a str, possibly empty or several code points)."""
    if cp in (0, 0xFFFD) or 0xD800 <= cp <= 0xDFFF:
        return ""
    if cp in (0x09, 0x0A, 0x0D):
        return " "
    category = _category(cp)
    if category in ("Cc", "Co") or (category == "Cf" and cp not in HF_NOT_FORMAT):
        return ""
    if cp in WHITE_SPACE:
        return " "
    text = f" {chr(cp)} " if is_cjk(cp) else chr(cp)
    if strip_accents:
        text = _strip_accents(text)
    if lowercase:
        text = _lowercase(text)
    return text


@functools.lru_cache(maxsize=4)
def normalization_runs(lowercase, strip_accents):
    """Run-length table of the normalizer + pre-tokenizer over all code points.

    Returns (starts, slot_code_points, slot_classes): numpy int32 `(R,)`,
    `(R, K)`, `(R, K)`. The code points `starts[r] <= cp < starts[r + 1]`
    all normalize to the K slots of row r — a code point, `SAME` (cp itself)
    or `EMPTY` — whose pre-tokenizer classes are in `slot_classes[r]`.
    """
    # Every code point gets a key (its output template, its class); a run is a stretch of equal keys.
    # Only code points that can change are normalized one by one: unassigned (Cn) code points are
    # left as they are, private-use (Co) ones are dropped, CJK ones are spaced (decomposed below).
    templates = {(SAME,): 0, (): 1, (32, SAME, 32): 2}
    categories = [unicodedata.category(chr(cp)) for cp in range(MAX_CODE_POINT + 1)]
    keys = np.zeros(MAX_CODE_POINT + 2, np.int64)  # one past the end closes the last run
    classes = np.zeros(MAX_CODE_POINT + 2, np.int8)
    for first, last in CJK_RANGES:
        keys[first : last + 1] = 2
    changing = set(HF_LOWERCASE) | HF_NONSPACING_MARK | WHITE_SPACE | {0xFFFD}
    for cp, category in enumerate(categories):
        if category == "Cn":
            continue
        if category == "Co":
            keys[cp] = 1
            continue
        char = chr(cp)
        if category[0] == "P" or cp in HF_PUNCTUATION or cp in WHITE_SPACE or 33 <= cp <= 126:
            classes[cp] = character_class(cp)
        if (
            category[0] in "CZ"
            or (lowercase and char.lower() != char)
            or (strip_accents and (category in ("Mn", "Mc") or not unicodedata.is_normalized("NFD", char)))
        ):
            changing.add(cp)
    for cp in sorted(changing):
        text = normalize_code_point(cp, lowercase, strip_accents)
        slots = tuple(SAME if ord(char) == cp else ord(char) for char in text)
        keys[cp] = templates.setdefault(slots, len(templates))
    keys[-1] = -1
    run_key = keys * 4 + classes
    starts = np.flatnonzero(np.concatenate([[True], run_key[1:] != run_key[:-1]]))[:-1]
    width = max(len(slots) for slots in templates)
    by_id = [None] * len(templates)
    for slots, index in templates.items():
        by_id[index] = slots
    slot_code_points = np.full((len(starts), width), EMPTY, np.int32)
    slot_classes = np.full((len(starts), width), OTHER, np.int32)
    for row, start in enumerate(starts):
        for k, slot in enumerate(by_id[keys[start]]):
            slot_code_points[row, k] = slot
            slot_classes[row, k] = classes[start] if slot == SAME else character_class(slot)
    return starts.astype(np.int32), slot_code_points, slot_classes
