"""`CharacterTokenizer`: Unicode characters → ids, for character-level language models."""

import keras
import tensorflow as tf

from kerasnets.tokenizers.lookup_tokenizer import LookupTokenizer


@keras.saving.register_keras_serializable(package="kerasnets")
class CharacterTokenizer(LookupTokenizer):
    """Unicode characters → ids, for character-level language models.

    Every Unicode code point is a token (UTF-8 decoded; invalid bytes become
    U+FFFD): `"día" → ["d", "í", "a"] → [id(d), id(í), id(a)]`. Id 0 is
    padding, 1 is OOV, then `special_tokens` (which are only reachable by id,
    never matched in text), then the characters. `detokenize` joins
    characters with "", so `detokenize(tokenize(x)) == x` for in-vocabulary
    text (lowercased when `lowercase`).

    The lookups are `keras.layers.StringLookup`s. Splitting is
    `tf.strings.unicode_split` here rather than a TextVectorization
    (`split="character"`): its lowercasing is ASCII-only ("É" stays) and its
    output length is fixed per layer, while `tokenize` takes one per call.

        tokenizer = CharacterTokenizer().adapt(["to be or not to be"])
        tokenizer(["to bee"])                 # int32 (1, 6): [[4, 3, 2, 5, 6, 6]]
        tokenizer.detokenize([[4, 3, 1]])     # [b"to[UNK]"]

    Args:
        vocabulary: Characters in id order (None: call `adapt`).
        sequence_length: Default pad/truncate length of `tokenize` (None: the
            longest in the batch).
        special_tokens: Extra tokens with fixed ids 2, 3, …
        oov_token: The string `detokenize` gives for id 1.
        max_tokens: Cap on `vocabulary_size()` after `adapt`.
        min_frequency: Drop rarer characters in `adapt`.
        lowercase: Lowercase (Unicode-aware) before splitting.
    """

    separator = ""

    def _split(self, strings):
        if self.lowercase:
            strings = tf.strings.lower(strings, encoding="utf-8")
        return tf.strings.unicode_split(strings, "UTF-8", errors="replace")
