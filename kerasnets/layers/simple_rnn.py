import keras
from keras import ops

from kerasnets.layers.simple_rnn_cell import SimpleRNNCell


def run_cell_over_time(layer, sequences, initial_state=None, mask=None, training=None):
    """The forward pass shared by `SimpleRNN` and `LSTM`.

    `layer` has a `cell` with `project_inputs` / `recurrent_step` /
    `get_initial_state`, and the attributes `dropout`, `recurrent_dropout`,
    `seed_generator`, `go_backwards`, `zero_output_for_mask`,
    `return_sequences` and `return_state`.

    The input half of every step, x_t W_x + b, is one matrix product over the
    whole `(B, T, F)` sequence; `keras.ops.scan` then loops over time for the
    recurrent half only. Masking follows `keras.layers.RNN`: at a masked step
    the states are carried over unchanged and the output repeats the previous
    step's output (zeros before the first unmasked step), or is zero with
    `zero_output_for_mask=True`.
    """
    cell = layer.cell
    batch_size = ops.shape(sequences)[0]
    if initial_state is None:
        states = cell.get_initial_state(batch_size)
    else:
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
    states = [ops.cast(state, layer.compute_dtype) for state in states]

    # Dropout masks are drawn once per call and reused at every time step.
    if training and layer.dropout > 0:
        keep = keras.random.dropout(ops.ones_like(sequences[:, 0, :]), layer.dropout, seed=layer.seed_generator)
        sequences = sequences * ops.expand_dims(keep, 1)
    recurrent_keep = None
    if training and layer.recurrent_dropout > 0:
        recurrent_keep = keras.random.dropout(
            ops.ones_like(states[0]), layer.recurrent_dropout, seed=layer.seed_generator
        )

    if layer.go_backwards:
        sequences = ops.flip(sequences, axis=1)
    projected = cell.project_inputs(sequences)  # (B, T, n·units), all steps at once
    projected = ops.transpose(projected, (1, 0, 2))  # scan walks the leading axis

    def advance(states, projected_t):
        previous = list(states)
        if recurrent_keep is not None:
            previous[0] = previous[0] * recurrent_keep  # dropout on h_{t-1} only, not on c
        _, new_states = cell.recurrent_step(projected_t, previous)
        return new_states

    if mask is None:

        def step(states, projected_t):
            new_states = advance(states, projected_t)
            return new_states, new_states  # TF's scan wants outputs shaped like the carry

        final_states, history = ops.scan(step, states, projected)
    else:
        mask = ops.cast(mask, "bool")
        if layer.go_backwards:
            mask = ops.flip(mask, axis=1)
        time_major_mask = ops.expand_dims(ops.transpose(mask, (1, 0)), -1)  # (T, B, 1)
        # The mask rides along as one extra channel: Keras' TF scan fails on
        # several sequences whose length is unknown (None), as in an export.
        width = ops.shape(projected)[-1]
        steps = ops.concatenate([projected, ops.cast(time_major_mask, projected.dtype)], axis=-1)

        def step(states, step_t):
            projected_t, mask_t = step_t[:, :width], step_t[:, width:] > 0
            new_states = advance(states, projected_t)
            # A masked step leaves the states as they were.
            new_states = [ops.where(mask_t, new, old) for new, old in zip(new_states, states)]
            return new_states, new_states

        final_states, history = ops.scan(step, states, steps)

    outputs = ops.transpose(history[0], (1, 0, 2))  # h_t for every t, (B, T, units)
    if mask is not None:
        # The carried h is the previous output, except before the first real step,
        # where keras.layers.RNN outputs zeros (not the initial state).
        keep_output = mask if layer.zero_output_for_mask else ops.cumsum(ops.cast(mask, "int32"), axis=1) > 0
        outputs = ops.where(ops.expand_dims(keep_output, -1), outputs, ops.zeros_like(outputs))
    output = outputs if layer.return_sequences else outputs[:, -1]
    if layer.return_state:
        return [output] + list(final_states)
    return output


@keras.saving.register_keras_serializable(package="kerasnets")
class SimpleRNN(keras.layers.Layer):
    """An Elman recurrent layer (Elman 1990) over a whole sequence.

        h_t = tanh(x_t W_x + h_{t-1} W_h + b)        t = 1 … T,  h_0 = 0

    The layer owns a `SimpleRNNCell` (`layer.cell`, weights `kernel`,
    `recurrent_kernel`, `bias`, in the order of `keras.layers.SimpleRNN`), so
    `ours.set_weights(theirs.get_weights())` and the reverse give the same
    outputs. Instead of calling the cell step by step it computes
    x_t W_x + b for all t in one matrix product and loops (`keras.ops.scan`)
    only over the recurrent part.

    Masking (a Keras mask, e.g. from `Embedding(mask_zero=True)`, or an
    explicit `mask=`) matches `keras.layers.SimpleRNN`: at a masked step h is
    carried over unchanged, and the output repeats the previous output
    (zeros before the first real step; zeros at every masked step with
    `zero_output_for_mask=True`, which `Bidirectional` switches on). With
    `return_sequences` the mask is passed on.

    Args:
        units: Size of h.
        activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint: As for `SimpleRNNCell`.
        dropout: Fraction of the input features dropped; one mask per
            sequence, the same at every step (training only).
        recurrent_dropout: The same for h_{t-1} in the recurrent product.
        seed: Seed for the dropout masks.
        return_sequences: Return h_t for every step `(B, T, units)` rather
            than the last output `(B, units)`.
        return_state: Also return the final state h_T.
        go_backwards: Read the sequence from the end; the returned sequence
            is then in reversed order too, as in Keras.
        zero_output_for_mask: Output zeros (rather than the previous output)
            at masked steps.

    Call arguments:
        sequences: `(B, T, F)`.
        initial_state: Optional h_0 `(B, units)` (or a one-item list).
        mask: Optional boolean `(B, T)`; False = skip the step.
        training: Whether dropout is active.
        sequences_mask: Filled in by Keras with the Keras mask of `sequences`
            when `initial_state` is passed too (Keras fills in `mask` only for
            single-tensor calls); `mask` takes precedence.

    Example:

    >>> rnn = SimpleRNN(16, return_sequences=True)
    >>> rnn(keras.random.normal((2, 7, 4))).shape
    (2, 7, 16)
    >>> output, h = SimpleRNN(16, return_state=True)(keras.random.normal((2, 7, 4)))
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
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
        self.cell = SimpleRNNCell(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dtype=self.dtype_policy,
            name="simple_rnn_cell",
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
        return [output_mask, None] if self.return_state else output_mask

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch_size = sequences_shape[0]
        if self.return_sequences:
            output_shape = (batch_size, sequences_shape[1], self.units)
        else:
            output_shape = (batch_size, self.units)
        return [output_shape, (batch_size, self.units)] if self.return_state else output_shape

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
