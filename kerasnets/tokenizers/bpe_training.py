"""`train_bpe`: learn a GPT-2 style byte-level BPE vocabulary and get a `BytePairTokenizer` for it.

    tokenizer = train_bpe(train_texts, vocabulary_size=5000, directory="tokenizer")
    # tokenizer/vocab.json + tokenizer/merges.txt, the files GPT-2 and Hugging Face read

Training is Hugging Face `tokenizers`' BPE trainer (the Rust one, imported
only when this function runs): start from the 256 byte characters, count the
adjacent pairs of symbols in every pre-tokenized word (GPT-2's regex), merge
the most frequent pair into a new token, repeat until `vocabulary_size` or no
pair occurs `min_frequency` times. The special tokens take the first ids.
"""

import json
import os

from kerasnets import files
from kerasnets.tokenizers.training_texts import python_texts
from kerasnets.tokenizers.byte_pair_tokenizer import ENDOFTEXT, BytePairTokenizer

MERGES_HEADER = "#version: 0.2"


def train_bpe(data, vocabulary_size, special_tokens=(ENDOFTEXT,), min_frequency=2, directory=None, **kwargs):
    """Train a byte-level BPE vocabulary with Hugging Face `tokenizers` and return a `BytePairTokenizer`.

    Args:
        data: Texts: a `tf.data.Dataset` of strings (scalars or batches), a
            list, a NumPy array or a string tensor.
        vocabulary_size: The vocabulary's size, the 256 byte tokens and the
            special tokens included.
        special_tokens: Tokens with the first ids, matched whole in texts.
        min_frequency: A pair is merged only if it occurs this many times.
        directory: If given, `vocab.json` and `merges.txt` are written there
            (atomically; Hugging Face's formats, loadable with
            `BytePairTokenizer.from_files` or `GPT2TokenizerFast.from_pretrained`).
        **kwargs: Passed on to `BytePairTokenizer` (e.g. `sequence_length`).

    Returns:
        A `BytePairTokenizer` with the trained vocabulary and merges.
    """
    from tokenizers import ByteLevelBPETokenizer  # optional dependency: only needed for training

    special_tokens = [str(token) for token in special_tokens]
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        python_texts(data, "train_bpe"),
        vocab_size=int(vocabulary_size),
        min_frequency=int(min_frequency),
        special_tokens=special_tokens,
        show_progress=False,
    )
    model = json.loads(trainer.to_str())["model"]
    vocabulary = dict(sorted(model["vocab"].items(), key=lambda item: item[1]))
    # Newer `tokenizers` serialise a merge as [left, right], older ones as "left right".
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model["merges"]]
    if directory is not None:
        os.makedirs(directory, exist_ok=True)
        files.write_text(os.path.join(directory, "vocab.json"), json.dumps(vocabulary, ensure_ascii=False) + "\n")
        files.write_text(os.path.join(directory, "merges.txt"), "\n".join([MERGES_HEADER, *merges]) + "\n")
    return BytePairTokenizer(vocabulary, merges, special_tokens=special_tokens, **kwargs)
