"""`train_wordpiece`: learn a BERT WordPiece vocabulary with Hugging Face `tokenizers`, get a `WordPieceTokenizer`.

    tokenizer = train_wordpiece(train_texts, vocabulary_size=8000, directory="runs/bert")
    # runs/bert/vocab.txt: [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0–4), then the learnt pieces

`tokenizers`' WordPiece trainer (with the same BertNormalizer /
BertPreTokenizer as `WordPieceTokenizer`) merges character pairs by
`count(ab) / (count(a) · count(b))` until the vocabulary is full; `##`
marks pieces that continue a word. `tokenizers` is imported only here, when
training: the trained tokenizer itself runs on TensorFlow alone.
"""

import os

from kerasnets import files
from kerasnets.tokenizers.training_texts import python_texts
from kerasnets.tokenizers.word_piece_tokenizer import WordPieceTokenizer

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def train_wordpiece(data, vocabulary_size, lowercase=True, min_frequency=2, directory=None, **tokenizer_kwargs):
    """Train a WordPiece vocabulary on `data` and return a `WordPieceTokenizer` using it.

    Args:
        data: A `tf.data.Dataset` of strings, a list or an array of strings.
        vocabulary_size: Size of the vocabulary, the 5 special tokens included.
        lowercase: Lowercase (and strip accents) before training and tokenizing.
        min_frequency: Pairs seen fewer times are not merged.
        directory: If given, `vocab.txt` is written there (atomically).
        **tokenizer_kwargs: Passed on to `WordPieceTokenizer` (e.g. `sequence_length`).
    """
    from tokenizers import BertWordPieceTokenizer  # only needed to train

    trainer = BertWordPieceTokenizer(lowercase=lowercase)
    trainer.train_from_iterator(
        python_texts(data, "train_wordpiece"),
        vocab_size=int(vocabulary_size),
        min_frequency=int(min_frequency),
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    vocabulary = [token for token, _ in sorted(trainer.get_vocab().items(), key=lambda item: item[1])]
    if directory is not None:
        os.makedirs(directory, exist_ok=True)
        files.write_text(os.path.join(directory, "vocab.txt"), "".join(token + "\n" for token in vocabulary))
    return WordPieceTokenizer(vocabulary, lowercase=lowercase, **tokenizer_kwargs)
