"""kerasnets.tokenizers: text tokenizers as Keras layers, saved inside models and exports.

    from kerasnets.tokenizers import CharacterTokenizer, WordTokenizer
    tokenizer = WordTokenizer(special_tokens=SEQ2SEQ_SPECIAL_TOKENS).adapt(train_sentences)
    ids = tokenizer(["Hello, world!"])          # int32 (1, L), 0-padded
    tokenizer.detokenize(ids)                   # [b"hello world"]

Ids everywhere: 0 padding, 1 OOV ("[UNK]"), then the special tokens, then
the vocabulary (see `lookup_tokenizer`). Both classes are registered
serializable as "kerasnets>CharacterTokenizer" / "kerasnets>WordTokenizer",
so `.keras` files and `export.json` reload them with no custom_objects.
"""

from kerasnets.tokenizers.bpe_training import train_bpe  # noqa: F401
from kerasnets.tokenizers.byte_pair_tokenizer import BytePairTokenizer  # noqa: F401
from kerasnets.tokenizers.character_tokenizer import CharacterTokenizer  # noqa: F401
from kerasnets.tokenizers.lookup_tokenizer import (  # noqa: F401
    BERT_SPECIAL_TOKENS,
    OOV_ID,
    PADDING_ID,
    SEQ2SEQ_SPECIAL_TOKENS,
    LookupTokenizer,
)
from kerasnets.tokenizers.word_tokenizer import DEFAULT_PUNCTUATION, WordTokenizer  # noqa: F401
