import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasnets")
class MaxOverTimePooling(keras.layers.Layer):
    """Max-over-time pooling of n-gram features (Collobert et al. 2011; Kim 2014).

        c_f = max_t { conv[b, t, f] : window t..t+n-1 holds real tokens only }

    `inputs` are the outputs of a 'valid' `Conv1D` of width `ngram_size` over
    a token sequence; `mask` is the token-level padding mask `(B, T)`. A
    window that touches padding is left out, so adding padding never changes
    the result. A sequence with no complete window gives zeros.

    Args:
        ngram_size: Width of the convolution that produced `inputs`.

    Call arguments:
        inputs: `(B, T - ngram_size + 1, F)`.
        mask: Optional boolean `(B, T)`, True for real tokens.

    Example:

    >>> features = keras.layers.Conv1D(8, 3)(keras.ops.ones((2, 10, 16)))
    >>> MaxOverTimePooling(ngram_size=3)(features, mask=keras.ops.ones((2, 10), "bool")).shape
    (2, 8)
    """

    def __init__(self, ngram_size=1, **kwargs):
        super().__init__(**kwargs)
        self.ngram_size = int(ngram_size)

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        # Real tokens in window t = csum[t + n] - csum[t]; the window is valid if all n are.
        real = ops.cast(mask, "int32")
        csum = ops.pad(ops.cumsum(real, axis=1), ((0, 0), (1, 0)))
        valid = (csum[:, self.ngram_size :] - csum[:, : -self.ngram_size]) == self.ngram_size
        valid = ops.expand_dims(valid, -1)
        pooled = ops.max(ops.where(valid, inputs, float("-inf")), axis=1)
        any_valid = ops.any(valid, axis=1)
        return ops.where(any_valid, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config["ngram_size"] = self.ngram_size
        return config
