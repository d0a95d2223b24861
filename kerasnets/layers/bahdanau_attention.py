import keras
from keras import ops

from kerasnets.layers.initializers import clone_initializer
from kerasnets.ops import masked_softmax


def resolve_attention_masks(mask, query_mask, value_mask):
    """(query_mask, key_mask) from the `mask` call argument and the Keras masks.

    `mask` is either a `(B, T_k)` key mask or a pair `[query_mask,
    value_mask]` as taken by `keras.layers.AdditiveAttention`; it overrides
    the masks that Keras fills in from the inputs.
    """
    if isinstance(mask, (list, tuple)):
        query_mask, value_mask = mask
    elif mask is not None:
        value_mask = mask
    return query_mask, value_mask


def attend(scores, value, key_mask=None):
    """`masked_softmax` over the keys of `scores` (B, T_q, T_k), then the weighted sum of `value`.

    Masked keys (False in `key_mask` (B, T_k)) get exactly zero weight; a
    query whose keys are all masked gets zero weights and a zero context.
    Returns `(context (B, T_q, d_v), weights (B, T_q, T_k))`.
    """
    if key_mask is not None:
        key_mask = ops.expand_dims(key_mask, 1)  # (B, 1, T_k): same for every query
    weights = masked_softmax(scores, key_mask, axis=-1)
    return ops.matmul(weights, value), weights


@keras.saving.register_keras_serializable(package="kerasnets")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention for encoder–decoder models (Bahdanau et al. 2015).

        score(q_i, k_j) = vᵀ tanh(q_i W_q + k_j W_k + b)
        α_ij = masked_softmax_j score(q_i, k_j)          (over unmasked keys)
        context_i = Σ_j α_ij k_j

    The queries are decoder states, the keys and values are the same
    encoder outputs. Weights: `query_kernel` W_q `(d_q, units)`,
    `key_kernel` W_k `(d_v, units)`, `bias` b `(units,)` and
    `score_vector` v `(units,)`.

    Masks: keys whose `value_mask` is False get zero weight (a query with no
    key left gets a zero context). When the layer is called on tensors that
    carry Keras masks (e.g. from `Embedding(mask_zero=True)` through an RNN
    with `return_sequences`), Keras passes them in as `query_mask` and
    `value_mask`, so padding is handled without further ado; the query's
    mask is passed on to the output. An explicit `mask` overrides them: a
    `(B, T_k)` key mask, or `[query_mask, value_mask]` as for
    `keras.layers.AdditiveAttention`. The query mask does not change the
    output values, only the mask passed on.

    Args:
        units: Width of the hidden layer of the score network.
        use_bias: Whether to add b inside the tanh.
        kernel_initializer: For W_q, W_k and v.
        bias_initializer: For b.
        kernel_regularizer, bias_regularizer: Optional regularizers.

    Call arguments:
        query: `(B, T_q, d_q)` decoder states.
        value: `(B, T_k, d_v)` encoder outputs (keys and values).
        mask: Optional key mask `(B, T_k)` or `[query_mask, value_mask]`;
            True = real token.
        return_attention_scores: Also return the weights α `(B, T_q, T_k)`.
        query_mask, value_mask: Filled in by Keras from the inputs' masks.

    Example:

    >>> attention = BahdanauAttention(32)
    >>> decoder_states = keras.random.normal((2, 5, 16))
    >>> encoder_outputs = keras.random.normal((2, 9, 24))
    >>> context, weights = attention(decoder_states, encoder_outputs, return_attention_scores=True)
    >>> context.shape, weights.shape
    ((2, 5, 24), (2, 5, 9))
    """

    def __init__(
        self,
        units,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.supports_masking = True

    def build(self, query_shape, value_shape=None):
        value_shape = query_shape if value_shape is None else value_shape

        def kernel(name, shape):
            # A copy of the initializer each, or W_q, W_k and v would start equal.
            return self.add_weight(
                name=name,
                shape=shape,
                initializer=clone_initializer(self.kernel_initializer, f"{self.name}/{name}"),
                regularizer=self.kernel_regularizer,
            )

        self.query_kernel = kernel("query_kernel", (query_shape[-1], self.units))
        self.key_kernel = kernel("key_kernel", (value_shape[-1], self.units))
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=clone_initializer(self.bias_initializer, f"{self.name}/bias"),
                regularizer=self.bias_regularizer,
            )
        else:
            self.bias = None
        self.score_vector = kernel("score_vector", (self.units,))
        self.built = True

    def __call__(self, query, value, mask=None, **kwargs):
        # Keras passes `mask` on as the output's mask; a key mask is not one, so
        # hand it over as `value_mask` and let the query's Keras mask through.
        if mask is not None and not isinstance(mask, (list, tuple)):
            kwargs["value_mask"], mask = mask, None
        return super().__call__(query, value, mask=mask, **kwargs)

    def call(self, query, value, mask=None, return_attention_scores=False, query_mask=None, value_mask=None):
        _, key_mask = resolve_attention_masks(mask, query_mask, value_mask)
        projected_query = ops.matmul(query, self.query_kernel)  # (B, T_q, units)
        projected_keys = ops.matmul(value, self.key_kernel)  # (B, T_k, units)
        # Every (query, key) pair: (B, T_q, 1, units) + (B, 1, T_k, units).
        hidden = ops.expand_dims(projected_query, 2) + ops.expand_dims(projected_keys, 1)
        if self.use_bias:
            hidden = hidden + self.bias
        scores = ops.tensordot(ops.tanh(hidden), self.score_vector, axes=1)  # (B, T_q, T_k)
        context, weights = attend(scores, value, key_mask)
        if return_attention_scores:
            return context, weights
        return context

    def compute_mask(self, query, previous_mask=None):
        # The context is aligned with the queries: pass the query mask on.
        if isinstance(previous_mask, (list, tuple)):
            return previous_mask[0]
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            }
        )
        return config
