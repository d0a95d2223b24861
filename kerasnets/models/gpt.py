import keras

from kerasnets.layers.token_and_position_embedding import TokenAndPositionEmbedding
from kerasnets.layers.transformer_decoder_block import TransformerDecoderBlock
from kerasnets.models.presets import with_presets

PRESETS = {
    # GPT-2 small (Radford et al. 2019): 124,439,808 parameters with the tied head.
    "gpt2": dict(
        vocabulary_size=50257,
        max_sequence_length=1024,
        num_layers=12,
        num_heads=12,
        hidden_dim=768,
        intermediate_dim=3072,
        dropout=0.1,
    ),
}


@with_presets(PRESETS)
def gpt(
    *,
    vocabulary_size=50257,
    num_layers=4,
    num_heads=4,
    hidden_dim=128,
    intermediate_dim=512,
    max_sequence_length=256,
    dropout=0.1,
    tie_embeddings=True,
    layer_norm_epsilon=1e-5,
    name="gpt",
):
    """GPT: a decoder-only causal language model (Radford et al. 2018, 2019).

        x_0 = Dropout(E[token_ids] + P[t])
        x_l = x_{l-1} + Attn(LN(x_{l-1}));  x_l += FFN(LN(x_l))     (pre-LN, causal, GELU)
        p(token_{t+1} | tokens_≤t) = softmax(LN(x_N) Eᵀ)            (tied head)

    Every position predicts the next token; the causal mask guarantees that
    position t never sees a later token. The defaults are a small model that
    trains on a CPU; `preset="gpt2"` is GPT-2 small.

    Args:
        preset: "gpt2"; explicit arguments override it.
        vocabulary_size: Number of token ids.
        num_layers: Decoder blocks.
        num_heads: Attention heads.
        hidden_dim: Model width.
        intermediate_dim: Feed-forward width (4 × hidden_dim in GPT-2).
        max_sequence_length: Context length (position embeddings).
        dropout: Dropout on embeddings, residuals and attention.
        tie_embeddings: Project onto the vocabulary with the token embedding
            (no extra weights); otherwise a separate bias-free projection.
        layer_norm_epsilon: Epsilon of the layer normalisations.
        name: Model name.

    Returns:
        A Functional model: `token_ids` `(B, T)` → `probabilities` `(B, T, vocabulary)`.
    """
    initializer = keras.initializers.RandomNormal(stddev=0.02)
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    embedding = TokenAndPositionEmbedding(
        vocabulary_size, max_sequence_length, hidden_dim, embeddings_initializer=initializer, name="embeddings"
    )
    x = keras.layers.Dropout(dropout, name="embeddings_dropout")(embedding(token_ids))
    for index in range(num_layers):
        x = TransformerDecoderBlock(
            intermediate_dim,
            num_heads,
            dropout=dropout,
            activation="gelu",
            layer_norm_epsilon=layer_norm_epsilon,
            normalize_first=True,
            kernel_initializer=initializer,
            name=f"decoder_block_{index}",
        )(x)
    x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="final_layer_norm")(x)
    if tie_embeddings:
        logits = embedding(x, reverse=True)
    else:
        logits = keras.layers.Dense(vocabulary_size, use_bias=False, kernel_initializer=initializer, name="lm_head")(x)
    probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    return keras.Model(token_ids, probabilities, name=name)
