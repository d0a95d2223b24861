"""The tokenizer of a published checkpoint directory: GPT-2's byte-level BPE or BERT's WordPiece.

    tokenizer = kerasnets.tokenizers.from_pretrained("checkpoints/gpt2")   # a BytePairTokenizer
    tokenizer(["Hello world"])                                              # [[15496, 995]]

Reads the two layouts users have, with no `transformers` / `keras_hub` import:

* a Hugging Face model directory: `vocab.json` + `merges.txt` (GPT-2) or
  `vocab.txt` (BERT, lower-casing from `tokenizer_config.json`'s
  `do_lower_case`, True when absent), or only a `tokenizer.json`;
* a KerasHub preset: `assets/tokenizer/vocabulary.json` + `merges.txt`, or
  `assets/tokenizer/vocabulary.txt` (its `lowercase` from `tokenizer.json`).
"""

import json
import os

from kerasnets.tokenizers.word_piece_tokenizer import WordPieceTokenizer

KERAS_HUB_ASSETS = os.path.join("assets", "tokenizer")


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None


def _from_tokenizers_json(path, **kwargs):
    """A Hugging Face `tokenizer.json` holding a BPE or WordPiece model."""
    document = _read_json(path)
    model = document.get("model") if isinstance(document, dict) else None
    if not isinstance(model, dict) or model.get("type") not in ("BPE", "WordPiece"):
        raise ValueError(f"{path}: expected a tokenizers file with a BPE or WordPiece model.")
    vocabulary = model.get("vocab")
    if not isinstance(vocabulary, dict):
        raise ValueError(f"{path}: model.vocab must be an object of token → id.")
    if model["type"] == "BPE":
        from kerasnets.tokenizers.byte_pair_tokenizer import BytePairTokenizer

        merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model.get("merges", [])]
        return BytePairTokenizer(vocabulary, merges, **kwargs)
    tokens = [token for token, _ in sorted(vocabulary.items(), key=lambda item: item[1])]
    normalizer = document.get("normalizer") or {}
    lowercase = bool(normalizer.get("lowercase", True)) if isinstance(normalizer, dict) else True
    return WordPieceTokenizer(tokens, **{"lowercase": lowercase, **kwargs})


def from_pretrained(path, download=None, **kwargs):
    """The tokenizer of checkpoint directory `path` (or a name such as "gpt2"; see
    `kerasnets.models.from_pretrained`): a `BytePairTokenizer` for GPT-2, a
    `WordPieceTokenizer` for BERT. `kwargs` go to the tokenizer (e.g. `sequence_length`).
    """
    from kerasnets.models.pretrained import checkpoint_files, resolve

    directory = resolve(path, download=download)
    found = checkpoint_files(directory)["tokenizer"]
    if found is not None and found["kind"] == "byte_pair":
        from kerasnets.tokenizers.byte_pair_tokenizer import BytePairTokenizer

        return BytePairTokenizer.from_files(found["vocabulary"], found["merges"], **kwargs)
    if found is not None and found["kind"] == "word_piece":
        return WordPieceTokenizer.from_vocabulary_file(found["vocabulary"], **{"lowercase": found["lowercase"], **kwargs})
    hf_tokenizer = os.path.join(directory, "tokenizer.json")
    if os.path.isfile(hf_tokenizer) and "model" in _read_json(hf_tokenizer):
        return _from_tokenizers_json(hf_tokenizer, **kwargs)
    raise ValueError(
        f"No tokenizer files in {directory}: expected vocab.json + merges.txt (GPT-2), vocab.txt (BERT), "
        f"a tokenizer.json, or KerasHub's {KERAS_HUB_ASSETS}/vocabulary.json + merges.txt / vocabulary.txt."
    )
