"""`save_pretrained`: a kerasnets BERT written as a Hugging Face checkpoint directory.

    save_pretrained(pretrainer, "runs/bert_pretraining-corpus/checkpoint", tokenizer=wordpiece)

writes

    config.json              transformers' BertConfig (model_type "bert", architectures)
    model.safetensors        every tensor under transformers' names, float32
    vocab.txt, tokenizer_config.json, special_tokens_map.json   (with `tokenizer=`, a WordPieceTokenizer)

so the directory is what `kerasnets.models.from_pretrained`, `kerasnets train bert-* --set
checkpoint=DIR` and `transformers.BertForPreTraining.from_pretrained(DIR)` all read. It is the
inverse of the reader's mapping (`pretrained._plan_hf_bert`), for hidden size d, H heads of k:

    query/key/value_kernel (d, H, k)  → attention.self.{query,key,value}.weight = reshape (d, d)ᵀ
    output_kernel (H, k, d)           → attention.output.dense.weight          = reshape (d, d)ᵀ
    Dense / FeedForward kernels (in, out) → nn.Linear weights (out, in)

The MLM decoder is tied to the token embedding, so, as transformers does, it is not stored
twice. The directory is built under a temporary name beside `directory` and renamed into
place (`files.replacing_directory`): a kill never leaves a mix of the two.
"""

import os

import numpy as np

from kerasnets import files
from kerasnets.models.bert import BertBackbone, BertClassifier, BertPretrainer

# Our activation names → transformers' `hidden_act` (the reader maps them back).
HIDDEN_ACT = {"gelu": "gelu", "gelu_approximate": "gelu_new", "relu": "relu"}


def _linear(tensors, prefix, layer):
    """A Keras Dense (kernel (in, out)) as nn.Linear's `weight` (out, in) and `bias`."""
    tensors[prefix + "weight"] = np.asarray(layer.kernel).T
    tensors[prefix + "bias"] = np.asarray(layer.bias)


def _layer_norm(tensors, prefix, layer):
    tensors[prefix + "weight"] = np.asarray(layer.gamma)
    tensors[prefix + "bias"] = np.asarray(layer.beta)


def bert_tensors(model):
    """`{transformers name: float32 array}` of a `BertBackbone` or `BertPretrainer`."""
    backbone = model.backbone if isinstance(model, BertPretrainer) else model
    embedding = backbone.token_embedding
    hidden = backbone.hidden_dim
    tensors = {
        "bert.embeddings.word_embeddings.weight": np.asarray(embedding.embeddings),
        "bert.embeddings.position_embeddings.weight": np.asarray(embedding.position_embedding.embeddings),
        "bert.embeddings.token_type_embeddings.weight": np.asarray(embedding.segment_embedding.embeddings),
    }
    _layer_norm(tensors, "bert.embeddings.LayerNorm.", backbone.embeddings_layer_norm)
    for index, block in enumerate(backbone.transformer_layers):
        prefix = f"bert.encoder.layer.{index}."
        attention = block.self_attention
        for part, kernel, bias in (
            ("query", attention.query_kernel, attention.query_bias),
            ("key", attention.key_kernel, attention.key_bias),
            ("value", attention.value_kernel, attention.value_bias),
        ):
            tensors[f"{prefix}attention.self.{part}.weight"] = np.asarray(kernel).reshape(hidden, hidden).T
            tensors[f"{prefix}attention.self.{part}.bias"] = np.asarray(bias).reshape(hidden)
        tensors[prefix + "attention.output.dense.weight"] = np.asarray(attention.output_kernel).reshape(hidden, hidden).T
        tensors[prefix + "attention.output.dense.bias"] = np.asarray(attention.output_bias)
        _layer_norm(tensors, prefix + "attention.output.LayerNorm.", block.self_attention_norm)
        feed_forward = block.feed_forward
        tensors[prefix + "intermediate.dense.weight"] = np.asarray(feed_forward.intermediate_kernel).T
        tensors[prefix + "intermediate.dense.bias"] = np.asarray(feed_forward.intermediate_bias)
        tensors[prefix + "output.dense.weight"] = np.asarray(feed_forward.output_kernel).T
        tensors[prefix + "output.dense.bias"] = np.asarray(feed_forward.output_bias)
        _layer_norm(tensors, prefix + "output.LayerNorm.", block.feed_forward_norm)
    _linear(tensors, "bert.pooler.dense.", backbone.pooler)
    if isinstance(model, BertPretrainer):
        _linear(tensors, "cls.predictions.transform.dense.", model.mlm_dense)
        _layer_norm(tensors, "cls.predictions.transform.LayerNorm.", model.mlm_layer_norm)
        tensors["cls.predictions.bias"] = np.asarray(model.mlm_bias.bias)
        _linear(tensors, "cls.seq_relationship.", model.nsp_head)
    return {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in tensors.items()}


def bert_config(model):
    """transformers' `BertConfig` fields for the model's backbone."""
    backbone = model.backbone if isinstance(model, BertPretrainer) else model
    if backbone.activation not in HIDDEN_ACT:
        raise ValueError(f"activation {backbone.activation!r} has no transformers name (known: {', '.join(HIDDEN_ACT)}).")
    return {
        "architectures": ["BertForPreTraining" if isinstance(model, BertPretrainer) else "BertModel"],
        "model_type": "bert",
        "vocab_size": int(backbone.vocabulary_size),
        "hidden_size": int(backbone.hidden_dim),
        "num_hidden_layers": int(backbone.num_layers),
        "num_attention_heads": int(backbone.num_heads),
        "intermediate_size": int(backbone.intermediate_dim),
        "hidden_act": HIDDEN_ACT[backbone.activation],
        "hidden_dropout_prob": float(backbone.dropout),
        "attention_probs_dropout_prob": float(backbone.dropout),
        "max_position_embeddings": int(backbone.max_sequence_length),
        "type_vocab_size": int(backbone.num_segments),
        "layer_norm_eps": float(backbone.layer_norm_epsilon),
        "initializer_range": 0.02,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
    }


def _tokenizer_files(directory, tokenizer, max_length):
    vocabulary = [str(token) for token in tokenizer.get_vocabulary()]
    files.write_text(os.path.join(directory, "vocab.txt"), "".join(token + "\n" for token in vocabulary))
    specials = {
        "unk_token": tokenizer.unknown_token, "pad_token": tokenizer.padding_token, "cls_token": tokenizer.cls_token,
        "sep_token": tokenizer.sep_token, "mask_token": tokenizer.mask_token,
    }  # fmt: skip
    files.write_json(os.path.join(directory, "special_tokens_map.json"), specials)
    files.write_json(
        os.path.join(directory, "tokenizer_config.json"),
        dict(specials, tokenizer_class="BertTokenizer", do_lower_case=bool(tokenizer.lowercase),
             model_max_length=int(max_length)),
    )  # fmt: skip


def save_pretrained(model, directory, tokenizer=None):
    """Writes `model` (a `BertBackbone` or `BertPretrainer`) as a Hugging Face BERT checkpoint.

    Args:
        model: The model; a `BertClassifier` is refused (save its `.backbone`).
        directory: The checkpoint directory, replaced as a whole.
        tokenizer: A `WordPieceTokenizer` whose vocabulary is the model's (its
            size must be the model's `vocabulary_size`), written beside it.

    Returns:
        `directory`.
    """
    from safetensors.numpy import save_file

    if isinstance(model, BertClassifier) or not isinstance(model, (BertBackbone, BertPretrainer)):
        raise ValueError(
            f"save_pretrained writes a BertBackbone or BertPretrainer; got {type(model).__name__}"
            + (" (save its .backbone)." if isinstance(model, BertClassifier) else ".")
        )
    config = bert_config(model)
    if tokenizer is not None:
        if not hasattr(tokenizer, "mask_token"):
            raise ValueError(f"tokenizer must be a WordPieceTokenizer; got {type(tokenizer).__name__}.")
        if tokenizer.vocabulary_size() != config["vocab_size"]:
            raise ValueError(
                f"The tokenizer has {tokenizer.vocabulary_size()} tokens, the model {config['vocab_size']}."
            )
    with files.replacing_directory(directory) as staging:
        save_file(bert_tensors(model), os.path.join(staging, "model.safetensors"), metadata={"format": "pt"})
        files.write_json(os.path.join(staging, "config.json"), config)
        if tokenizer is not None:
            _tokenizer_files(staging, tokenizer, config["max_position_embeddings"])
    return os.path.abspath(os.fspath(directory))
