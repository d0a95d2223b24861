"""Attention weights of a trained model on one text, with its tokens as text.

    from kerasnets import pictures
    attention = pictures.attention_map("runs/transformer-spa_eng", "¿Dónde está la estación?")
    attention.weights        # (layers, heads, generated tokens, source tokens), rows sum to 1
    attention.rows, attention.columns    # the tokens, as the tokenizers spell them

A run directory is what `kerasnets train` writes: `model.keras`, `export.json`
(the tokenizers) and `config.json` (the recipe's settings; its
`sequence_length` sets how the text is tokenized and how long decoding goes).
What is read out depends on the model:

* `TransformerSeq2Seq`: greedy decoding of the text, then the decoder's
  cross-attention, generated tokens × source tokens, of each chosen block
  (`kind="cross"`); also the encoder's self-attention (`"self"`, source ×
  source) or the decoder's causal self-attention (`"causal"`, decoder inputs
  × decoder inputs);
* `RNNSeq2Seq` with attention: greedy decoding, then the alignment α of the
  Bahdanau (or Luong) attention, generated × source words, the picture of
  Bahdanau et al. 2015, Fig. 3 (one layer, one head);
* BERT (`BertBackbone`, `BertClassifier`, `BertPretrainer`): the
  self-attention heads of the chosen encoder blocks over the packed input
  `[CLS] text [SEP] (pair [SEP])`.

The weights come from the models' own layers through their
`attention_scores(...)` methods. Teacher-forcing the greedy output through the
decoder gives exactly the weights of the step-by-step decoding, because the
decoder is causal (Transformer) or runs forward (RNN). Padding is cut off: every
row is a real query, and it sums to 1 over the real keys.
"""

import dataclasses
import json
import os

import numpy as np

KINDS = ("cross", "self", "causal")


@dataclasses.dataclass
class AttentionMap:
    """Attention weights to draw.

    Attributes:
        weights: float `(layers, heads, len(rows), len(columns))`; row i is the
            softmax over the columns of query i (each row sums to 1).
        layers: The block index of each `weights[l]` (0 = the first block).
        rows: The query tokens (generated tokens for cross-attention).
        columns: The key tokens (source tokens for cross-attention).
        kind: "cross", "self" or "causal".
        model: What drew it, e.g. "transformer", "seq2seq (bahdanau)", "bert".
        text: The input text; `translation`: the greedy output as text (or None).
    """

    weights: np.ndarray
    layers: list
    rows: list
    columns: list
    kind: str
    model: str
    text: str
    translation: str = None

    def mean_over_heads(self):
        """The same map with the heads averaged: `(layers, 1, rows, columns)` (rows still sum to 1)."""
        return dataclasses.replace(self, weights=self.weights.mean(axis=1, keepdims=True))


def load_run(run_dir):
    """`(model, export options, recipe config)` of a `kerasnets train` run directory."""
    from kerasnets.export.artifacts import MODEL_FILENAME, load_for_export

    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"No run directory {run_dir}: give the --output directory of `kerasnets train`.")
    if not os.path.isfile(os.path.join(run_dir, MODEL_FILENAME)):
        raise FileNotFoundError(f"No {MODEL_FILENAME} in {run_dir}: the run has not finished (or is not a run).")
    model, options = load_for_export(run_dir)
    config = {}
    config_path = os.path.join(run_dir, "config.json")
    if os.path.isfile(config_path):
        with open(config_path, encoding="utf-8") as handle:
            try:
                config = json.load(handle).get("config", {})
            except json.JSONDecodeError as error:
                raise ValueError(f"{config_path} is not valid JSON: {error}") from None
    return model, options, config


def attention_map(run_dir, text, *, text_pair=None, kind=None, layers=-1, max_new_tokens=None):
    """The attention of the model in `run_dir` on `text`; see `attention_map_of`."""
    model, options, config = load_run(run_dir)
    return attention_map_of(
        model, options, text, text_pair=text_pair, kind=kind, layers=layers, max_new_tokens=max_new_tokens,
        sequence_length=config.get("sequence_length"),
    )  # fmt: skip


def attention_map_of(
    model, options, text, *, text_pair=None, kind=None, layers=-1, max_new_tokens=None, sequence_length=None
):
    """An `AttentionMap` of `model` on `text`.

    Args:
        model: A `TransformerSeq2Seq`, an `RNNSeq2Seq` with attention, or a BERT model.
        options: Its export options (`load_run`): "generation" holds the
            source and target tokenizers of a translation model, "tokenizer"
            (and "sequence_length") those of a BERT model.
        text: The source sentence, or BERT's (first) text.
        text_pair: BERT's second segment, if any.
        kind: "cross" (the default of translation models), "self" (BERT's only
            kind; a Transformer's encoder) or "causal" (a Transformer's decoder).
        layers: A block index (negative from the end; default the last
            block), a list of them, or "all".
        max_new_tokens: Greedy decoding length (default `sequence_length`, else 20).
        sequence_length: Tokenize the text to at most this many tokens (the
            recipe's setting; longer text is cut as in training).
    """
    from kerasnets.models.bert import BertBackbone
    from kerasnets.models.seq2seq import RNNSeq2Seq
    from kerasnets.models.transformer import TransformerSeq2Seq

    if not isinstance(text, str) or not text.strip():
        raise ValueError("--text must be a non-empty string.")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"Unknown attention kind '{kind}'. Valid kinds: {', '.join(KINDS)}.")
    backbone = getattr(model, "backbone", model)
    if isinstance(model, (TransformerSeq2Seq, RNNSeq2Seq)):
        if text_pair is not None:
            raise ValueError("--text-pair is for BERT models; a translation model reads one text.")
        return _translation_map(model, options, text, kind or "cross", layers, max_new_tokens, sequence_length)
    if isinstance(backbone, BertBackbone):
        if kind not in (None, "self"):
            raise ValueError(f"A BERT model has self-attention only, not '{kind}'.")
        return _bert_map(model, backbone, options, text, text_pair, layers, sequence_length)
    raise ValueError(
        f"Attention maps are drawn for Transformer, seq2seq (with attention) and BERT runs; "
        f"'{model.name}' is a {type(model).__name__}."
    )


def _choose_layers(layers, count):
    if isinstance(layers, str):
        if layers == "all":
            return list(range(count))
        if layers == "last":
            return [count - 1]
        raise ValueError(f"layers must be 'all', 'last' or block indices, got {layers!r}.")
    chosen = [layers] if isinstance(layers, (int, np.integer)) else list(layers)
    result = []
    for index in chosen:
        if not -count <= int(index) < count:
            raise ValueError(f"Layer {index} does not exist: the model has {count} (0 … {count - 1}, or -1 for the last).")
        result.append(int(index) % count)
    return result


def _tokens(tokenizer, ids):
    return [tokenizer.id_to_token(int(token_id)) or "[PAD]" for token_id in ids]


def _tokenizers(options, model):
    generation = options.get("generation") or {}
    if "source_tokenizer" not in generation or "target_tokenizer" not in generation:
        raise ValueError(f"export.json of '{model.name}' has no source_tokenizer and target_tokenizer.")
    return generation["source_tokenizer"], generation["target_tokenizer"]


def _translation_map(model, options, text, kind, layers, max_new_tokens, sequence_length):
    from kerasnets.models.seq2seq import RNNSeq2Seq

    recurrent = isinstance(model, RNNSeq2Seq)
    if recurrent and kind != "cross":
        raise ValueError(f"An RNN seq2seq model has encoder-decoder attention ('cross') only, not '{kind}'.")
    if recurrent and model.attention_layer is None:
        raise ValueError(f"'{model.name}' was built with attention=None: it has no attention to draw.")
    source_tokenizer, target_tokenizer = _tokenizers(options, model)
    specials = target_tokenizer.special_token_ids
    start, end = specials["[start]"], specials["[end]"]
    length = sequence_length or model.source_max_sequence_length
    source = np.asarray(source_tokenizer.tokenize([text], sequence_length=length), "int32")
    source = source[:, : int(np.count_nonzero(source[0]))]  # right padding only; it never changes the weights
    if source.shape[1] == 0:
        raise ValueError(f"--text {text!r} has no tokens for the source tokenizer.")
    steps = int(max_new_tokens or sequence_length or 20)
    if steps < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {steps}.")
    if model.max_sequence_length is not None:
        steps = min(steps, model.max_sequence_length)
    generated = np.asarray(model.generate(source, steps, start_token_id=start, end_token_id=end, sampler="greedy"))[0]
    # Up to and with [end]; a padding id (an untrained model may emit one) ends the output too.
    stops = [i for i, token_id in enumerate(generated) if token_id in (0, end)]
    cut = stops[0] + (generated[stops[0]] == end) if stops else len(generated)
    generated = generated[:cut]
    if generated.size == 0:
        raise ValueError(f"'{model.name}' generated no token for {text!r} (its first prediction was padding).")
    decoder_inputs = np.concatenate([[start], generated[:-1]]).astype("int32")[None]
    scores = model.attention_scores(source, decoder_inputs)
    name = {"cross": "cross", "self": "encoder", "causal": "decoder"}[kind]
    chosen = _choose_layers(layers, len(scores[name]))
    weights = np.stack([np.asarray(scores[name][index], "float32")[0] for index in chosen])
    source_tokens = _tokens(source_tokenizer, source[0])
    generated_tokens = _tokens(target_tokenizer, generated)
    input_tokens = _tokens(target_tokenizer, decoder_inputs[0])
    rows, columns = {
        "cross": (generated_tokens, source_tokens),
        "self": (source_tokens, source_tokens),
        "causal": (input_tokens, input_tokens),
    }[kind]
    label = f"seq2seq ({model.attention})" if recurrent else "transformer"
    translation = " ".join(token for token in generated_tokens if token != "[end]")
    return AttentionMap(weights, chosen, rows, columns, kind, label, text, translation)


def _bert_map(model, backbone, options, text, text_pair, layers, sequence_length):
    from kerasnets.tokenizers.bert_packer import BertPacker

    tokenizer = options.get("tokenizer")
    if tokenizer is None:
        raise ValueError(f"export.json of '{model.name}' has no tokenizer to turn --text into token ids.")
    specials = tokenizer.special_token_ids
    missing = [token for token in ("[CLS]", "[SEP]") if token not in specials]
    if missing:
        raise ValueError(f"The tokenizer of '{model.name}' lacks the special tokens {missing} BERT's input needs.")
    length = options.get("sequence_length") or sequence_length or backbone.max_sequence_length
    packer = BertPacker(length, specials["[CLS]"], specials["[SEP]"], pad_id=specials.get("[PAD]", 0))
    second = None if text_pair is None else tokenizer.tokenize_ragged([text_pair])
    packed = {key: np.asarray(value) for key, value in packer(tokenizer.tokenize_ragged([text]), second).items()}
    real = int(packed["padding_mask"][0].sum())
    packed = {key: value[:, :real] for key, value in packed.items()}  # padding never changes the weights
    scores = backbone.attention_scores(packed)["encoder"]
    chosen = _choose_layers(layers, len(scores))
    weights = np.stack([np.asarray(scores[index], "float32")[0] for index in chosen])
    tokens = _tokens(tokenizer, packed["token_ids"][0])
    text = text if text_pair is None else f"{text} | {text_pair}"
    return AttentionMap(weights, chosen, tokens, tokens, "self", "bert", text)
