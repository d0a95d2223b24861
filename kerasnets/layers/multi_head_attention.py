import keras
from keras import ops

from kerasnets.layers.scaled_dot_product_attention import ScaledDotProductAttention


def causal_mask(query_length, key_length):
    """Boolean `(1, T_q, T_k)` mask: query i may attend to keys j ≤ i."""
    rows = ops.expand_dims(ops.arange(query_length), -1)
    cols = ops.expand_dims(ops.arange(key_length), 0)
    return ops.expand_dims(rows >= cols, 0)


@keras.saving.register_keras_serializable(package="kerasnets")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention (Vaswani et al. 2017, §3.2.2).

        head_h = Attention(Q W_h^Q, K W_h^K, V W_h^V)       for h = 1 … H
        MultiHead(Q, K, V) = Concat(head_1, …, head_H) W^O

    where `Attention` is `softmax(Q Kᵀ / √d_k) V` (`ScaledDotProductAttention`).

    A drop-in for `keras.layers.MultiHeadAttention`: the same constructor and
    call arguments, the same weights in the same order and shapes
    (`query/key/value` kernels `(d_in, H, key_dim)` with biases `(H, key_dim)`,
    output kernel `(H, value_dim, d_out)` with bias `(d_out,)`), so
    `ours.set_weights(theirs.get_weights())` reproduces its outputs.
    Keras masks on `query`, `value` and `key` (e.g. from
    `Embedding(mask_zero=True)`) are honoured and the query's mask is passed on.

    One difference: a query position that may attend to no key at all (a
    padded query) outputs the output bias alone, where the Keras layer
    outputs a uniform average of the values.

    Args:
        num_heads: Number of heads H.
        key_dim: Size of each head for query and key.
        value_dim: Size of each head for value; defaults to `key_dim`.
        dropout: Dropout rate on the attention weights.
        use_bias: Whether the projections have biases.
        output_shape: Last dimension of the output (an int or a 1-tuple);
            defaults to the query's last dimension.
        attention_axes: Only `None` (attend over the sequence axis) is supported.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: as for `Dense`.
        seed: Seed for the dropout.

    Call arguments:
        query: `(B, T_q, d_q)`.
        value: `(B, T_k, d_v)`.
        key: `(B, T_k, d_k)`; defaults to `value`.
        query_mask, value_mask, key_mask: Optional boolean `(B, T)` padding
            masks (filled in from Keras masks automatically).
        attention_mask: Optional boolean `(B, T_q, T_k)`; True = may attend.
        return_attention_scores: Also return the weights `(B, H, T_q, T_k)`.
        training: Whether dropout is active.
        use_causal_mask: Forbid attending to later positions.

    Example:

    >>> mha = MultiHeadAttention(num_heads=4, key_dim=8)
    >>> x = keras.random.normal((2, 10, 32))
    >>> mha(x, x, use_causal_mask=True).shape
    (2, 10, 32)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if attention_axes is not None:
            raise ValueError(
                "kerasnets MultiHeadAttention attends over the sequence axis only; "
                f"attention_axes must be None, got {attention_axes}."
            )
        if isinstance(output_shape, (tuple, list)):
            if len(output_shape) != 1:
                raise ValueError(f"output_shape must be an int or a 1-tuple, got {output_shape}.")
            output_shape = output_shape[0]
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim if value_dim is not None else key_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.output_dim = output_shape
        self.seed = seed
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.supports_masking = True
        self._attention = ScaledDotProductAttention(
            dropout=dropout, seed=seed, dtype=self.dtype_policy, name="attention"
        )

    def _kernel(self, name, shape):
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def _bias(self, name, shape):
        if not self.use_bias:
            return None
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        heads = self.num_heads
        output_dim = self.output_dim or query_shape[-1]
        # Created in the order keras.layers.MultiHeadAttention creates them.
        self.query_kernel = self._kernel("query_kernel", (query_shape[-1], heads, self.key_dim))
        self.query_bias = self._bias("query_bias", (heads, self.key_dim))
        self.key_kernel = self._kernel("key_kernel", (key_shape[-1], heads, self.key_dim))
        self.key_bias = self._bias("key_bias", (heads, self.key_dim))
        self.value_kernel = self._kernel("value_kernel", (value_shape[-1], heads, self.value_dim))
        self.value_bias = self._bias("value_bias", (heads, self.value_dim))
        self.output_kernel = self._kernel("output_kernel", (heads, self.value_dim, output_dim))
        self.output_bias = self._bias("output_bias", (output_dim,))
        self._attention.build(
            (None, heads, query_shape[1], self.key_dim),
            (None, heads, key_shape[1], self.key_dim),
            (None, heads, value_shape[1], self.value_dim),
        )
        self.built = True

    def _project(self, x, kernel, bias):
        # (B, T, d) x (d, H, k) -> (B, H, T, k): one head per slice of axis 1.
        projected = ops.einsum("btd,dhk->bhtk", x, kernel)
        if bias is not None:
            projected = projected + ops.expand_dims(bias, 1)
        return projected

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        if key is None:
            key = value
            key_mask = None  # the value's mask already covers the keys
        mask = self._combined_mask(
            query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask
        )
        if mask is not None:
            mask = ops.expand_dims(mask, 1)  # broadcast over heads
        q = self._project(query, self.query_kernel, self.query_bias)
        k = self._project(key, self.key_kernel, self.key_bias)
        v = self._project(value, self.value_kernel, self.value_bias)
        heads, weights = self._attention(
            q, k, v, mask=mask, return_attention_scores=True, training=training
        )
        outputs = ops.einsum("bhtv,hvo->bto", heads, self.output_kernel)
        if self.output_bias is not None:
            outputs = outputs + self.output_bias
        if return_attention_scores:
            return outputs, weights
        return outputs

    @staticmethod
    def _combined_mask(query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        """AND of every mask given, as a boolean `(B or 1, T_q, T_k)` tensor, or None."""
        parts = []
        if query_mask is not None:
            parts.append(ops.expand_dims(ops.cast(query_mask, "bool"), -1))
        for padding in (value_mask, key_mask):
            if padding is not None:
                parts.append(ops.expand_dims(ops.cast(padding, "bool"), -2))
        if use_causal_mask:
            parts.append(causal_mask(ops.shape(query)[1], ops.shape(value)[1]))
        if attention_mask is not None:
            parts.append(ops.cast(attention_mask, "bool"))
        if not parts:
            return None
        mask = parts[0]
        for part in parts[1:]:
            mask = ops.logical_and(mask, part)
        return mask

    def compute_mask(self, query, previous_mask=None):
        return previous_mask  # the query's padding mask, passed on unchanged

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        return tuple(query_shape[:-1]) + (self.output_dim or query_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_shape": self.output_dim,
                "attention_axes": None,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "seed": self.seed,
            }
        )
        return config
