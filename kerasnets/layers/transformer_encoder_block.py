import keras

from kerasnets.layers.arguments import positive_int
from kerasnets.layers.feed_forward import FeedForward
from kerasnets.layers.multi_head_attention import MultiHeadAttention


def head_size(layer, hidden_dim):
    if hidden_dim % layer.num_heads:
        raise ValueError(
            f"{layer.name}: the hidden size {hidden_dim} must be divisible by num_heads={layer.num_heads}."
        )
    return hidden_dim // layer.num_heads


def residual(x, sublayer, norm, dropout, normalize_first, training):
    """One Transformer sub-layer with its residual connection.

    post-LN (the paper):  LayerNorm(x + Dropout(sublayer(x)))
    pre-LN  (GPT-2):      x + Dropout(sublayer(LayerNorm(x)))
    """
    y = sublayer(norm(x) if normalize_first else x)
    y = x + dropout(y, training=training)
    return y if normalize_first else norm(y)


class _TransformerBlock(keras.layers.Layer):
    """Arguments and config shared by the encoder and decoder blocks."""

    def __init__(
        self,
        intermediate_dim,
        num_heads,
        dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
        normalize_first=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = positive_int(intermediate_dim, "intermediate_dim")
        self.num_heads = positive_int(num_heads, "num_heads")
        self.dropout = dropout
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.normalize_first = normalize_first
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True
        self.feed_forward = FeedForward(
            intermediate_dim,
            activation=self.activation,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward_norm = self._layer_norm("feed_forward_norm")
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="residual_dropout")

    def _layer_norm(self, name):
        return keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name)

    def _attention(self, name):
        # key_dim is a placeholder until build() knows the hidden size.
        return MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=1,
            dropout=self.dropout,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def _build_attention(self, attention, query_shape, value_shape):
        attention.key_dim = attention.value_dim = head_size(self, query_shape[-1])
        attention.build(query_shape, value_shape)

    def _build_feed_forward(self, shape):
        self.feed_forward.build(shape)
        self.feed_forward_norm.build(shape)

    def _feed_forward(self, x, training):
        return residual(x, self.feed_forward, self.feed_forward_norm, self.dropout_layer, self.normalize_first, training)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "normalize_first": self.normalize_first,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="kerasnets")
class TransformerEncoderBlock(_TransformerBlock):
    """One Transformer encoder layer (Vaswani et al. 2017, §3.1).

        x = LayerNorm(x + Dropout(MultiHeadAttention(x, x, x)))
        x = LayerNorm(x + Dropout(FFN(x)))

    That is post-LN, as in the paper; `normalize_first=True` gives pre-LN,
    `x + Dropout(Sublayer(LayerNorm(x)))`. Self-attention is bidirectional;
    padded positions are never attended to. The head size is
    `hidden_dim / num_heads`, with `hidden_dim` read from the input in `build()`.

    Args:
        intermediate_dim: Width of the feed-forward layer (d_ff).
        num_heads: Number of attention heads.
        dropout: Rate for the residual and attention dropout.
        activation: Feed-forward activation.
        layer_norm_epsilon: Epsilon of the layer normalisations.
        normalize_first: Pre-LN instead of post-LN.
        kernel_initializer, bias_initializer: For every projection.

    Call arguments:
        inputs: `(B, T, hidden_dim)`.
        padding_mask: Optional boolean `(B, T)`, True for real tokens.
            Defaults to the Keras mask of `inputs` (e.g. from
            `Embedding(mask_zero=True)`), which Keras passes as `mask`.
        attention_mask: Optional boolean `(B, T, T)`.
        return_attention_scores: Also return the `(B, H, T, T)` weights.
        training: Whether dropout is active.

    Example:

    >>> block = TransformerEncoderBlock(intermediate_dim=128, num_heads=4)
    >>> block(keras.ops.ones((2, 10, 64)), padding_mask=keras.ops.ones((2, 10), "bool")).shape
    (2, 10, 64)
    """

    def __init__(self, intermediate_dim, num_heads, **kwargs):
        super().__init__(intermediate_dim, num_heads, **kwargs)
        self.self_attention = self._attention("self_attention")
        self.self_attention_norm = self._layer_norm("self_attention_norm")

    def build(self, input_shape):
        self._build_attention(self.self_attention, input_shape, input_shape)
        self.self_attention_norm.build(input_shape)
        self._build_feed_forward(input_shape)
        self.built = True

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        mask=None,
    ):
        padding_mask = mask if padding_mask is None else padding_mask
        scores = []

        def attend(x):
            output, weights = self.self_attention(
                x,
                x,
                query_mask=padding_mask,  # explicit, so Keras masks on `x` cannot add one
                value_mask=padding_mask,
                attention_mask=attention_mask,
                return_attention_scores=True,
                training=training,
            )
            scores.append(weights)
            return output

        x = residual(inputs, attend, self.self_attention_norm, self.dropout_layer, self.normalize_first, training)
        x = self._feed_forward(x, training)
        return (x, scores[0]) if return_attention_scores else x


