import keras
import numpy as np
import tensorflow as tf

from kerasnets.tokenizers import CharacterTokenizer
from tests.tokenizers.texts import TEXTS


def test_ids_padding_oov_and_round_trip():
    tokenizer = CharacterTokenizer().adapt(TEXTS)
    vocabulary = tokenizer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and vocabulary[2] == " "  # most frequent first
    assert tokenizer.vocabulary_size() == len(vocabulary) == 2 + len(set("".join(TEXTS)))
    ids = tokenizer(TEXTS)
    assert ids.dtype == tf.int32 and ids.shape == (4, max(len(t) for t in TEXTS))
    assert (ids.numpy()[1, len(TEXTS[1]) :] == 0).all()  # padding
    assert [t.decode() for t in tokenizer.detokenize(ids).numpy()] == TEXTS
    assert tokenizer.tokenize("é€").numpy()[1] == 1  # OOV
    assert tokenizer.detokenize(tokenizer.tokenize("a€", sequence_length=4)).numpy() == b"a[UNK]"
    assert tokenizer.tokenize(TEXTS, sequence_length=5).shape == (4, 5)


def test_ids_equal_text_vectorization_character_split():
    tokenizer = CharacterTokenizer().adapt(TEXTS)
    reference = keras.layers.TextVectorization(
        standardize=None, split="character", vocabulary=tokenizer.get_vocabulary(include_special_tokens=False)
    )
    text = ["Hear me, ciudadano!", "¿Dónde? ñandú"]
    np.testing.assert_array_equal(tokenizer(text).numpy(), reference(text).numpy())


def test_lowercase_is_unicode_aware_and_specials_only_by_id():
    tokenizer = CharacterTokenizer(lowercase=True, special_tokens=["[start]"]).adapt(TEXTS)
    assert "É" not in tokenizer.get_vocabulary() and "é" in tokenizer.get_vocabulary()
    assert tokenizer.detokenize(tokenizer.tokenize("ÉL")).numpy() == "él".encode()
    ids = tokenizer.tokenize("[start]").numpy()
    assert len(ids) == 7 and 2 not in ids  # "[start]" in text is seven characters, not the special
    assert tokenizer.detokenize([2, tokenizer.token_to_id("a")]).numpy() == b"[start]a"


def test_invalid_utf8_becomes_the_replacement_character():
    tokenizer = CharacterTokenizer(vocabulary=["a", "\ufffd"])
    np.testing.assert_array_equal(tokenizer.tokenize(b"a\xffa").numpy(), [2, 3, 2])
