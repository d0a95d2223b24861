import math

import keras
from keras import ops

from kerasnets.ops import masked_softmax


@keras.saving.register_keras_serializable(package="kerasnets")
class ScaledDotProductAttention(keras.layers.Layer):
    """Scaled dot-product attention (Vaswani et al. 2017, §3.2.1).

        Attention(Q, K, V) = masked_softmax(Q Kᵀ / √d_k, mask) V

    `query` has shape `(..., T_q, d_k)`, `key` `(..., T_k, d_k)` and `value`
    `(..., T_k, d_v)`; any leading axes (batch, heads) are carried through.
    Positions where `mask` is False get zero weight (`kerasnets.ops.masked_softmax`).
    A query row whose keys are all masked attends to nothing: its weights and
    its output are zeros (not NaN, not a uniform average).

    The layer has no weights; `MultiHeadAttention` uses it for each head.

    Args:
        dropout: Dropout rate on the attention weights (training only).
        scale: Multiplier for `Q Kᵀ`; `None` means `1 / √d_k`.
        seed: Seed for the dropout.

    Call arguments:
        query, key, value: Tensors as above.
        mask: Optional boolean tensor broadcastable to `(..., T_q, T_k)`;
            True means "may attend".
        return_attention_scores: Also return the weights `(..., T_q, T_k)`.
        training: Whether dropout is active.

    Example:

    >>> q = keras.random.normal((2, 5, 16))
    >>> kv = keras.random.normal((2, 7, 16))
    >>> out, weights = ScaledDotProductAttention()(q, kv, kv, return_attention_scores=True)
    >>> out.shape, weights.shape
    ((2, 5, 16), (2, 5, 7))
    """

    def __init__(self, dropout=0.0, scale=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.dropout = dropout
        self.scale = scale
        self.seed = seed
        self.supports_masking = True
        self._dropout_layer = keras.layers.Dropout(dropout, seed=seed, dtype=self.dtype_policy)

    def build(self, query_shape, key_shape=None, value_shape=None):
        self.built = True  # no weights; defined so callers may build with three shapes

    def call(self, query, key, value, mask=None, return_attention_scores=False, training=None):
        scale = self.scale if self.scale is not None else 1.0 / math.sqrt(query.shape[-1])
        scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) * ops.cast(scale, query.dtype)
        weights = masked_softmax(scores, mask, axis=-1)
        dropped = self._dropout_layer(weights, training=training)
        outputs = ops.matmul(dropped, value)
        if return_attention_scores:
            return outputs, weights
        return outputs

    def compute_mask(self, query, previous_mask=None):
        # `mask` is an attention mask, not a sequence mask: nothing to propagate.
        return None

    def compute_output_shape(self, query_shape, key_shape, value_shape):
        return tuple(query_shape[:-1]) + (value_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({"dropout": self.dropout, "scale": self.scale, "seed": self.seed})
        return config
