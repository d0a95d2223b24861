"""`LookupTokenizer`: what `CharacterTokenizer` and `WordTokenizer` share.

A tokenizer splits strings into tokens (its subclass's `_split`) and maps
them to int32 ids with two `keras.layers.StringLookup`s, token → id and
id → token (`invert=True`). Everything is TensorFlow string and lookup-table
ops, so a tokenizer runs inside `tf.data`, inside a Keras model with a string
input, and inside a served SavedModel: `keras.export.ExportArchive.track`
(or a tracked model holding it) and `tf.saved_model.save` find the tables.
It is not XLA compilable (`supports_jit = False`); keep it out of
`jit_compile` models.

Token ids are the same everywhere in the project:

    0                 padding (StringLookup's `mask_token`, ""; skipped when detokenizing)
    1                 out of vocabulary (`oov_token`, "[UNK]")
    2 … 1+S           the special tokens, in the order given (fixed ids)
    2+S …             the vocabulary, most frequent first after `adapt`

The vocabulary (without padding, OOV and specials) is part of `get_config()`,
so a tokenizer rebuilds from its config or from a `.keras` file with the
identical ids.
"""

import collections

import keras
import tensorflow as tf

from kerasnets.tokenizers.text_to_ids import TextToIds

PADDING_ID = 0
OOV_ID = 1
BERT_SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]")
SEQ2SEQ_SPECIAL_TOKENS = ("[start]", "[end]")


def _as_text(token):
    return token.decode("utf-8") if isinstance(token, bytes) else str(token)


class LookupTokenizer(TextToIds, keras.layers.Layer):
    """Base class: splitting is the subclass's `_split`; lookups, padding, adapt and config are here.

    Args:
        vocabulary: Tokens in id order, after the specials (None: call `adapt`).
        sequence_length: Default pad/truncate length of `tokenize` (None: the
            longest in the batch).
        special_tokens: Tokens with fixed ids 2, 3, …
        oov_token: The token of id 1 (what `detokenize` gives for it).
        max_tokens: Cap on `vocabulary_size()` after `adapt`.
        min_frequency: Drop rarer tokens in `adapt`.
        lowercase: Lowercase (Unicode-aware) before looking tokens up.
    """

    separator = ""

    def __init__(
        self,
        vocabulary=None,
        *,
        sequence_length=None,
        special_tokens=(),
        oov_token="[UNK]",
        max_tokens=None,
        min_frequency=1,
        lowercase=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        self.built = True  # no weights; the lookups are (re)built by set_vocabulary
        self.sequence_length = None if sequence_length is None else int(sequence_length)
        self.special_tokens = tuple(_as_text(t) for t in special_tokens)
        self.oov_token = _as_text(oov_token)
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.min_frequency = int(min_frequency)
        self.lowercase = bool(lowercase)
        reserved = ("", self.oov_token, *self.special_tokens)
        if len(set(reserved)) != len(reserved):
            raise ValueError(
                f"special_tokens must be distinct, non-empty and differ from oov_token; got {self.special_tokens}"
            )
        if self.max_tokens is not None and self.max_tokens < len(reserved):
            raise ValueError(f"max_tokens={self.max_tokens} leaves no room for padding, OOV and the special tokens.")
        self._vocabulary = None
        self._token_lookup = None
        self._id_lookup = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # -- vocabulary ---------------------------------------------------------
    def set_vocabulary(self, vocabulary):
        """Set the learnt vocabulary (tokens after the specials, in id order).

        Padding, the OOV token and the special tokens are added in front; if
        `vocabulary` starts with them (a full `get_vocabulary()` list) they are
        dropped, so `set_vocabulary(get_vocabulary())` is a no-op.
        """
        tokens = [_as_text(t) for t in vocabulary]
        reserved = ["", self.oov_token, *self.special_tokens]
        if tokens[: len(reserved)] == reserved:
            tokens = tokens[len(reserved) :]
        seen, clean = set(reserved), []
        for token in tokens:
            if token in seen:
                raise ValueError(f"Vocabulary token {token!r} is repeated or reserved (padding, OOV, special).")
            seen.add(token)
            clean.append(token)
        for old in (self._token_lookup, self._id_lookup):
            if old is not None:  # replaced: not a sub-layer any more
                self._tracker.untrack(old)
        self._vocabulary = clean
        keys = [*self.special_tokens, *clean]
        if keys:
            # Given as ["", oov, *keys], StringLookup puts mask "" at 0, OOV at 1, keys from 2.
            options = dict(vocabulary=["", self.oov_token, *keys], mask_token="", oov_token=self.oov_token)
            self._token_lookup = keras.layers.StringLookup(**options, name="token_lookup")
            self._id_lookup = keras.layers.StringLookup(**options, invert=True, name="id_lookup")
        else:  # StringLookup cannot hold an empty table: every token is OOV (see _ids / _tokens)
            self._token_lookup = self._id_lookup = None

    def get_vocabulary(self, include_special_tokens=True):
        """All tokens by id: `["", oov, *specials, *vocabulary]` (or just the vocabulary)."""
        self._check_vocabulary()
        if not include_special_tokens:
            return list(self._vocabulary)
        return ["", self.oov_token, *self.special_tokens, *self._vocabulary]

    def vocabulary_size(self):
        """Number of ids, padding, OOV and specials included (the model's `vocabulary_size`)."""
        self._check_vocabulary()
        return 2 + len(self.special_tokens) + len(self._vocabulary)

    def token_to_id(self, token):
        """The id of one token (specials included), OOV_ID when unknown."""
        token = _as_text(token)
        if token == "":
            return PADDING_ID
        self._check_vocabulary()
        return int(self._ids(tf.constant([token]))[0].numpy())

    def id_to_token(self, token_id):
        """The token of one id ("" for padding and ids beyond the vocabulary)."""
        self._check_vocabulary()
        return self._tokens(tf.constant([int(token_id)], tf.int64))[0].numpy().decode("utf-8")

    @property
    def special_token_ids(self):
        """{special token: id}, e.g. {"[start]": 2, "[end]": 3}."""
        return {token: 2 + i for i, token in enumerate(self.special_tokens)}

    def _check_vocabulary(self):
        if self._vocabulary is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' has no vocabulary yet: call adapt(dataset) "
                "or pass vocabulary=[...]."
            )

    def _ids(self, tokens):
        """Dense string tokens → int32 ids (OOV_ID when unknown)."""
        if self._token_lookup is None:
            return tf.fill(tf.shape(tokens), tf.constant(OOV_ID, tf.int32))
        return tf.cast(self._token_lookup.call(tokens), tf.int32)

    def _tokens(self, ids):
        """Dense int64 ids → tokens: padding and ids outside the vocabulary give ""."""
        # StringLookup(invert=True) would give oov_token outside the vocabulary;
        # send those ids to the mask id 0 instead, which it maps to "".
        known = tf.logical_and(ids > PADDING_ID, ids < self.vocabulary_size())
        ids = tf.where(known, ids, tf.zeros_like(ids))
        if self._id_lookup is None:
            return tf.where(tf.equal(ids, OOV_ID), self.oov_token, "")
        return self._id_lookup.call(ids)

    # -- splitting (the subclasses) ---------------------------------------------
    def _split(self, strings):
        """A string tensor `(B,)` → RaggedTensor of tokens `(B, None)`, never the empty string."""
        raise NotImplementedError

    def split(self, strings):
        """Strings `(B,)` → RaggedTensor of token strings `(B, None)`; a scalar → 1-D tokens."""
        strings = tf.convert_to_tensor(strings, tf.string)
        if strings.shape.rank == 0:
            return self._split(strings[tf.newaxis])[0]
        return self._split(strings)

    def standardize(self, strings):
        """The text the ids stand for: tokens joined by the separator."""
        return tf.strings.reduce_join(self.split(strings), axis=-1, separator=self.separator)

    # -- tokenize / detokenize ------------------------------------------------
    def tokenize_ragged(self, strings):
        """Strings `(B,)` (or a scalar) → int32 RaggedTensor `(B, None)` (or a 1-D tensor)."""
        self._check_vocabulary()
        strings = tf.convert_to_tensor(strings, tf.string)
        if strings.shape.rank is not None and strings.shape.rank >= 2 and strings.shape[-1] == 1:
            strings = tf.squeeze(strings, -1)
        tokens = self.split(strings)
        if isinstance(tokens, tf.RaggedTensor):
            return tf.ragged.map_flat_values(self._ids, tokens)
        return self._ids(tokens)

    def tokenize(self, strings, sequence_length=None):
        """Strings → int32 ids padded with 0.

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
            shape = None if sequence_length is None else [None] * (ids.shape.rank - 1) + [sequence_length]
            return ids.to_tensor(default_value=PADDING_ID, shape=shape)
        if sequence_length is not None:  # a single string
            ids = ids[:sequence_length]
            ids = tf.pad(ids, [[0, sequence_length - tf.shape(ids)[0]]])
            ids = tf.ensure_shape(ids, [sequence_length])
        return ids

    def detokenize(self, ids):
        """int ids `(B, L)` (dense or ragged) or `(L,)` → strings, padding skipped.

        OOV ids give `oov_token`; ids beyond the vocabulary give "".
        """
        self._check_vocabulary()
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
        ids = tf.cast(ids, tf.int64)
        if isinstance(ids, tf.RaggedTensor):
            ragged = ids
        else:
            if ids.shape.rank == 1:
                return self.detokenize(ids[tf.newaxis])[0]
            ragged = tf.RaggedTensor.from_tensor(ids)
        ragged = tf.ragged.boolean_mask(ragged, tf.not_equal(ragged, PADDING_ID))
        tokens = tf.ragged.map_flat_values(self._tokens, ragged)
        return tf.strings.reduce_join(tokens, axis=-1, separator=self.separator)

    # -- adapt --------------------------------------------------------------
    def adapt(self, data, batch_size=1024, steps=None):
        """Learn the vocabulary from strings: most frequent first (ties: by token).

        Counted here rather than with `StringLookup.adapt`, which breaks ties
        by descending token and has no `min_frequency`.

        Args:
            data: A `tf.data.Dataset` of strings (scalars or batches), a list,
                an array or a string tensor.
            batch_size: Batch size used when `data` is not already batched.
            steps: Only read this many batches.

        Returns:
            self.
        """
        if isinstance(data, tf.data.Dataset):
            spec = data.element_spec
            if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
                raise ValueError(
                    f"adapt() needs a dataset of strings; got element_spec={spec}. "
                    "Map it first, e.g. dataset.map(lambda text, label: text)."
                )
            dataset = data if spec.shape.rank and spec.shape.rank >= 1 else data.batch(batch_size)
        else:
            dataset = tf.data.Dataset.from_tensor_slices(tf.reshape(tf.convert_to_tensor(data, tf.string), [-1]))
            dataset = dataset.batch(batch_size)
        if steps is not None:
            dataset = dataset.take(steps)

        def count(strings):
            tokens = self._split(strings)
            while isinstance(tokens, tf.RaggedTensor):
                tokens = tokens.flat_values
            unique, _, counts = tf.unique_with_counts(tf.reshape(tokens, [-1]))
            return unique, counts

        counter = collections.Counter()
        for unique, counts in dataset.map(count, num_parallel_calls=tf.data.AUTOTUNE).as_numpy_iterator():
            counter.update(dict(zip(unique.tolist(), counts.tolist())))
        reserved = {b"", self.oov_token.encode(), *(t.encode() for t in self.special_tokens)}
        items = [(token, n) for token, n in counter.items() if token not in reserved and n >= self.min_frequency]
        items.sort(key=lambda item: (-item[1], item[0]))
        if self.max_tokens is not None:
            items = items[: self.max_tokens - 2 - len(self.special_tokens)]
        self.set_vocabulary([token.decode("utf-8") for token, _ in items])
        return self

    # -- config ---------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": None if self._vocabulary is None else list(self._vocabulary),
                "sequence_length": self.sequence_length,
                "special_tokens": list(self.special_tokens),
                "oov_token": self.oov_token,
                "max_tokens": self.max_tokens,
                "min_frequency": self.min_frequency,
                "lowercase": self.lowercase,
            }
        )
        return config
