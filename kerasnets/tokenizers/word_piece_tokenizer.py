"""`WordPieceTokenizer`: BERT's tokenizer, identical to Hugging Face `BertTokenizerFast`, in core TF ops.

Text → ids in four steps, each one gather / lookup away from a TensorFlow op,
so the layer runs inside a Keras model with a string input, in `tf.data` and
in a SavedModel that a stock TensorFlow Serving binary serves (no
tensorflow-text, no Python):

1. Special tokens written in the text (`[SEP]`, `[MASK]`, …, matched
   case-sensitively before anything else, as Hugging Face's added tokens)
   stand for their ids.
2. BertNormalizer, per code point (`tf.strings.unicode_decode`, then a run
   table from `bert_text_tables` looked up with `tf.searchsorted`): drop
   control / format / private-use characters, whitespace → " ", " c "
   around CJK ideographs, strip accents (NFD without Mn), lowercase.
3. BertPreTokenizer: split at spaces; every punctuation mark is a word.
4. WordPiece, for the batch's unique words at once (`tf.unique`): greedy
   longest match first,

       pieces(w) = [w[0:e1], "##" + w[e1:e2], …]   each e_k the largest end in the vocabulary,

   a word with no full segmentation, or longer than
   `max_input_chars_per_word` characters, is one `[UNK]`. A `tf.while_loop`
   takes one piece of every unfinished word per step, trying all candidate
   lengths up to the longest vocabulary token in one hash-table lookup.

Ids are the line numbers of BERT's `vocab.txt` (`vocabulary` in id order).

    tokenizer = WordPieceTokenizer.from_vocabulary_file("vocab.txt", sequence_length=128)
    tokenizer.tokenize_ragged(["Héllo, world!"])   # [[7592, 1010, 2088, 999]] with bert-base-uncased
    tokenizer(["Héllo, world!"])                   # int32 (1, 128), padded with the [PAD] id
    tokenizer.detokenize(ids)                      # [b"hello, world!"] (as HF decode, skip_special_tokens)
"""

import os

import keras
import numpy as np
import tensorflow as tf

from kerasnets.tokenizers import bert_text_tables
from kerasnets.tokenizers.text_to_ids import TextToIds

# Hugging Face's WordPiece decoder cleanup, applied per token in this order (literal replacements).
_DECODE_CLEANUP = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" do not", " don't"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)
# Special tokens found in the text become these private-use code points after normalization
# (which drops every private-use character of the input, so they cannot clash).
_SPECIAL_MARK_BASE = 0xF0000


def _as_text(token):
    return token.decode("utf-8") if isinstance(token, bytes) else str(token)


def _regex_literal(text):
    """`text` as an RE2 pattern that matches it literally."""
    return "".join("\\" + char if char in "\\.^$|?*+()[]{}" else char for char in text)


@keras.saving.register_keras_serializable(package="kerasnets")
class WordPieceTokenizer(TextToIds, keras.layers.Layer):
    """BERT's WordPiece tokenizer (`BertTokenizerFast`), as a Keras layer of core TF ops.

    Args:
        vocabulary: The tokens of `vocab.txt` in id order (id = line number).
        lowercase: Lowercase the text (`do_lower_case`).
        strip_accents: Strip accents; None: as `lowercase` (Hugging Face's rule).
        sequence_length: Default length of `tokenize` (None: the longest in the batch).
        unknown_token, padding_token, cls_token, sep_token, mask_token: The
            special tokens; each must be in `vocabulary`.
        max_input_chars_per_word: Longer words become one unknown token.
        suffix_indicator: Prefix of word-continuing pieces.
    """

    def __init__(
        self,
        vocabulary,
        lowercase=True,
        strip_accents=None,
        sequence_length=None,
        unknown_token="[UNK]",
        padding_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        max_input_chars_per_word=100,
        suffix_indicator="##",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        self.built = True  # no weights
        self.vocabulary = [_as_text(token) for token in vocabulary]
        self.lowercase = bool(lowercase)
        self.strip_accents = None if strip_accents is None else bool(strip_accents)
        self.sequence_length = None if sequence_length is None else int(sequence_length)
        self.unknown_token = _as_text(unknown_token)
        self.padding_token = _as_text(padding_token)
        self.cls_token = _as_text(cls_token)
        self.sep_token = _as_text(sep_token)
        self.mask_token = _as_text(mask_token)
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.suffix_indicator = _as_text(suffix_indicator)

        self._ids = {}
        for index, token in enumerate(self.vocabulary):
            if token in self._ids:
                raise ValueError(f"Vocabulary token {token!r} (id {index}) repeats id {self._ids[token]}.")
            self._ids[token] = index
        specials = [self.unknown_token, self.padding_token, self.cls_token, self.sep_token, self.mask_token]
        missing = [token for token in specials if token not in self._ids]
        if missing:
            raise ValueError(f"The vocabulary lacks the special token(s) {missing}.")
        self._special_tokens = list(dict.fromkeys(specials))
        self.unknown_id = self._ids[self.unknown_token]
        self.padding_id = self._ids[self.padding_token]
        self.cls_id = self._ids[self.cls_token]
        self.sep_id = self._ids[self.sep_token]
        self.mask_id = self._ids[self.mask_token]
        self._build_tables()

    # -- construction -----------------------------------------------------------
    @classmethod
    def from_vocabulary_file(cls, path, **kwargs):
        """A tokenizer from a Hugging Face `vocab.txt` (one token per line, id = line number - 1).

        Raises one ValueError naming the file and line for an empty file, a
        repeated token or a missing special token.
        """
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: not UTF-8 text ({error}).") from None
        tokens = text.split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()  # the final newline
        tokens = [token.rstrip("\r") for token in tokens]
        if not tokens:
            raise ValueError(f"{path}: the vocabulary file is empty.")
        first_line = {}
        for line, token in enumerate(tokens, start=1):
            if token in first_line:
                raise ValueError(f"{path}, line {line}: token {token!r} repeats line {first_line[token]}.")
            first_line[token] = line
        defaults = dict(unknown_token="[UNK]", padding_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]")
        defaults["mask_token"] = "[MASK]"
        for argument, default in defaults.items():
            token = _as_text(kwargs.get(argument, default))
            if token not in first_line:
                raise ValueError(f"{path}: none of its {len(tokens)} lines holds the {argument} {token!r}.")
        return cls(tokens, **kwargs)

    def _build_tables(self):
        strip = self.lowercase if self.strip_accents is None else self.strip_accents
        starts, slot_code_points, slot_classes = bert_text_tables.normalization_runs(self.lowercase, strip)
        self._run_starts = tf.constant(starts)
        self._run_slots = tf.constant(slot_code_points)
        self._run_classes = tf.constant(slot_classes)
        keys = list(self.vocabulary)
        values = list(range(len(keys)))
        # A special token written in the text becomes a one-character word: its mark.
        for index, token in enumerate(self._special_tokens):
            keys.append(chr(_SPECIAL_MARK_BASE + index))
            values.append(self._ids[token])
        self._special_code_points = [[ord(char) for char in token] for token in self._special_tokens]
        self._token_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys), tf.constant(values, tf.int64), key_dtype=tf.string, value_dtype=tf.int64
            ),
            default_value=-1,
        )
        self._vocabulary_tensor = tf.constant(self.vocabulary + [""])  # the last one: any unknown id
        special = np.zeros(len(self.vocabulary) + 1, bool)
        special[[self._ids[token] for token in self._special_tokens]] = True
        special[-1] = True
        self._skipped_when_decoding = tf.constant(special)
        self._longest_token = max(len(token) for token in self.vocabulary)

    # -- vocabulary ---------------------------------------------------------------
    def vocabulary_size(self):
        return len(self.vocabulary)

    def get_vocabulary(self):
        return list(self.vocabulary)

    def token_to_id(self, token):
        """The id of a token; the unknown token's id when it is not in the vocabulary."""
        return self._ids.get(_as_text(token), self.unknown_id)

    def id_to_token(self, token_id):
        token_id = int(token_id)
        if not 0 <= token_id < len(self.vocabulary):
            raise ValueError(f"id {token_id} is outside the vocabulary (0 … {len(self.vocabulary) - 1}).")
        return self.vocabulary[token_id]

    @property
    def special_token_ids(self):
        """{special token: id} of the unknown, padding, [CLS], [SEP] and [MASK] tokens."""
        return {token: self._ids[token] for token in self._special_tokens}

    # -- text → words ----------------------------------------------------------------
    def _slots(self, strings):
        """Strings `(B,)` → per input code point: its K output code points (EMPTY: none) and their
        pre-tokenizer classes `(N, K)`, the input code points and their row ids `(N,)`, B."""
        code_points = tf.strings.unicode_decode(strings, "UTF-8", errors="replace", replacement_char=0xFFFD)
        flat = code_points.flat_values
        run = tf.searchsorted(self._run_starts, flat, side="right", out_type=tf.int32) - 1
        slots = tf.gather(self._run_slots, run)
        slots = tf.where(tf.equal(slots, bert_text_tables.SAME), flat[:, tf.newaxis], slots)
        return slots, tf.gather(self._run_classes, run), flat, code_points.value_rowids(), code_points.nrows()

    @staticmethod
    def _flatten_slots(slots, rows, *others):
        """Drop the EMPTY slots: the output code points (and `others`, row ids) flat, in order."""
        keep = slots >= 0
        rows = tf.tile(rows[:, tf.newaxis], [1, tf.shape(slots)[1]])
        return [tf.boolean_mask(values, keep) for values in (slots, rows, *others)]

    def _code_points(self, strings):
        """Strings `(B,)` → normalized code points, their pre-tokenizer classes, their row ids (all flat), B."""
        slots, classes, flat, rows, batch = self._slots(strings)
        slots, classes = self._mark_special_tokens(flat, rows, slots, classes)
        code_points, rows, classes = self._flatten_slots(slots, rows, classes)
        return code_points, classes, rows, batch

    def _mark_special_tokens(self, flat, rows, slots, classes):
        """Where a special token is written in the text, its first character becomes its mark
        (a punctuation-like word of its own) and the others vanish."""
        size = tf.size(flat, tf.int64)
        first_chars = tf.constant(sorted({token[0] for token in self._special_code_points}), tf.int32)
        candidates = tf.where(tf.reduce_any(tf.equal(flat[:, tf.newaxis], first_chars), axis=1))[:, 0]
        longest = max(len(token) for token in self._special_code_points)
        offsets = candidates[:, tf.newaxis] + tf.range(longest, dtype=tf.int64)
        inside = offsets < size
        offsets = tf.minimum(offsets, size - 1)
        window = tf.where(inside, tf.gather(flat, offsets), -1)
        same_row = tf.equal(tf.gather(rows, offsets), tf.gather(rows, candidates)[:, tf.newaxis])
        window = tf.where(same_row, window, -1)
        width = tf.shape(slots)[1]
        starts, marks, covered = [], [], []
        for index, token in enumerate(self._special_code_points):
            match = tf.reduce_all(tf.equal(window[:, : len(token)], tf.constant(token, tf.int32)), axis=1)
            found = tf.boolean_mask(candidates, match)
            starts.append(found)
            marks.append(tf.fill(tf.shape(found), _SPECIAL_MARK_BASE + index))
            covered.append(tf.reshape(found[:, tf.newaxis] + tf.range(len(token), dtype=tf.int64), [-1]))
        starts, marks, covered = tf.concat(starts, 0), tf.concat(marks, 0), tf.concat(covered, 0)

        def mark(slots, classes):
            hidden = tf.fill([tf.size(covered), width], bert_text_tables.EMPTY)
            slots = tf.tensor_scatter_nd_update(slots, covered[:, tf.newaxis], hidden)
            mark_rows = tf.concat([marks[:, tf.newaxis], tf.fill([tf.size(starts), width - 1], -1)], 1)
            slots = tf.tensor_scatter_nd_update(slots, starts[:, tf.newaxis], mark_rows)
            punctuation = tf.fill([tf.size(starts), width], bert_text_tables.PUNCTUATION)
            return slots, tf.tensor_scatter_nd_update(classes, starts[:, tf.newaxis], punctuation)

        # Scattering copies the (N, K) tables: only when the batch has a special token in it.
        return tf.cond(tf.size(starts) > 0, lambda: mark(slots, classes), lambda: (slots, classes))

    def _words(self, strings):
        """Strings `(B,)` → (unique words `(U,)`, word → unique index `(W,)`, words per string `(B,)`)."""
        code_points, classes, rows, batch = self._code_points(strings)
        is_space = tf.equal(classes, bert_text_tables.SPACE)
        is_punctuation = tf.equal(classes, bert_text_tables.PUNCTUATION)
        previous_class = tf.concat([[bert_text_tables.SPACE], classes[:-1]], 0)
        new_row = tf.not_equal(rows, tf.concat([[-1], rows[:-1]], 0))
        starts_word = tf.logical_and(
            tf.logical_not(is_space),
            new_row | is_punctuation | tf.not_equal(previous_class, bert_text_tables.OTHER),
        )
        in_word = tf.logical_not(is_space)
        word_ids = tf.cumsum(tf.cast(starts_word, tf.int64)) - 1
        words = tf.RaggedTensor.from_value_rowids(
            tf.boolean_mask(code_points, in_word),
            tf.boolean_mask(word_ids, in_word),
            nrows=tf.reduce_sum(tf.cast(starts_word, tf.int64)),
        )
        words = tf.strings.unicode_encode(words, "UTF-8")
        words_per_string = tf.math.bincount(
            tf.cast(tf.boolean_mask(rows, starts_word), tf.int32), minlength=tf.cast(batch, tf.int32), dtype=tf.int64
        )
        unique_words, word_index = tf.unique(words, out_idx=tf.int64)
        return unique_words, word_index, words_per_string

    def split(self, strings):
        """Strings `(B,)` → RaggedTensor of the pre-tokenized words (normalized), `(B, None)`."""
        strings = tf.convert_to_tensor(strings, tf.string)
        unique_words, word_index, words_per_string = self._words(tf.reshape(strings, [-1]))
        return tf.RaggedTensor.from_row_lengths(tf.gather(unique_words, word_index), words_per_string)

    def normalize(self, strings):
        """Strings `(B,)` → the BertNormalizer's output (special tokens in the text untouched)."""
        strings = tf.reshape(tf.convert_to_tensor(strings, tf.string), [-1])
        slots, _, _, rows, batch = self._slots(strings)
        code_points, rows = self._flatten_slots(slots, rows)
        normalized = tf.RaggedTensor.from_value_rowids(code_points, rows, nrows=batch)
        return tf.strings.unicode_encode(normalized, "UTF-8")

    # -- words → pieces ------------------------------------------------------------------
    def _word_pieces(self, words):
        """Unique words `(U,)` → int32 RaggedTensor of their WordPiece ids `(U, None)`."""
        lengths = tf.strings.length(words, unit="UTF8_CHAR")
        count = tf.size(words)
        too_long = lengths > self.max_input_chars_per_word
        suffix = tf.constant(self.suffix_indicator)

        def step(starts, unfinished, failed, piece_words, piece_ids):
            active = tf.where(unfinished)[:, 0]
            active_words = tf.gather(words, active)
            start = tf.gather(starts, active)
            left = tf.gather(lengths, active) - start
            tries = tf.minimum(left, self._longest_token)  # candidate lengths tries … 1, longest first
            candidate_lengths = tf.ragged.range(tries, 0, -1)
            owner = candidate_lengths.value_rowids()
            candidate_lengths = candidate_lengths.flat_values
            candidate_starts = tf.gather(start, owner)
            candidates = tf.strings.substr(
                tf.gather(active_words, owner), candidate_starts, candidate_lengths, unit="UTF8_CHAR"
            )
            candidates = tf.where(candidate_starts > 0, tf.strings.join([suffix, candidates]), candidates)
            ids = self._token_table.lookup(candidates)
            found = ids >= 0
            segments = tf.cast(owner, tf.int32)
            segment_count = tf.size(active, tf.int32)
            best = tf.math.unsorted_segment_max(tf.where(found, candidate_lengths, 0), segments, segment_count)
            chosen = found & tf.equal(candidate_lengths, tf.gather(best, owner))
            best_id = tf.math.unsorted_segment_max(tf.where(chosen, ids, -1), segments, segment_count)
            matched = best > 0
            indices = active[:, tf.newaxis]
            failed = tf.tensor_scatter_nd_update(failed, indices, tf.logical_not(matched))
            starts = tf.tensor_scatter_nd_add(starts, indices, best)
            unfinished = tf.logical_and(starts < lengths, tf.logical_not(failed))
            piece_words = piece_words.write(piece_words.size(), tf.boolean_mask(active, matched))
            piece_ids = piece_ids.write(piece_ids.size(), tf.boolean_mask(best_id, matched))
            return starts, unfinished, failed, piece_words, piece_ids

        unfinished = tf.logical_and(lengths > 0, tf.logical_not(too_long))
        # Each array starts with an empty entry, so that concat() works when no step runs.
        arrays = tuple(
            tf.TensorArray(tf.int64, size=1, dynamic_size=True, infer_shape=False, element_shape=[None]).write(
                0, tf.zeros([0], tf.int64)
            )
            for _ in range(2)
        )
        _, _, failed, piece_words, piece_ids = tf.while_loop(
            lambda starts, unfinished, *_: tf.reduce_any(unfinished),
            step,
            (tf.zeros_like(lengths), unfinished, too_long, *arrays),
        )
        piece_words = piece_words.concat()
        piece_ids = piece_ids.concat()
        # A failed word keeps no piece but one [UNK].
        good = tf.logical_not(tf.gather(failed, piece_words))
        failed_words = tf.where(failed)[:, 0]
        piece_words = tf.concat([tf.boolean_mask(piece_words, good), failed_words], 0)
        piece_ids = tf.concat(
            [tf.boolean_mask(piece_ids, good), tf.fill(tf.shape(failed_words), tf.constant(self.unknown_id, tf.int64))],
            0,
        )
        order = tf.argsort(piece_words, stable=True)  # pieces were written step by step: keep that order per word
        return tf.RaggedTensor.from_value_rowids(
            tf.cast(tf.gather(piece_ids, order), tf.int32),
            tf.gather(piece_words, order),
            nrows=tf.cast(count, tf.int64),
        )

    # -- tokenize / detokenize --------------------------------------------------------
    def tokenize_ragged(self, strings):
        """Strings `(B,)` (or a scalar) → int32 RaggedTensor `(B, None)` (or 1-D ids); no [CLS] / [SEP]."""
        strings = tf.convert_to_tensor(strings, tf.string)
        if strings.shape.rank == 0:
            return self.tokenize_ragged(strings[tf.newaxis])[0]
        if strings.shape.rank is not None and strings.shape.rank >= 2 and strings.shape[-1] == 1:
            strings = tf.squeeze(strings, -1)
        unique_words, word_index, words_per_string = self._words(strings)
        pieces = tf.gather(self._word_pieces(unique_words), word_index)
        return tf.RaggedTensor.from_row_lengths(pieces, words_per_string).merge_dims(1, 2)

    def tokenize(self, strings, sequence_length=None):
        """Strings → int32 ids `(B, L)` padded with the padding token's id (or `(L,)` for a scalar).

        `sequence_length`: pad / truncate to it; None: the layer's, or the longest in the batch.
        """
        sequence_length = self.sequence_length if sequence_length is None else sequence_length
        strings = tf.convert_to_tensor(strings, tf.string)
        if strings.shape.rank == 0:
            return self.tokenize(strings[tf.newaxis], sequence_length)[0]
        ids = self.tokenize_ragged(strings)
        shape = None if sequence_length is None else [None, sequence_length]
        return ids.to_tensor(default_value=self.padding_id, shape=shape)

    def detokenize(self, ids):
        """Ids `(B, L)` (dense or ragged) or `(L,)` → strings, as Hugging Face's
        `decode(ids, skip_special_tokens=True)`: special and unknown ids are
        skipped; pieces after the first are joined with " " or, for "##"
        pieces, glued on; then the WordPiece decoder's cleanup (" ." → ".",
        " ," → ",", …) on each piece."""
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
            if ids.shape.rank == 1:
                return self.detokenize(ids[tf.newaxis])[0]
            ids = tf.RaggedTensor.from_tensor(ids)
        ids = tf.cast(ids, tf.int64)
        size = len(self.vocabulary)
        ids = tf.ragged.map_flat_values(lambda x: tf.where((x >= 0) & (x < size), x, size), ids)
        ids = tf.ragged.boolean_mask(ids, tf.logical_not(tf.gather(self._skipped_when_decoding, ids)))
        tokens = tf.gather(self._vocabulary_tensor, ids.flat_values)
        first = tf.equal(tf.range(tf.size(tokens, tf.int64)), tf.gather(ids.row_starts(), ids.value_rowids()))
        prefix = _regex_literal(self.suffix_indicator)
        if self.suffix_indicator:
            continues = tf.strings.regex_full_match(tokens, "(?s)" + prefix + ".*")
        else:  # every token starts with the empty prefix: all are glued on
            continues = tf.fill(tf.shape(tokens), True)
        stripped = tf.strings.regex_replace(tokens, "^" + prefix, "", replace_global=False)
        joined = tf.where(continues, stripped, tf.strings.join([" ", tokens]))
        tokens = tf.where(first, tokens, joined)
        for old, new in _DECODE_CLEANUP:
            tokens = tf.strings.regex_replace(tokens, _regex_literal(old), new.replace("\\", "\\\\"))
        return tf.strings.reduce_join(tf.RaggedTensor.from_row_splits(tokens, ids.row_splits), axis=-1)

    # -- config ---------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": list(self.vocabulary),
                "lowercase": self.lowercase,
                "strip_accents": self.strip_accents,
                "sequence_length": self.sequence_length,
                "unknown_token": self.unknown_token,
                "padding_token": self.padding_token,
                "cls_token": self.cls_token,
                "sep_token": self.sep_token,
                "mask_token": self.mask_token,
                "max_input_chars_per_word": self.max_input_chars_per_word,
                "suffix_indicator": self.suffix_indicator,
            }
        )
        return config
