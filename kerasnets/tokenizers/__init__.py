"""kerasnets.tokenizers: text tokenizers as Keras layers, saved inside models and exports.

    from kerasnets.tokenizers import CharacterTokenizer, WordTokenizer
    tokenizer = WordTokenizer(special_tokens=SEQ2SEQ_SPECIAL_TOKENS).adapt(train_sentences)
    ids = tokenizer(["Hello, world!"])          # int32 (1, L), 0-padded
    tokenizer.detokenize(ids)                   # [b"hello world"]

Ids of the project's own tokenizers: 0 padding, 1 OOV ("[UNK]"), then the
special tokens, then the vocabulary (see `lookup_tokenizer`).

The published models' subword tokenizers keep their checkpoint's ids:

    tokenizer = from_pretrained("checkpoints/gpt2")   # BytePairTokenizer (GPT-2's byte-level BPE)
    tokenizer = from_pretrained("checkpoints/bert")   # WordPieceTokenizer (+ BertPacker for [CLS] a [SEP] b [SEP])
    train_bpe(dataset, 8000) / train_wordpiece(dataset, 8000)   # new vocabularies, Hugging Face file formats

All are Keras layers in core TensorFlow ops (stock TF Serving runs them),
registered serializable, so `.keras` files and `export.json` reload them with
no custom_objects.
"""

from kerasnets.tokenizers.bert_packer import BertPacker  # noqa: F401
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
from kerasnets.tokenizers.word_piece_tokenizer import WordPieceTokenizer  # noqa: F401
from kerasnets.tokenizers.wordpiece_training import train_wordpiece  # noqa: F401
from kerasnets.tokenizers.pretrained import from_pretrained  # noqa: F401,E402
