import keras
from keras import ops


def sinusoidal_table(length, dim, max_wavelength=10000.0, start_index=0, dtype="float32"):
    """The `(length, dim)` table PE[pos, 2i] = sin(pos / w^{2i/d}), PE[pos, 2i+1] = cos(…)."""
    positions = ops.cast(ops.arange(length) + start_index, "float32")
    dims = ops.arange(dim)
    even_dims = ops.cast((dims // 2) * 2, "float32")  # 2i for both columns 2i and 2i+1
    inverse_frequencies = ops.power(float(max_wavelength), -even_dims / float(dim))
    angles = ops.expand_dims(positions, -1) * ops.expand_dims(inverse_frequencies, 0)
    table = ops.where(ops.expand_dims(dims % 2 == 0, 0), ops.sin(angles), ops.cos(angles))
    return ops.cast(table, dtype)


def check_sequence_length(layer, length, limit):
    if length is not None and length > limit:
        raise ValueError(
            f"{layer.__class__.__name__} '{layer.name}' supports sequences of up to "
            f"{limit} positions (sequence_length), got {length}."
        )


@keras.saving.register_keras_serializable(package="kerasnets")
class PositionalEncoding(keras.layers.Layer):
    """Sinusoidal positional encoding (Vaswani et al. 2017, §3.5), added to the input.

        PE(pos, 2i)   = sin(pos / 10000^{2i/d})
        PE(pos, 2i+1) = cos(pos / 10000^{2i/d})
        output = inputs + PE[start_index : start_index + T]

    Even feature columns carry sines and odd columns cosines (interleaved, as
    in the paper). The table has no weights and is computed on the fly, so any
    length up to `sequence_length` works. The input's Keras mask is kept.

    Args:
        sequence_length: The longest sequence the layer accepts.
        max_wavelength: The `10000` of the formula.

    Call arguments:
        inputs: `(B, T, d)` embeddings.
        start_index: Position of the first step (for decoding one token at a time).

    Example:

    >>> x = keras.ops.zeros((2, 10, 16))
    >>> PositionalEncoding(sequence_length=128)(x).shape   # x + PE[:10]
    (2, 10, 16)
    """

    def __init__(self, sequence_length, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = int(sequence_length)
        self.max_wavelength = max_wavelength
        self.supports_masking = True

    def call(self, inputs, start_index=0):
        check_sequence_length(self, inputs.shape[1], self.sequence_length)
        shape = ops.shape(inputs)
        table = sinusoidal_table(shape[1], shape[-1], self.max_wavelength, start_index, inputs.dtype)
        return inputs + table

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"sequence_length": self.sequence_length, "max_wavelength": self.max_wavelength})
        return config
