import keras
from keras import ops

from kerasnets.layers.initializers import clone_initializer
from kerasnets.layers.positional_encoding import check_sequence_length


@keras.saving.register_keras_serializable(package="kerasnets")
class PositionEmbedding(keras.layers.Layer):
    """Learned position embeddings (as in BERT and GPT), added to the input.

        output[b, t] = inputs[b, t] + P[start_index + t]

    `P` is a trainable `(sequence_length, d)` matrix; `d` is taken from the
    input in `build()`. The input's Keras mask is kept.

    Args:
        sequence_length: Number of positions (rows of `P`).
        initializer: Initializer for `P`.

    Call arguments:
        inputs: `(B, T, d)` embeddings, `T ≤ sequence_length`.
        start_index: Position of the first step (for decoding one token at a time).

    Example:

    >>> x = keras.ops.zeros((2, 10, 16))
    >>> PositionEmbedding(sequence_length=64)(x).shape
    (2, 10, 16)
    """

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = int(sequence_length)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, input_shape[-1]),
            # A copy: the token table is often given the same initializer object.
            initializer=clone_initializer(self.initializer, f"{self.name}/embeddings"),
        )
        self.built = True

    def call(self, inputs, start_index=0):
        check_sequence_length(self, inputs.shape[1], self.sequence_length)
        length = ops.shape(inputs)[1]
        positions = ops.slice(self.embeddings, (start_index, 0), (length, ops.shape(self.embeddings)[1]))
        return inputs + ops.cast(positions, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
