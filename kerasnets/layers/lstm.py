import keras

from kerasnets.layers.lstm_cell import LSTMCell
from kerasnets.layers.simple_rnn import run_cell_over_time


@keras.saving.register_keras_serializable(package="kerasnets")
class LSTM(keras.layers.Layer):
    """A long short-term memory layer (Hochreiter & Schmidhuber 1997) over a
    whole sequence.

        [z_i, z_f, z_g, z_o] = x_t W_x + h_{t-1} W_h + b
        c_t = σ(z_f) ⊙ c_{t-1} + σ(z_i) ⊙ tanh(z_g)
        h_t = σ(z_o) ⊙ tanh(c_t)                     t = 1 … T,  h_0 = c_0 = 0

    The layer owns an `LSTMCell` (`layer.cell`, weights `kernel`,
    `recurrent_kernel`, `bias` with the gates in the order i, f, c, o, as in
    `keras.layers.LSTM`), so `ours.set_weights(theirs.get_weights())` and the
    reverse give the same outputs. Instead of calling the cell step by step
    it computes x_t W_x + b for all t in one matrix product and loops
    (`keras.ops.scan`) only over the recurrent part.

    Masking (a Keras mask, e.g. from `Embedding(mask_zero=True)`, or an
    explicit `mask=`) matches `keras.layers.LSTM`: at a masked step h and c
    are carried over unchanged, and the output repeats the previous output
    (zeros before the first real step; zeros at every masked step with
    `zero_output_for_mask=True`, which `Bidirectional` switches on). With
    `return_sequences` the mask is passed on.

    Args:
        units: Size of h and c.
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: As for
            `LSTMCell`.
        dropout: Fraction of the input features dropped; one mask per
            sequence, the same at every step and for every gate (training
            only).
        recurrent_dropout: The same for h_{t-1} in the recurrent product.
        seed: Seed for the dropout masks.
        return_sequences: Return h_t for every step `(B, T, units)` rather
            than the last output `(B, units)`.
        return_state: Also return the final states h_T and c_T.
        go_backwards: Read the sequence from the end; the returned sequence
            is then in reversed order too, as in Keras.
        zero_output_for_mask: Output zeros (rather than the previous output)
            at masked steps.

    Call arguments:
        sequences: `(B, T, F)`.
        initial_state: Optional `[h_0, c_0]`, each `(B, units)`.
        mask: Optional boolean `(B, T)`; False = skip the step.
        training: Whether dropout is active.
        sequences_mask: Filled in by Keras with the Keras mask of `sequences`
            when `initial_state` is passed too (Keras fills in `mask` only for
            single-tensor calls); `mask` takes precedence.

    Example:

    >>> lstm = LSTM(16, return_sequences=True)
    >>> lstm(keras.random.normal((2, 7, 4))).shape
    (2, 7, 16)
    >>> output, h, c = LSTM(16, return_state=True)(keras.random.normal((2, 7, 4)))
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.cell = LSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dtype=self.dtype_policy,
            name="lstm_cell",
        )
        self.units = units
        self.dropout = min(1.0, max(0.0, dropout))
        self.recurrent_dropout = min(1.0, max(0.0, recurrent_dropout))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self.stateful = False  # read by keras.layers.Bidirectional; not supported
        self.supports_masking = True

    def build(self, sequences_shape, initial_state_shape=None):
        self.cell.build((sequences_shape[0], sequences_shape[-1]))
        self.built = True

    def call(self, sequences, initial_state=None, mask=None, training=None, sequences_mask=None):
        return run_cell_over_time(
            self, sequences, initial_state, mask if mask is not None else sequences_mask, training
        )

    def compute_mask(self, sequences, previous_mask=None):
        output_mask = previous_mask if self.return_sequences else None
        return [output_mask, None, None] if self.return_state else output_mask

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch_size = sequences_shape[0]
        if self.return_sequences:
            output_shape = (batch_size, sequences_shape[1], self.units)
        else:
            output_shape = (batch_size, self.units)
        state_shape = (batch_size, self.units)
        return [output_shape, state_shape, state_shape] if self.return_state else output_shape

    def get_config(self):
        config = super().get_config()
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):  # the cell's own, not arguments of the layer
            cell_config.pop(key, None)
        config.update(cell_config)
        config.update(
            {
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "zero_output_for_mask": self.zero_output_for_mask,
            }
        )
        return config
