import keras
from keras import ops

# Sequences with at most this many (static) steps are unrolled in Python; longer
# ones, or ones whose length is only known at run time, loop with `ops.scan`.
MAX_UNROLLED_STEPS = 128


def _run_over_time(recurrent_step, states, projected, mask, go_backwards, recurrent_keep, unroll):
    """h_t for every t and the final states of `recurrent_step` over `projected`.

    `projected` is `(B, T, G)` (the input half x_t W_x + b of every step),
    `mask` a boolean `(B, T)` or None. Returns `(outputs (B, T, units) in
    reading order, final_states)`; at a masked step the states stay as they
    were and the output is that (carried) h.
    """

    def advance(states, projected_t):
        previous = list(states)
        if recurrent_keep is not None:
            previous[0] = previous[0] * recurrent_keep  # dropout on h_{t-1} only, not on c
        return recurrent_step(projected_t, previous)[1]

    if unroll:
        steps = ops.unstack(projected, axis=1)
        keeps = None if mask is None else ops.unstack(ops.expand_dims(mask, -1), axis=1)
        order = range(len(steps) - 1, -1, -1) if go_backwards else range(len(steps))
        outputs = []
        for t in order:
            new_states = advance(states, steps[t])
            if keeps is not None:
                new_states = [ops.where(keeps[t], new, old) for new, old in zip(new_states, states)]
            states = new_states
            outputs.append(states[0])
        return ops.stack(outputs, axis=1), states

    if go_backwards:
        projected = ops.flip(projected, axis=1)
    time_major = ops.transpose(projected, (1, 0, 2))  # scan walks the leading axis
    if mask is None:

        def step(states, projected_t):
            new_states = advance(states, projected_t)
            return new_states, new_states  # TF's scan wants outputs shaped like the carry

        final_states, history = ops.scan(step, states, time_major)
    else:
        if go_backwards:
            mask = ops.flip(mask, axis=1)
        time_major_mask = ops.expand_dims(ops.transpose(mask, (1, 0)), -1)  # (T, B, 1)
        # The mask rides along as one extra channel: Keras' TF scan fails on
        # several sequences whose length is unknown (None), as in an export.
        width = ops.shape(time_major)[-1]
        steps = ops.concatenate([time_major, ops.cast(time_major_mask, time_major.dtype)], axis=-1)

        def step(states, step_t):
            projected_t, keep_t = step_t[:, :width], step_t[:, width:] > 0
            new_states = advance(states, projected_t)
            new_states = [ops.where(keep_t, new, old) for new, old in zip(new_states, states)]
            return new_states, new_states

        final_states, history = ops.scan(step, states, steps)
    return ops.transpose(history[0], (1, 0, 2)), list(final_states)


class Recurrent(keras.layers.Layer):
    """The base of `SimpleRNN` and `LSTM`: a cell run over a whole sequence.

        (h_t, s_t) = cell(x_t, s_{t-1})        t = 1 … T,  s_0 = 0 or `initial_state`

    where s is the cell's list of states (`[h]` or `[h, c]`). The cell (see
    `SimpleRNNCell`, `LSTMCell`) splits its step in two: `project_inputs(x)`
    = x W_x + b, which is computed for every step at once as one matrix
    product over the `(B, T, F)` sequence, and `recurrent_step(z_t, s_{t-1})`,
    the only part inside the loop over time. A sequence of known length of
    at most `MAX_UNROLLED_STEPS` steps is unrolled (no loop, and the gradient
    compiles with XLA); longer or unknown lengths loop with `keras.ops.scan`.

    Masking matches `keras.layers.RNN`: at a masked step the states are
    carried over unchanged and the output repeats the previous output (zeros
    before the first unmasked step), or is zero with
    `zero_output_for_mask=True` (which `keras.layers.Bidirectional` switches
    on when it returns sequences). With `return_sequences` the mask is passed
    on.

    The layer has the attributes `keras.layers.Bidirectional` reads of the
    layer it wraps (`go_backwards`, `return_sequences`, `return_state`,
    `stateful` = False, `states` = None, `input_spec`, `get_config`), so
    `Bidirectional(LSTM(...))` works as with Keras' own layers.

    Subclasses create the cell and pass it in with the keyword arguments of
    the loop; `get_config` is the cell's arguments and the loop's.

    Args:
        cell: The step, with `project_inputs`, `recurrent_step`,
            `get_initial_state` and `state_size`.
        dropout: Fraction of the input features dropped; one mask per
            sequence, the same at every step (training only).
        recurrent_dropout: The same for h_{t-1} in the recurrent product.
        seed: Seed for the dropout masks.
        return_sequences: Return h_t for every step `(B, T, units)` rather
            than the last output `(B, units)`.
        return_state: Also return the final states.
        go_backwards: Read the sequence from the end; the returned sequence
            is then in reversed order too, as in Keras.
        zero_output_for_mask: Output zeros (rather than the previous output)
            at masked steps.

    Call arguments:
        sequences: `(B, T, F)`.
        initial_state: Optional list of the cell's states, each `(B, units)`
            (a bare tensor for a one-state cell).
        mask: Optional boolean `(B, T)`; False = skip the step.
        training: Whether dropout is active.
        sequences_mask: Filled in by Keras with the Keras mask of `sequences`
            when `initial_state` is passed too (Keras fills in `mask` only for
            single-tensor calls); `mask` takes precedence.
    """

    def __init__(
        self,
        cell,
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
        self.cell = cell
        self.units = cell.units
        self.dropout = min(1.0, max(0.0, dropout))
        self.recurrent_dropout = min(1.0, max(0.0, recurrent_dropout))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        # Read by keras.layers.Bidirectional: no stateful mode, so no state variables.
        self.stateful = False
        self.states = None
        self.input_spec = keras.layers.InputSpec(ndim=3)
        self.supports_masking = True

    @property
    def num_states(self):
        state_size = self.cell.state_size
        return len(state_size) if isinstance(state_size, (list, tuple)) else 1

    def build(self, sequences_shape, initial_state_shape=None):
        self.cell.build((sequences_shape[0], sequences_shape[-1]))
        self.built = True

    def call(self, sequences, initial_state=None, mask=None, training=None, sequences_mask=None):
        if mask is None:
            mask = sequences_mask
        if isinstance(mask, (list, tuple)):  # Keras may pass one mask per input
            mask = mask[0]
        cell = self.cell
        if initial_state is None:
            states = cell.get_initial_state(ops.shape(sequences)[0])
        else:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        states = [ops.cast(state, self.compute_dtype) for state in states]

        # Dropout masks are drawn once per call and reused at every time step.
        if training and self.dropout > 0:
            keep = keras.random.dropout(ops.ones_like(sequences[:, 0, :]), self.dropout, seed=self.seed_generator)
            sequences = sequences * ops.expand_dims(keep, 1)
        recurrent_keep = None
        if training and self.recurrent_dropout > 0:
            recurrent_keep = keras.random.dropout(
                ops.ones_like(states[0]), self.recurrent_dropout, seed=self.seed_generator
            )
        if mask is not None:
            mask = ops.cast(mask, "bool")

        steps = sequences.shape[1]
        unroll = steps is not None and steps <= MAX_UNROLLED_STEPS
        projected = cell.project_inputs(sequences)  # (B, T, G): every step's input half at once
        outputs, final_states = _run_over_time(
            cell.recurrent_step, states, projected, mask, self.go_backwards, recurrent_keep, unroll
        )
        if mask is not None:
            # The carried h is the previous output, except before the first real
            # step, where keras.layers.RNN outputs zeros (not the initial state).
            if self.go_backwards:
                mask = ops.flip(mask, axis=1)
            if self.zero_output_for_mask:
                keep_output = mask
            else:
                keep_output = ops.cumsum(ops.cast(mask, "int32"), axis=1) > 0
            outputs = ops.where(ops.expand_dims(keep_output, -1), outputs, ops.zeros_like(outputs))
        output = outputs if self.return_sequences else outputs[:, -1]
        if self.return_state:
            return (output, *final_states)
        return output

    def compute_mask(self, sequences, previous_mask=None):
        if isinstance(previous_mask, (list, tuple)):
            previous_mask = previous_mask[0]
        output_mask = previous_mask if self.return_sequences else None
        return [output_mask] + [None] * self.num_states if self.return_state else output_mask

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch_size = sequences_shape[0]
        if self.return_sequences:
            output_shape = (batch_size, sequences_shape[1], self.units)
        else:
            output_shape = (batch_size, self.units)
        if self.return_state:
            # A tuple, as keras.layers.RNN returns: Bidirectional adds it to tuples.
            return (output_shape,) + ((batch_size, self.units),) * self.num_states
        return output_shape

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
