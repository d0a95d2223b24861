"""`WordTokenizer`: whitespace-separated words → ids, with TextVectorization's standardisation."""

import keras
import tensorflow as tf

from kerasnets.tokenizers.lookup_tokenizer import LookupTokenizer

# TextVectorization's "lower_and_strip_punctuation" characters.
DEFAULT_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


@keras.saving.register_keras_serializable(package="kerasnets")
class WordTokenizer(LookupTokenizer):
    """Words → ids with TextVectorization's standardisation.

    Text is split on whitespace; each word is lowercased (Unicode-aware) and
    stripped of punctuation (TextVectorization's "lower_and_strip_punctuation"
    characters, or the regex `punctuation`), and words left empty are dropped:
    `w_i → id(strip(lower(w_i)))`. A word equal to one of `special_tokens`
    (e.g. "[start]", "[CLS]") is kept as is and gets its fixed id.
    `detokenize` joins words with " ", so `detokenize(tokenize(x)) ==
    standardize(x)` for in-vocabulary text. Without special tokens the ids
    equal those of a `keras.layers.TextVectorization`
    (standardize="lower_and_strip_punctuation") with the same vocabulary for
    ASCII text.

    The lookups are `keras.layers.StringLookup`s. The standardisation is done
    here, word by word, rather than by a TextVectorization: its stripping
    would turn "[start]" into "start", its lowercasing is ASCII-only, and its
    output length is fixed per layer, while `tokenize` takes one per call.

        tokenizer = WordTokenizer(special_tokens=["[start]", "[end]"])
        tokenizer.adapt(["Hello, world!", "hello again"])
        tokenizer(["[start] Hello, World! [end]"])   # int32 (1, 4): [[2, 4, 6, 3]]
        tokenizer.detokenize([[4, 1]])               # [b"hello [UNK]"]

    Args:
        vocabulary: Words in id order (None: call `adapt`).
        sequence_length: Default pad/truncate length (None: longest in batch).
        special_tokens: Tokens with fixed ids 2, 3, … (e.g.
            `SEQ2SEQ_SPECIAL_TOKENS`, `BERT_SPECIAL_TOKENS`).
        oov_token: The token of id 1.
        max_tokens: Cap on `vocabulary_size()` after `adapt`.
        min_frequency: Drop rarer words in `adapt`.
        lowercase: Lowercase words (default True).
        punctuation: A regex of characters to delete from each word; None or ""
            keeps punctuation. Default: TextVectorization's set.
    """

    separator = " "

    def __init__(self, vocabulary=None, *, lowercase=True, punctuation=DEFAULT_PUNCTUATION, **kwargs):
        self.punctuation = punctuation or ""
        super().__init__(vocabulary, lowercase=lowercase, **kwargs)

    def _split(self, strings):
        words = tf.strings.split(strings)
        flat = words.flat_values
        clean = flat
        if self.lowercase:
            clean = tf.strings.lower(clean, encoding="utf-8")
        if self.punctuation:
            clean = tf.strings.regex_replace(clean, self.punctuation, "")
        if self.special_tokens:
            specials = tf.constant(self.special_tokens, tf.string)
            is_special = tf.reduce_any(tf.equal(flat[:, tf.newaxis], specials[tf.newaxis, :]), axis=-1)
            clean = tf.where(is_special, flat, clean)
        words = words.with_flat_values(clean)
        return tf.ragged.boolean_mask(words, tf.strings.length(words) > 0)

    def get_config(self):
        config = super().get_config()
        config["punctuation"] = self.punctuation
        return config
