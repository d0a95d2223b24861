import keras

from kerasnets.layers.token_and_position_embedding import TokenAndPositionEmbedding
from kerasnets.layers.transformer_decoder_block import TransformerDecoderBlock
from kerasnets.layers.transformer_encoder_block import TransformerEncoderBlock
from kerasnets.models.presets import with_presets

PRESETS = {
    # Vaswani et al. 2017, Table 3 "base": shared 37k BPE vocabulary, three-way tied embeddings.
    "transformer_base": dict(
        vocabulary_size=37000,
        num_layers=6,
        num_heads=8,
        hidden_dim=512,
        intermediate_dim=2048,
        dropout=0.1,
        max_sequence_length=256,
    ),
}


@with_presets(PRESETS)
def transformer(
    *,
    vocabulary_size=8000,
    target_vocabulary_size=None,
    num_layers=2,
    num_heads=4,
    hidden_dim=128,
    intermediate_dim=512,
    max_sequence_length=128,
    dropout=0.1,
    tie_embeddings=True,
    layer_norm_epsilon=1e-6,
    name="transformer",
):
    """The Transformer encoder–decoder of Vaswani et al. 2017 ("Attention Is All You Need").

        x = Dropout(√d · E_src[source] + PE)            → N × TransformerEncoderBlock → memory
        y = Dropout(√d · E_tgt[target] + PE)            → N × TransformerDecoderBlock(·, memory)
        p(next target token) = softmax(y W_out)

    Post-LN blocks, sinusoidal positional encoding, ReLU feed-forward. Token
    id 0 is padding on both sides (never attended to). With one vocabulary
    (`target_vocabulary_size=None`) the source and target embeddings are one
    table, and with `tie_embeddings` the output projection is that table too
    (`W_out = Eᵀ`, §3.4). Trained with teacher forcing: the decoder reads
    the target shifted right and predicts every next token at once.

    Args:
        preset: "transformer_base" for the paper's base model; explicit
            arguments override the preset's.
        vocabulary_size: Source vocabulary (and target, when shared).
        target_vocabulary_size: A separate target vocabulary, or None to share.
        num_layers: Encoder blocks, and decoder blocks (N).
        num_heads: Attention heads (h).
        hidden_dim: Model width (d_model).
        intermediate_dim: Feed-forward width (d_ff).
        max_sequence_length: Longest source or target sequence.
        dropout: Rate for embeddings, residuals and attention (P_drop).
        tie_embeddings: Use the target embedding as the output projection.
        layer_norm_epsilon: Epsilon of the layer normalisations.
        name: Model name.

    Returns:
        A Functional model: `encoder_token_ids`, `decoder_token_ids` →
        `probabilities` of shape `(B, T_target, target vocabulary)`.
    """

    def embedding(vocabulary, layer_name):
        return TokenAndPositionEmbedding(
            vocabulary,
            max_sequence_length,
            hidden_dim,
            position_encoding="sinusoidal",
            scale_embeddings=True,
            mask_zero=True,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=hidden_dim**-0.5),
            name=layer_name,
        )

    block_kwargs = dict(
        intermediate_dim=intermediate_dim,
        num_heads=num_heads,
        dropout=dropout,
        layer_norm_epsilon=layer_norm_epsilon,
    )
    encoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_token_ids")
    decoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_token_ids")

    if target_vocabulary_size is None:
        source_embedding = target_embedding = embedding(vocabulary_size, "shared_embedding")
        target_vocabulary_size = vocabulary_size
    else:
        source_embedding = embedding(vocabulary_size, "encoder_embedding")
        target_embedding = embedding(target_vocabulary_size, "decoder_embedding")

    x = source_embedding(encoder_token_ids)
    x = keras.layers.Dropout(dropout, name="encoder_embedding_dropout")(x)
    for index in range(num_layers):
        x = TransformerEncoderBlock(name=f"encoder_block_{index}", **block_kwargs)(x)
    memory = x

    y = target_embedding(decoder_token_ids)
    y = keras.layers.Dropout(dropout, name="decoder_embedding_dropout")(y)
    for index in range(num_layers):
        y = TransformerDecoderBlock(name=f"decoder_block_{index}", **block_kwargs)(y, memory)

    if tie_embeddings:
        logits = target_embedding(y, reverse=True)
    else:
        logits = keras.layers.Dense(target_vocabulary_size, name="output_projection")(y)
    probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    return keras.Model(
        {"encoder_token_ids": encoder_token_ids, "decoder_token_ids": decoder_token_ids},
        probabilities,
        name=name,
    )
