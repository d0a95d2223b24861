"""What every tokenizer layer shares as a Keras layer: strings in, int32 ids `(B, L)` out."""

import keras


class TextToIds:
    """Mixin of a tokenizer layer with `tokenize(strings, sequence_length=None)` and a
    `sequence_length` attribute: `call` is `tokenize`, and the symbolic output is
    `(…, sequence_length)` int32 (a trailing axis of 1 on the strings is dropped)."""

    def call(self, inputs, sequence_length=None):
        return self.tokenize(inputs, sequence_length=sequence_length)

    def compute_output_spec(self, inputs, sequence_length=None):
        shape = tuple(inputs.shape)
        if len(shape) >= 2 and shape[-1] == 1:
            shape = shape[:-1]
        length = sequence_length if sequence_length is not None else self.sequence_length
        return keras.KerasTensor(shape + (length,), dtype="int32")
