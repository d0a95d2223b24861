"""`BytePairTokenizer`: GPT-2's byte-level BPE in core TensorFlow ops, as a Keras layer.

    tokenizer = BytePairTokenizer.from_files("vocab.json", "merges.txt")
    ids = tokenizer(["Hello world!"])           # int32 (1, L), padded with <|endoftext|>
    tokenizer.detokenize(tokenizer.tokenize_ragged(["Hello world!"]))   # [b"Hello world!"]

The algorithm is GPT-2's (and Hugging Face `tokenizers`' ByteLevel BPE), step by step:

1. Invalid UTF-8 becomes U+FFFD (Python's "replace" policy, maximal subparts).
2. Special tokens that are in the vocabulary are matched whole (longest first)
   and cut the text into segments; a special token is one id, never split.
3. Each other segment (with a space in front when `add_prefix_space` and it
   does not start with one) is pre-tokenized into words by GPT-2's regex

       's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+

   RE2 (`tf.strings`) has no lookahead: the regex run is the same with
   `\\s+(?!\\S)|\\s+` replaced by `\\s+$|\\s` (a whitespace run at the end
   of the segment is one word; elsewhere each whitespace character is one), and
   the one-character words of a run are joined back as the lookahead would
   have matched them: when the next word starts with a space (the run's last
   space, which ` ?\\p{L}+` etc. took into it), they all form one word;
   otherwise all but the last do, and the last is a word of its own. The
   regex has no capture groups, so RE2 runs its fast DFA; a delimiter byte
   (\\xff, never in valid UTF-8) goes before every match and `tf.strings.split`
   cuts there. `\\s` is Unicode White_Space (RE2's is ASCII only), and the
   letter / number classes carry the Unicode 16 code points RE2's tables lack,
   so words split exactly as in `tokenizers` (Oniguruma).
4. Each word's UTF-8 bytes become the vocabulary ids of GPT-2's byte-to-unicode
   characters (bytes `!`…`~`, `¡`…`¬`, `®`…`ÿ` are themselves, the other 68
   bytes are U+0100…).
5. BPE: repeatedly take the word's adjacent pair of lowest merge rank and merge
   all its non-overlapping occurrences left to right, until no adjacent pair
   has a rank. This runs once per *distinct* word of the batch (`tf.unique`),
   vectorised over all of them in one `tf.while_loop`; a word leaves the loop
   as soon as it cannot merge any more.

`detokenize` maps ids back to their bytes, joins them, and replaces invalid
UTF-8 by U+FFFD, as Hugging Face's `decode` does. Every op is a core TensorFlow
op (`tf.strings`, `tf.lookup`, `tf.while_loop`; no tensorflow-text, no Python
functions), so a SavedModel holding the tokenizer runs in stock TensorFlow
Serving. It is not XLA compilable (`supports_jit = False`).

Padding. `tokenize` pads on the right with `padding_id` (by default the id of
"<|endoftext|>", as GPT-2 has no padding token). Because that id can also be
real content, `detokenize` drops padding only from the *right end* of *dense*
rows (what `tokenize` added), and nothing from ragged rows; pass
`strip_padding=False` to keep every id, or pass ragged ids / rows cut to their
lengths to be exact when a text itself ends with the padding token.
"""

import collections.abc
import json
import string
import types

import keras
import numpy as np
import tensorflow as tf

from kerasnets.tokenizers.text_to_ids import TextToIds

ENDOFTEXT = "<|endoftext|>"

# Unicode White_Space: Oniguruma's (and Python's `regex`) `\s`; RE2's `\s` is ASCII only.
_WHITESPACE = r"\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
# Letters and numbers new in Unicode 16, which `tokenizers` knows and TensorFlow's RE2 does not (yet).
_UNICODE_16_LETTERS = (
    r"\x{1C89}-\x{1C8A}\x{A7CB}-\x{A7CD}\x{A7DA}-\x{A7DC}\x{105C0}-\x{105F3}\x{10D4A}-\x{10D65}"
    r"\x{10D6F}-\x{10D85}\x{10EC2}-\x{10EC4}\x{11380}-\x{11389}\x{1138B}\x{1138E}\x{11390}-\x{113B5}"
    r"\x{113B7}\x{113D1}\x{113D3}\x{11BC0}-\x{11BE0}\x{13460}-\x{143FA}\x{16100}-\x{1611D}"
    r"\x{16D40}-\x{16D6C}\x{18CFF}\x{1E5D0}-\x{1E5ED}\x{1E5F0}\x{2EBF0}-\x{2EE5D}"
)
_UNICODE_16_NUMBERS = (
    r"\x{10D40}-\x{10D49}\x{116D0}-\x{116E3}\x{11BF0}-\x{11BF9}\x{16130}-\x{16139}"
    r"\x{16D70}-\x{16D79}\x{1CCF0}-\x{1CCF9}\x{1E5F1}-\x{1E5FA}"
)
_LETTERS = rf"[\p{{L}}{_UNICODE_16_LETTERS}]+"
_NUMBERS = rf"[\p{{N}}{_UNICODE_16_NUMBERS}]+"
_OTHERS = rf"[^{_WHITESPACE}\p{{L}}{_UNICODE_16_LETTERS}\p{{N}}{_UNICODE_16_NUMBERS}]+"
# GPT-2's regex with `\s+(?!\S)|\s+` replaced by `\s+$|\s`: the same words, except that a whitespace run
# before non-whitespace comes one character per word; `_join_whitespace` joins them back.
_PRETOKENIZE_PATTERN = (
    rf"'s|'t|'re|'ve|'m|'ll|'d| ?{_LETTERS}| ?{_NUMBERS}| ?{_OTHERS}|[{_WHITESPACE}]+$|[{_WHITESPACE}]"
)
_WHITESPACE_CHARACTERS = (
    "\t\n\x0b\f\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"
)
# \xff never occurs in valid UTF-8: a safe delimiter to insert before every match and split on.
_DELIMITER = b"\xff"
_SPECIAL_BYTE = b"\xfe"  # also never in valid UTF-8: a word that is a special token, inside the BPE step


def bytes_to_unicode():
    """GPT-2's reversible map {byte: character}: printable Latin-1 bytes are themselves, the rest U+0100…."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            mapping[byte] = chr(byte)
        else:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return mapping


_BYTE_OF_CHARACTER = {character: byte for byte, character in bytes_to_unicode().items()}


def _token_bytes(token):
    """The bytes a vocabulary token stands for (tokens outside the byte alphabet: their UTF-8)."""
    if token and all(character in _BYTE_OF_CHARACTER for character in token):
        return bytes(_BYTE_OF_CHARACTER[character] for character in token)
    return token.encode("utf-8")


def _regex_literal(text):
    """`text` as an RE2 pattern matching it literally."""
    return "".join("\\" + c if c in string.punctuation else c for c in text)


def _row_ids(row_splits):
    """The row of each value, from row splits, in O(values + rows).

    (TF's `RaggedTensor.value_rowids()` tiles rows × longest row: one long text would take gigabytes.)
    """
    row_splits = tf.cast(row_splits, tf.int64)
    starts = row_splits[:-1]
    # +1 at each row's start (several for empty rows; trailing empty rows land past the end).
    marks = tf.math.unsorted_segment_sum(tf.ones_like(starts), starts, row_splits[-1] + 1)
    return tf.cumsum(marks[:-1]) - 1


def _row_ids_from_lengths(lengths):
    lengths = tf.cast(lengths, tf.int64)
    return _row_ids(tf.concat([[0], tf.cumsum(lengths)], 0))


def _split_nonempty(strings, delimiter):
    """Strings (N,) split on `delimiter` → the non-empty pieces (flat) and the int64 index of each one's string."""
    pieces = tf.strings.split(strings, delimiter)
    flat = pieces.flat_values
    rows = pieces.value_rowids()  # cached from the split op: no tiling
    keep = tf.strings.length(flat) > 0
    return tf.boolean_mask(flat, keep), tf.boolean_mask(rows, keep)


def _as_text(token):
    return token.decode("utf-8") if isinstance(token, bytes) else str(token)


def _check_vocabulary(vocabulary, source="vocabulary", locate=None):
    """{token: id} with str tokens and distinct non-negative int ids, or a ValueError naming `source`."""
    locate = locate or (lambda token: "")
    if not isinstance(vocabulary, collections.abc.Mapping):
        raise ValueError(f"{source}: expected a JSON object {{token: id}}, got {type(vocabulary).__name__}.")
    if not vocabulary:
        raise ValueError(f"{source}: the vocabulary is empty.")
    clean, seen = {}, {}
    for token, token_id in vocabulary.items():
        token = _as_text(token)
        if isinstance(token_id, bool) or not isinstance(token_id, (int, np.integer)) or token_id < 0:
            raise ValueError(
                f"{source}{locate(token)}: the id of {token!r} must be a non-negative integer, got {token_id!r}."
            )
        token_id = int(token_id)
        if token_id in seen:
            raise ValueError(
                f"{source}{locate(token)}: tokens {seen[token_id]!r} and {token!r} share the id {token_id}."
            )
        if token_id >= 2**31 - 1:
            raise ValueError(f"{source}{locate(token)}: the id {token_id} of {token!r} does not fit in int32.")
        seen[token_id] = token
        clean[token] = token_id
    return clean


def _parse_merges(lines, vocabulary, source="merges"):
    """[(line number, text)] → [(left, right)] in rank order, or a ValueError naming `source` and the line."""
    pairs = []
    for number, line in lines:
        if isinstance(line, (tuple, list)):
            parts = [_as_text(part) for part in line]
        else:
            line = _as_text(line).rstrip("\r\n")
            if line.startswith("#version") or not line:
                continue
            parts = line.split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ValueError(f"{source}: line {number}: a merge is two tokens separated by one space, got {line!r}.")
        left, right = parts
        for token in (left, right, left + right):
            if token not in vocabulary:
                raise ValueError(
                    f"{source}: line {number}: the merge {left!r} {right!r} uses {token!r}, "
                    "which is not in the vocabulary."
                )
        pairs.append((left, right))
    return pairs


@keras.saving.register_keras_serializable(package="kerasnets")
class BytePairTokenizer(TextToIds, keras.layers.Layer):
    """GPT-2's byte-level BPE tokenizer (identical ids to Hugging Face's), in core TensorFlow ops.

    See the module docstring for the algorithm and the padding convention.

    Args:
        vocabulary: {token: id}, the `vocab.json` of GPT-2 / `tokenizers`
            (tokens written in GPT-2's byte-to-unicode characters).
        merges: The merges in rank order, as "left right" strings (the lines of
            `merges.txt`; a "#version" line is skipped) or (left, right) pairs.
        sequence_length: Default pad/truncate length of `tokenize` (None: the
            longest in the batch).
        special_tokens: Tokens matched whole in the text, like Hugging Face's
            added tokens; those not in the vocabulary are ignored.
        padding_id: The id `tokenize` pads with; None: the id of
            "<|endoftext|>" when in the vocabulary, else 0.
        add_prefix_space: Put a space in front of every text (segment between
            special tokens) that does not start with one, as GPT-2 does for a
            word in the middle of a sentence.

    Bytes whose character has no id are skipped (BPE without an unknown
    token, as `tokenizers`); a byte-level vocabulary has all 256.
    `token_to_id` / `id_to_token` give None for unknown tokens / ids, as
    Hugging Face does.

    Example:

        tokenizer = BytePairTokenizer.from_files("vocab.json", "merges.txt", sequence_length=128)
        inputs = keras.Input((), dtype="string")
        model = keras.Model(inputs, tokenizer(inputs))   # saves as .keras; runs in TF Serving
    """

    def __init__(
        self,
        vocabulary,
        merges,
        sequence_length=None,
        special_tokens=(ENDOFTEXT,),
        padding_id=None,
        add_prefix_space=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        self.built = True  # no weights: lookup tables only
        # Read-only containers: Keras and TensorFlow leave them untracked (no wrapping of 50k entries).
        self.vocabulary = types.MappingProxyType(_check_vocabulary(vocabulary))
        self.merges = tuple(" ".join(pair) for pair in _parse_merges(enumerate(merges, 1), self.vocabulary))
        self.sequence_length = None if sequence_length is None else int(sequence_length)
        self.special_tokens = tuple(_as_text(t) for t in special_tokens)
        if padding_id is None:
            padding_id = self.vocabulary.get(ENDOFTEXT, 0)
        self.padding_id = int(padding_id)
        self.add_prefix_space = bool(add_prefix_space)
        self._tokens_by_id = types.MappingProxyType({token_id: token for token, token_id in self.vocabulary.items()})
        self._build_tables()

    @classmethod
    def from_files(cls, vocabulary_file, merges_file, **kwargs):
        """Read Hugging Face's `vocab.json` and `merges.txt` (GPT-2's files); kwargs go to the constructor.

        Malformed JSON, a vocabulary that is not {token: id}, a merges line that
        is not two tokens, or a merge whose tokens or result are not in the
        vocabulary raise one ValueError naming the file and line.
        """
        vocabulary_file, merges_file = str(vocabulary_file), str(merges_file)
        with open(vocabulary_file, encoding="utf-8") as file:
            text = file.read()
        try:
            vocabulary = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{vocabulary_file}: line {error.lineno}: not valid JSON ({error.msg}).") from None

        def locate(token):
            for quoted in (json.dumps(token, ensure_ascii=False), json.dumps(token)):
                position = text.find(quoted + ":")
                if position < 0:
                    position = text.find(quoted)
                if position >= 0:
                    return f": line {text.count(chr(10), 0, position) + 1}"
            return ""

        vocabulary = _check_vocabulary(vocabulary, vocabulary_file, locate)
        with open(merges_file, encoding="utf-8") as file:
            lines = list(enumerate(file, 1))
        merges = [" ".join(pair) for pair in _parse_merges(lines, vocabulary, merges_file)]
        return cls(vocabulary, merges, **kwargs)

    # -- tables ---------------------------------------------------------------
    def _build_tables(self):
        vocabulary = self.vocabulary
        self._id_space = max(vocabulary.values()) + 1  # pair key = left * id_space + right
        byte_ids = np.full(256, -1, np.int32)
        for byte, character in bytes_to_unicode().items():
            byte_ids[byte] = vocabulary.get(character, -1)
        self._byte_ids = tf.constant(byte_ids)
        self._all_bytes_known = bool((byte_ids >= 0).all())
        # Merge (left, right) → rank * id_space + merged id; a repeated merge keeps its last rank (as HF's dict).
        merge_values = {}
        for rank, merge in enumerate(self.merges):
            left, right = merge.split(" ")
            key = vocabulary[left] * self._id_space + vocabulary[right]
            merge_values[key] = rank * self._id_space + vocabulary[left + right]
        self._no_rank = len(self.merges) + 1
        if merge_values:
            self._merge_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(list(merge_values.keys()), tf.int64), tf.constant(list(merge_values.values()), tf.int64)
                ),
                default_value=-1,
            )
        else:
            self._merge_table = None
        ids = sorted(self._tokens_by_id)
        self._bytes_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(ids, tf.int64),
                tf.constant([self._id_bytes(self._tokens_by_id[i]) for i in ids], tf.string),
            ),
            default_value="",
        )
        self._whitespace_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(_WHITESPACE_CHARACTERS)), tf.ones([len(_WHITESPACE_CHARACTERS)], tf.bool)
            ),
            default_value=False,
        )
        specials = sorted({t for t in self.special_tokens if t in vocabulary}, key=lambda t: (-len(t), t))
        self._active_special_tokens = specials
        if specials:
            self._special_pattern = "|".join(_regex_literal(t) for t in specials)
            self._special_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(specials), tf.constant([vocabulary[t] for t in specials], tf.int64)
                ),
                default_value=-1,
            )
        else:
            self._special_pattern = None
            self._special_table = None

    def _id_bytes(self, token):
        return token.encode("utf-8") if token in self.special_tokens else _token_bytes(token)

    # -- vocabulary -------------------------------------------------------------
    def vocabulary_size(self):
        """One more than the largest id (the model's `vocabulary_size`)."""
        return self._id_space

    def get_vocabulary(self):
        """All tokens in id order."""
        return [self._tokens_by_id[i] for i in sorted(self._tokens_by_id)]

    def token_to_id(self, token):
        """The id of one vocabulary token, None when unknown (as Hugging Face)."""
        return self.vocabulary.get(_as_text(token))

    def id_to_token(self, token_id):
        """The token of one id, None when no token has it (as Hugging Face)."""
        return self._tokens_by_id.get(int(token_id))

    @property
    def special_token_ids(self):
        """{special token: id} for the special tokens in the vocabulary."""
        return {token: self.vocabulary[token] for token in self.special_tokens if token in self.vocabulary}

    # -- tokenize -----------------------------------------------------------------
    def _pretokenize(self, texts):
        """Texts (N,) → GPT-2's words (see step 3): flat strings and the int64 text index of each."""
        marked = tf.strings.regex_replace(texts, _PRETOKENIZE_PATTERN, _DELIMITER + rb"\0")
        words, rows = _split_nonempty(marked, _DELIMITER)
        return self._join_whitespace(words, rows)

    def _join_whitespace(self, words, rows):
        """Join the one-character whitespace words of a run as `\\s+(?!\\S)` would have matched them.

        In a run of m such words (only made before non-whitespace), the first
        m-1 are GPT-2's word; the m-th joins them too when the next word starts
        with the run's last space (` ?\\p{L}+` took it), and stays alone otherwise.
        """
        single = self._whitespace_table.lookup(words)
        same_row_as_next = tf.equal(rows[:-1], rows[1:])
        single_before = tf.logical_and(single[:-1], same_row_as_next)  # word i and i+1 both in a row, i single
        next_single = tf.concat([tf.logical_and(single[1:], same_row_as_next), [False]], 0)
        next_starts_with_space = tf.concat([tf.equal(tf.strings.substr(words[1:], 0, 1), " "), [False]], 0)
        has_next = tf.concat([same_row_as_next, [False]], 0)
        last_of_run = tf.logical_and(single, tf.logical_not(next_single))
        alone = tf.logical_and(last_of_run, tf.logical_and(has_next, tf.logical_not(next_starts_with_space)))
        joins_previous = tf.logical_and(
            tf.logical_and(single, tf.concat([[False], single_before], 0)), tf.logical_not(alone)
        )

        def join():
            starts = tf.logical_not(joins_previous)
            groups = tf.cumsum(tf.cast(starts, tf.int64)) - 1
            joined = tf.strings.unsorted_segment_join(words, groups, tf.reduce_sum(tf.cast(starts, tf.int64)))
            return joined, tf.boolean_mask(rows, starts)

        return tf.cond(tf.reduce_any(joins_previous), join, lambda: (words, rows))

    def _word_symbols(self, words):
        """Words (U,) → their bytes' ids (flat int32) and int32 lengths; a special token is its one id."""
        if self._special_table is not None:
            special_ids = tf.cast(self._special_table.lookup(words), tf.int32)
            # \xfe never occurs in valid UTF-8: it stands for the special token, one symbol.
            words = tf.where(special_ids >= 0, _SPECIAL_BYTE, words)
        lengths = tf.strings.length(words)
        all_bytes = tf.cast(tf.io.decode_raw(tf.strings.reduce_join(words), tf.uint8), tf.int32)
        symbols = tf.gather(self._byte_ids, all_bytes)
        rows = None
        if self._special_table is not None:
            rows = _row_ids_from_lengths(lengths)
            symbols = tf.where(tf.equal(all_bytes, ord(_SPECIAL_BYTE)), tf.gather(special_ids, rows), symbols)
        if not self._all_bytes_known:  # a byte without a token is skipped, as BPE without unk_token does
            rows = _row_ids_from_lengths(lengths) if rows is None else rows
            known = symbols >= 0
            symbols = tf.boolean_mask(symbols, known)
            lengths = tf.math.unsorted_segment_sum(tf.cast(known, tf.int32), rows, tf.size(lengths))
        return symbols, lengths

    def _merge_words(self, words):
        """Distinct words (U,) → int32 RaggedTensor (U, None) of their BPE ids (step 5)."""
        symbols, lengths = self._word_symbols(words)
        if self._merge_table is None:
            return tf.RaggedTensor.from_row_lengths(symbols, tf.cast(lengths, tf.int64))
        id_space = tf.constant(self._id_space, tf.int64)
        no_rank = tf.constant(self._no_rank, tf.int64)
        word_count = tf.size(lengths)

        def merge_step(step, symbols, rows, lengths, word_index, done_symbols, done_lengths, done_index):
            # symbols: the active words' ids, flat; rows: the active word of each symbol.
            active = tf.size(lengths)
            left, right = symbols[:-1], symbols[1:]
            pair_rows = rows[:-1]
            same_word = tf.equal(pair_rows, rows[1:])
            keys = tf.cast(left, tf.int64) * id_space + tf.cast(right, tf.int64)
            values = self._merge_table.lookup(keys)
            mergeable = tf.logical_and(same_word, values >= 0)
            ranks = tf.where(mergeable, values // id_space, no_rank)
            best = tf.math.unsorted_segment_min(ranks, pair_rows, active)  # > no_rank for one-symbol words
            finished = best >= no_rank
            # The occurrences of each word's best pair; in a run of overlapping ones (pair "a a" in
            # "a a a") every other one, from the run's start: left-to-right non-overlapping.
            hits = tf.logical_and(mergeable, tf.equal(ranks, tf.gather(best, pair_rows)))
            follows_hit = tf.concat([[False], tf.logical_and(hits[:-1], tf.equal(pair_rows[:-1], pair_rows[1:]))], 0)
            run_starts = tf.logical_and(hits, tf.logical_not(follows_hit))
            positions = tf.range(tf.size(hits))
            run_ids = tf.cumsum(tf.cast(run_starts, tf.int32))
            run_count = tf.reduce_max(tf.concat([run_ids, [0]], 0)) + 1
            start_of_run = tf.gather(tf.math.unsorted_segment_min(positions, run_ids, run_count), run_ids)
            merge_here = tf.logical_and(hits, tf.equal((positions - start_of_run) % 2, 0))
            merged_ids = tf.cast(values % id_space, tf.int32)
            new_symbols = tf.where(tf.concat([merge_here, [False]], 0), tf.concat([merged_ids, [0]], 0), symbols)
            removed = tf.concat([[False], merge_here], 0)  # the right half of a merged pair
            new_lengths = lengths - tf.math.unsorted_segment_sum(tf.cast(merge_here, tf.int32), pair_rows, active)
            # Words that cannot merge any more leave; the rest go round again, renumbered.
            finished_symbols = tf.gather(finished, rows)
            done_symbols = done_symbols.write(step, tf.boolean_mask(symbols, finished_symbols))
            done_lengths = done_lengths.write(step, tf.boolean_mask(lengths, finished))
            done_index = done_index.write(step, tf.boolean_mask(word_index, finished))
            still = tf.logical_not(finished)
            kept = tf.logical_and(tf.logical_not(removed), tf.logical_not(finished_symbols))
            renumbered = tf.cumsum(tf.cast(still, tf.int32), exclusive=True)
            return (
                step + 1,
                tf.boolean_mask(new_symbols, kept),
                tf.gather(renumbered, tf.boolean_mask(rows, kept)),
                tf.boolean_mask(new_lengths, still),
                tf.boolean_mask(word_index, still),
                done_symbols,
                done_lengths,
                done_index,
            )

        def new_array():  # entry 0 is empty: concat() of a never-written array fails in eager mode
            array = tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None])
            return array.write(0, tf.zeros([0], tf.int32))

        rows = tf.cast(_row_ids_from_lengths(lengths), tf.int32)
        done = (new_array(), new_array(), new_array())
        loop_vars = (tf.constant(1), symbols, rows, lengths, tf.range(word_count), *done)
        vector = tf.TensorShape([None])
        _, _, _, _, _, done_symbols, done_lengths, done_index = tf.while_loop(
            lambda step, symbols, rows, lengths, *_: tf.size(lengths) > 0,
            merge_step,
            loop_vars,
            shape_invariants=(tf.TensorShape([]), vector, vector, vector, vector, *[tf.TensorShape(None)] * 3),
        )
        merged = tf.RaggedTensor.from_row_lengths(done_symbols.concat(), tf.cast(done_lengths.concat(), tf.int64))
        # Words finished in loop order; put them back in `words` order.
        return tf.gather(merged, tf.math.invert_permutation(done_index.concat()))

    def _tokenize_batch(self, strings):
        # Flat tensors with int64 row indices throughout: TF's RaggedTensor.value_rowids() (used by
        # ragged boolean_mask, concat and reduce ops) allocates rows × longest row, which one long
        # text would blow up.
        strings = tf.strings.unicode_transcode(strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        batch_size = tf.size(strings, out_type=tf.int64)
        if self._special_pattern is None:
            segments, segment_rows = strings, tf.range(batch_size)
        else:
            marked = tf.strings.regex_replace(strings, self._special_pattern, _DELIMITER + rb"\0" + _DELIMITER)
            segments, segment_rows = _split_nonempty(marked, _DELIMITER)
            is_special = self._special_table.lookup(segments) >= 0
        texts = segments
        if self.add_prefix_space:
            needs_space = tf.logical_and(
                tf.strings.length(texts) > 0, tf.not_equal(tf.strings.substr(texts, 0, 1), " ")
            )
            texts = tf.where(needs_space, tf.strings.join([" ", texts]), texts)
        if self._special_pattern is not None:
            texts = tf.where(is_special, "a", texts)  # one word, which becomes the special token again below
        words, word_segments = self._pretokenize(texts)
        if self._special_pattern is not None:
            special_texts = tf.where(is_special, segments, "")  # gather no long texts per word
            words = tf.where(tf.gather(is_special, word_segments), tf.gather(special_texts, word_segments), words)
        distinct, word_to_distinct = tf.unique(words, out_idx=tf.int32)
        word_ids = tf.gather(self._merge_words(distinct), word_to_distinct)  # ragged (words, None)
        word_rows = tf.gather(segment_rows, word_segments)
        row_lengths = tf.math.unsorted_segment_sum(word_ids.row_lengths(), word_rows, batch_size)
        return tf.RaggedTensor.from_row_lengths(word_ids.flat_values, row_lengths)

    def tokenize_ragged(self, strings):
        """Strings `(B,)` (or `(B, 1)`, or a scalar) → int32 RaggedTensor `(B, None)` (a 1-D tensor for a scalar)."""
        strings = tf.convert_to_tensor(strings, tf.string)
        if strings.shape.rank is not None and strings.shape.rank >= 2 and strings.shape[-1] == 1:
            strings = tf.squeeze(strings, -1)
        if strings.shape.rank == 0:
            return self._tokenize_batch(strings[tf.newaxis])[0]
        return self._tokenize_batch(strings)

    def tokenize(self, strings, sequence_length=None):
        """Strings → int32 ids, right-padded with `padding_id` and truncated.

        Args:
            strings: A string, a list of strings or a string tensor `(B,)`.
            sequence_length: Pad / truncate to this length; None: the layer's
                `sequence_length`, or the longest in the batch when that is None.

        Returns:
            int32 `(B, L)` (or `(L,)` for a scalar string).
        """
        sequence_length = self.sequence_length if sequence_length is None else sequence_length
        ids = self.tokenize_ragged(strings)
        if isinstance(ids, tf.RaggedTensor):
            shape = None if sequence_length is None else [None, sequence_length]
            return ids.to_tensor(default_value=self.padding_id, shape=shape)
        if sequence_length is not None:  # a single string
            ids = ids[:sequence_length]
            ids = tf.pad(ids, [[0, sequence_length - tf.shape(ids)[0]]], constant_values=self.padding_id)
            ids = tf.ensure_shape(ids, [sequence_length])
        return ids

    def detokenize(self, ids, strip_padding=True):
        """int ids `(B, L)` (dense or ragged) or `(L,)` → strings.

        Each id gives its bytes (ids with no token give nothing); the bytes of
        a row are joined and invalid UTF-8 becomes U+FFFD, as Hugging Face's
        `decode`. With `strip_padding`, the `padding_id`s at the right end of
        each *dense* row are dropped (the padding `tokenize` adds); ragged rows
        are taken whole.
        """
        if isinstance(ids, tf.RaggedTensor):
            if ids.ragged_rank != 1:
                raise ValueError(f"detokenize() takes ids of shape (B, None); got a ragged tensor of rank {ids.shape.rank}.")
            flat = tf.cast(ids.values, tf.int64)
            rows = _row_ids(ids.row_splits)
            batch_size = ids.nrows(out_type=tf.int64)
        else:
            ids = tf.cast(tf.convert_to_tensor(ids), tf.int64)
            if ids.shape.rank == 1:
                return self.detokenize(ids[tf.newaxis], strip_padding=strip_padding)[0]
            shape = tf.shape(ids, out_type=tf.int64)
            batch_size = shape[0]
            positions = tf.range(1, shape[1] + 1)
            if strip_padding:  # keep up to the last id that is not padding
                content = tf.not_equal(ids, self.padding_id)
                lengths = tf.reduce_max(tf.where(content, positions, tf.zeros_like(positions)), axis=1)
            else:
                lengths = tf.fill([batch_size], shape[1])
            kept = positions[tf.newaxis, :] <= lengths[:, tf.newaxis]
            flat = tf.boolean_mask(ids, kept)
            rows = tf.boolean_mask(tf.broadcast_to(tf.range(batch_size)[:, tf.newaxis], shape), kept)
        text = tf.strings.unsorted_segment_join(self._bytes_table.lookup(flat), rows, batch_size)
        return tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)

    # -- config ---------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": dict(self.vocabulary),
                "merges": list(self.merges),
                "sequence_length": self.sequence_length,
                "special_tokens": list(self.special_tokens),
                "padding_id": self.padding_id,
                "add_prefix_space": self.add_prefix_space,
            }
        )
        return config
