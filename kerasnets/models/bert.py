import keras
from keras import ops

from kerasnets.layers.bias_add import BiasAdd
from kerasnets.layers.token_and_position_embedding import TokenAndPositionEmbedding
from kerasnets.layers.transformer_encoder_block import TransformerEncoderBlock
from kerasnets.models.presets import with_presets

_BERT_COMMON = dict(vocabulary_size=30522, max_sequence_length=512, num_segments=2, dropout=0.1)
PRESETS = {
    # Devlin et al. 2019: 109,482,240 parameters in the backbone.
    "bert_base_uncased": dict(_BERT_COMMON, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
    # The small BERTs of Turc et al. 2019 ("Well-Read Students Learn Better"); heads = H / 64.
    "bert_tiny": dict(_BERT_COMMON, num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512),
    "bert_mini": dict(_BERT_COMMON, num_layers=4, num_heads=4, hidden_dim=256, intermediate_dim=1024),
    "bert_small": dict(_BERT_COMMON, num_layers=4, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "bert_medium": dict(_BERT_COMMON, num_layers=8, num_heads=8, hidden_dim=512, intermediate_dim=2048),
}
HEADS = (None, "pretraining", "classifier")


@with_presets(PRESETS)
def bert(
    *,
    head=None,
    num_classes=2,
    vocabulary_size=30522,
    num_layers=2,
    num_heads=2,
    hidden_dim=128,
    intermediate_dim=512,
    max_sequence_length=512,
    num_segments=2,
    dropout=0.1,
    layer_norm_epsilon=1e-12,
    name="bert",
):
    """BERT (Devlin et al. 2019): a bidirectional Transformer encoder.

        x = Dropout(LayerNorm(E_tok[token_ids] + E_pos[t] + E_seg[segment_ids]))
        h = N × TransformerEncoderBlock(x, padding_mask)        (post-LN, GELU)
        pooled = tanh(h[:, 0] W_p + b_p)                         (the [CLS] token)

    Heads:
      * None (default): the backbone; outputs `sequence_output` `(B, T, H)`
        and `pooled_output` `(B, H)`.
      * "pretraining": adds the masked-LM head, read at `mask_positions`:
        `softmax(LayerNorm(GELU(h W + b)) E_tokᵀ + b_mlm)` with the decoder
        tied to the word embeddings and a bias of its own, and the 2-way
        next-sentence head `softmax(pooled W_nsp + b)`. Outputs
        `mlm_probabilities` `(B, P, vocabulary)` and `nsp_probabilities` `(B, 2)`.
      * "classifier": `softmax(Dropout(pooled) W + b)`, output `probabilities`.

    The defaults are BERT-Tiny (L=2, H=128, A=2); `preset` names the
    published sizes: bert_base_uncased, bert_tiny, bert_mini, bert_small,
    bert_medium.

    Args:
        preset: A name from `PRESETS`; explicit arguments override it.
        head: None, "pretraining" or "classifier".
        num_classes: Classes of the "classifier" head.
        vocabulary_size: WordPiece vocabulary (0 = [PAD]).
        num_layers: Encoder blocks (L).
        num_heads: Attention heads (A).
        hidden_dim: Hidden size (H).
        intermediate_dim: Feed-forward size (4H in the paper).
        max_sequence_length: Position embeddings.
        num_segments: Segment (token type) embeddings; 2 for sentence pairs.
        dropout: Dropout everywhere (0.1 in the paper).
        layer_norm_epsilon: Epsilon of every layer normalisation.
        name: Model name.

    Returns:
        A Functional model with inputs `token_ids`, `segment_ids`,
        `padding_mask` (1 for real tokens), plus `mask_positions` for the
        pre-training head.
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(map(str, HEADS))}; got '{head}'.")
    initializer = keras.initializers.TruncatedNormal(stddev=0.02)
    inputs = {
        "token_ids": keras.Input(shape=(None,), dtype="int32", name="token_ids"),
        "segment_ids": keras.Input(shape=(None,), dtype="int32", name="segment_ids"),
        "padding_mask": keras.Input(shape=(None,), dtype="int32", name="padding_mask"),
    }
    embedding = TokenAndPositionEmbedding(
        vocabulary_size,
        max_sequence_length,
        hidden_dim,
        num_segments=num_segments,
        embeddings_initializer=initializer,
        name="embeddings",
    )
    x = embedding(inputs["token_ids"], segment_ids=inputs["segment_ids"])
    x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="embeddings_layer_norm")(x)
    x = keras.layers.Dropout(dropout, name="embeddings_dropout")(x)
    padding_mask = ops.cast(inputs["padding_mask"], "bool")
    for index in range(num_layers):
        x = TransformerEncoderBlock(
            intermediate_dim,
            num_heads,
            dropout=dropout,
            activation="gelu",
            layer_norm_epsilon=layer_norm_epsilon,
            kernel_initializer=initializer,
            name=f"encoder_block_{index}",
        )(x, padding_mask=padding_mask)
    sequence_output = x
    pooled_output = keras.layers.Dense(hidden_dim, activation="tanh", kernel_initializer=initializer, name="pooler")(
        sequence_output[:, 0, :]
    )

    if head is None:
        outputs = {"sequence_output": sequence_output, "pooled_output": pooled_output}
    elif head == "classifier":
        x = keras.layers.Dropout(dropout, name="classifier_dropout")(pooled_output)
        outputs = keras.layers.Dense(
            num_classes, activation="softmax", kernel_initializer=initializer, dtype="float32", name="probabilities"
        )(x)
    else:
        inputs["mask_positions"] = keras.Input(shape=(None,), dtype="int32", name="mask_positions")
        masked = ops.take_along_axis(sequence_output, ops.expand_dims(inputs["mask_positions"], -1), axis=1)
        h = keras.layers.Dense(hidden_dim, activation="gelu", kernel_initializer=initializer, name="mlm_dense")(masked)
        h = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="mlm_layer_norm")(h)
        logits = BiasAdd(name="mlm_bias")(embedding(h, reverse=True))
        outputs = {
            "mlm_probabilities": keras.layers.Activation("softmax", dtype="float32", name="mlm_probabilities")(logits),
            "nsp_probabilities": keras.layers.Dense(
                2, activation="softmax", kernel_initializer=initializer, dtype="float32", name="nsp_probabilities"
            )(pooled_output),
        }
    return keras.Model(inputs, outputs, name=name)
