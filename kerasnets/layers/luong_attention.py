import keras
from keras import ops

from kerasnets.layers.bahdanau_attention import attend, resolve_attention_masks
from kerasnets.layers.initializers import clone_initializer

SCORES = ("dot", "general")


@keras.saving.register_keras_serializable(package="kerasnets")
class LuongAttention(keras.layers.Layer):
    """Multiplicative (global) attention for encoder–decoder models (Luong et al. 2015).

        score(q_i, k_j) = q_i · k_j           ("dot")
        score(q_i, k_j) = q_i W k_jᵀ          ("general")
        α_ij = masked_softmax_j score(q_i, k_j)   (over unmasked keys)
        context_i = Σ_j α_ij k_j

    The queries are decoder states, the keys and values are the same
    encoder outputs. "dot" has no weights and needs `d_q == d_v`; "general"
    has a `kernel` W `(d_q, d_v)`. In Luong et al. the context is then
    combined with the decoder state as tanh(W_c [context; h]), which the
    `seq2seq` builder does with a `Dense` layer.

    Masks: keys whose `value_mask` is False get zero weight (a query with no
    key left gets a zero context). When the layer is called on tensors that
    carry Keras masks (e.g. from `Embedding(mask_zero=True)` through an RNN
    with `return_sequences`), Keras passes them in as `query_mask` and
    `value_mask`, so padding is handled without further ado; the query's
    mask is passed on to the output. An explicit `mask` overrides them: a
    `(B, T_k)` key mask, or `[query_mask, value_mask]` as for
    `keras.layers.Attention`. The query mask does not change the output
    values, only the mask passed on.

    Args:
        score: "general" (default) or "dot".
        kernel_initializer: For W.
        kernel_regularizer: Optional regularizer for W.

    Call arguments:
        query: `(B, T_q, d_q)` decoder states.
        value: `(B, T_k, d_v)` encoder outputs (keys and values).
        mask: Optional key mask `(B, T_k)` or `[query_mask, value_mask]`;
            True = real token.
        return_attention_scores: Also return the weights α `(B, T_q, T_k)`.
        query_mask, value_mask: Filled in by Keras from the inputs' masks.

    Example:

    >>> attention = LuongAttention(score="general")
    >>> decoder_states = keras.random.normal((2, 5, 16))
    >>> encoder_outputs = keras.random.normal((2, 9, 24))
    >>> context, weights = attention(decoder_states, encoder_outputs, return_attention_scores=True)
    >>> context.shape, weights.shape
    ((2, 5, 24), (2, 5, 9))
    """

    def __init__(self, score="general", kernel_initializer="glorot_uniform", kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(f"Unknown score '{score}'. Valid scores: {', '.join(SCORES)}.")
        self.score = score
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.supports_masking = True

    def build(self, query_shape, value_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        if self.score == "general":
            self.kernel = self.add_weight(
                name="kernel",
                shape=(query_shape[-1], value_shape[-1]),
                # Its own draw, should the initializer object be shared with other layers.
                initializer=clone_initializer(self.kernel_initializer, f"{self.name}/kernel"),
                regularizer=self.kernel_regularizer,
            )
        elif query_shape[-1] != value_shape[-1]:
            raise ValueError(
                'score="dot" needs query and value of the same width. '
                f"Received: query.shape={query_shape}, value.shape={value_shape}"
            )
        self.built = True

    def __call__(self, query, value, mask=None, **kwargs):
        # Keras passes `mask` on as the output's mask; a key mask is not one, so
        # hand it over as `value_mask` and let the query's Keras mask through.
        if mask is not None and not isinstance(mask, (list, tuple)):
            kwargs["value_mask"], mask = mask, None
        return super().__call__(query, value, mask=mask, **kwargs)

    def call(self, query, value, mask=None, return_attention_scores=False, query_mask=None, value_mask=None):
        _, key_mask = resolve_attention_masks(mask, query_mask, value_mask)
        if self.score == "general":
            query = ops.matmul(query, self.kernel)  # q W, then the dot product below
        scores = ops.matmul(query, ops.swapaxes(value, -1, -2))  # (B, T_q, T_k)
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
                "score": self.score,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            }
        )
        return config
