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

import numpy as np
import tensorflow as tf

from kerasnets import files
from kerasnets.tokenizers.byte_pair_tokenizer import ENDOFTEXT, BytePairTokenizer

MERGES_HEADER = "#version: 0.2"


def _texts(data, batch_size=1024):
    """Yield Python strings from a `tf.data.Dataset` of strings, a list, an array or a tensor."""
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
            raise ValueError(
                f"train_bpe() needs a dataset of strings; got element_spec={spec}. "
                "Map it first, e.g. dataset.map(lambda text, label: text)."
            )
        batches = data if spec.shape.rank else data.batch(batch_size)
        for batch in batches.as_numpy_iterator():
            for text in np.asarray(batch).reshape(-1):
                yield text.decode("utf-8", errors="replace")
        return
    if isinstance(data, str):
        data = [data]
    for text in np.asarray(data, dtype=object).reshape(-1):
        yield text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)


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
        _texts(data),
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
