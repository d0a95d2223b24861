import keras
import numpy as np
import tensorflow as tf

from kerasnets.tokenizers import OOV_ID, SEQ2SEQ_SPECIAL_TOKENS, WordTokenizer
from tests.tokenizers.texts import TEXTS


def word_tokenizer(**kwargs):
    return WordTokenizer(**kwargs).adapt(tf.data.Dataset.from_tensor_slices(TEXTS))


def test_standardisation_specials_and_round_trip():
    tokenizer = word_tokenizer(special_tokens=SEQ2SEQ_SPECIAL_TOKENS)
    assert tokenizer.get_vocabulary()[:4] == ["", "[UNK]", "[start]", "[end]"]
    assert tokenizer.special_token_ids == {"[start]": 2, "[end]": 3}
    assert tokenizer.standardize("Speak, SPEAK!  speak.").numpy() == b"speak speak speak"
    assert tokenizer.standardize("¿Dónde ÉL?").numpy() == "¿dónde él".encode()  # TextVectorization's set keeps ¿
    text = "[start] You are all resolved, rather to die [end]"
    ids = tokenizer.tokenize(text).numpy()
    assert ids[0] == 2 and ids[-1] == 3 and 1 not in ids
    assert tokenizer.detokenize(ids).numpy() == tokenizer.standardize(text).numpy()
    assert tokenizer.detokenize(tokenizer(["proceed unknownword"])).numpy()[0] == b"proceed [UNK]"
    batch = tokenizer(["speak", "hear me speak", ""], sequence_length=4).numpy()
    assert batch.shape == (3, 4) and (batch[2] == 0).all() and (batch[0, 1:] == 0).all()


def test_special_tokens_match_only_whole_words():
    tokenizer = word_tokenizer(special_tokens=SEQ2SEQ_SPECIAL_TOKENS)
    assert tokenizer.standardize("[START] x[end] [end]").numpy() == b"start xend [end]"
    assert tokenizer.tokenize("[START] [end]").numpy().tolist() == [OOV_ID, 3]  # "start" is not in TEXTS


def test_ids_equal_text_vectorization_for_ascii():
    tokenizer = word_tokenizer()
    reference = keras.layers.TextVectorization(vocabulary=tokenizer.get_vocabulary()[2:])
    text = ["Before we proceed, any further -- hear me; speak!", "you are ALL resolved? zebra"]
    np.testing.assert_array_equal(tokenizer(text).numpy(), reference(text).numpy())


def test_custom_or_no_punctuation():
    custom = WordTokenizer(vocabulary=["a"], punctuation="[¿?]")
    assert custom.standardize("¿Qué, tal?").numpy() == "qué, tal".encode()
    assert WordTokenizer(vocabulary=["a"], punctuation=None, lowercase=False).standardize("Hi, there").numpy() == (
        b"Hi, there"
    )
