import keras
from keras import ops

def _tensorflow_loop(advance, states, time_major, time_major_mask, return_outputs):
    """`_loop` on the TensorFlow backend: a `tf.while_loop` with a bounded trip count.

    `keras.ops.scan` on TensorFlow loops without `maximum_iterations` and
    keeps its carry in a TensorArray, so its gradient does not compile with
    XLA; with the trip count bounded by the (run-time) length it does.
    """
    import tensorflow as tf

    length = tf.shape(time_major)[0]
    xs = tf.TensorArray(time_major.dtype, size=length, element_shape=time_major.shape[1:]).unstack(time_major)
    masks = None
    if time_major_mask is not None:
        masks = tf.TensorArray(tf.bool, size=length, element_shape=time_major_mask.shape[1:])
        masks = masks.unstack(time_major_mask)
    outputs = tf.TensorArray(states[0].dtype, size=length if return_outputs else 0, element_shape=states[0].shape)

    def body(t, outputs, *states):
        new_states = advance(list(states), xs.read(t))
        if masks is not None:
            keep = masks.read(t)
            new_states = [tf.where(keep, new, old) for new, old in zip(new_states, states)]
        if return_outputs:
            outputs = outputs.write(t, new_states[0])
        return (t + 1, outputs, *new_states)

    _, outputs, *final_states = tf.while_loop(
        lambda t, *_: t < length,
        body,
        (tf.constant(0), outputs, *states),
        maximum_iterations=length,
        parallel_iterations=32,  # as keras.layers.RNN's loop
    )
    return (outputs.stack() if return_outputs else None), final_states


def _use_tensorflow_loop():
    return keras.backend.backend() == "tensorflow"


def _loop(advance, states, sequences, mask, go_backwards, return_outputs):
    """The final states of `advance` over `sequences`, and h after every step.

    `advance(states, x_t) -> new_states` is one step; `sequences` is
    `(B, T, F)`, `mask` a boolean `(B, T)` or None. At a masked step the states
    stay as they were. Returns `(outputs, final_states)`, `outputs` `(B, T,
    units)` in reading order, or None unless `return_outputs`.
    """
    if go_backwards:
        sequences = ops.flip(sequences, axis=1)
        mask = None if mask is None else ops.flip(mask, axis=1)
    time_major = ops.transpose(sequences, (1, 0, 2))  # the loop walks the leading axis
    time_major_mask = None if mask is None else ops.expand_dims(ops.transpose(mask, (1, 0)), -1)  # (T, B, 1)
    if _use_tensorflow_loop():
        history, final_states = _tensorflow_loop(advance, states, time_major, time_major_mask, return_outputs)
        return (None if history is None else ops.transpose(history, (1, 0, 2))), final_states

    if mask is None:

        def step(states, x_t):
            new_states = advance(states, x_t)
            return new_states, new_states

        final_states, history = ops.scan(step, states, time_major)
    else:
        # The mask rides along as one extra channel, so that scan walks one sequence.
        width = ops.shape(time_major)[-1]
        steps = ops.concatenate([time_major, ops.cast(time_major_mask, time_major.dtype)], axis=-1)

        def step(states, step_t):
            x_t, keep_t = step_t[:, :width], step_t[:, width:] > 0
            new_states = advance(states, x_t)
            new_states = [ops.where(keep_t, new, old) for new, old in zip(new_states, states)]
            return new_states, new_states

        final_states, history = ops.scan(step, states, steps)
    return ops.transpose(history[0], (1, 0, 2)), list(final_states)


class Recurrent(keras.layers.Layer):
    """The base of `SimpleRNN` and `LSTM`: a cell run over a whole sequence.

        (h_t, s_t) = cell(x_t, s_{t-1})        t = 1 … T,  s_0 = 0 or `initial_state`

    where s is the cell's list of states (`[h]` or `[h, c]`) and the cell (see
    `SimpleRNNCell`, `LSTMCell`) gives `transition(z_t, s_{t-1})` for the
    pre-activation z_t = x_t W_x + h_{t-1} W_h + b, which this layer computes
    with the weights read once per call: in training as two products (b
    folded into the first), in inference as one, [x_t, h_{t-1}] [W_x; W_h]. The loop over time is a
    `tf.while_loop` bounded by the sequence's length on the TensorFlow
    backend (so that training compiles with XLA; `jit_compile=True` works)
    and `keras.ops.scan` on the others; without `return_sequences` no
    outputs are collected, the last one follows from the final h and the
    mask.

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
        cell: The step: a layer with `kernel`, `recurrent_kernel`, `bias`,
            `use_bias`, `units`, `state_size`, `transition` and
            `get_initial_state`.
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

        # The weights are read once per call, not once per step.
        kernel = ops.convert_to_tensor(cell.kernel)
        recurrent_kernel = ops.convert_to_tensor(cell.recurrent_kernel)
        bias = ops.convert_to_tensor(cell.bias) if cell.use_bias else None

        if training:
            if bias is not None:
                # b rides in the input product as a row of W_x against a column of
                # ones, [x_t, 1] [W_x; b]: in the gradient, one per-step sum over
                # the batch less (measured ~4% faster at B128 T28 28->128).
                sequences = ops.concatenate([sequences, ops.ones_like(sequences[..., :1])], axis=-1)
                kernel = ops.concatenate([kernel, ops.expand_dims(bias, 0)], axis=0)

            def advance(states, x_t):
                h = states[0] if recurrent_keep is None else states[0] * recurrent_keep  # not on c
                z = ops.matmul(x_t, kernel) + ops.matmul(h, recurrent_kernel)
                return cell.transition(z, states)[1]

        else:
            # One matrix product per step, [x_t, h_{t-1}] [W_x; W_h]: a faster
            # forward, but its gradient would also form dL/dx_t, which the two
            # products above skip when the inputs need none. (b stays apart:
            # an odd inner size, F + 1 + units, slowed the product ~20%.)
            joint_kernel = ops.concatenate([kernel, recurrent_kernel], axis=0)

            def advance(states, x_t):
                z = ops.matmul(ops.concatenate([x_t, states[0]], axis=-1), joint_kernel)
                if bias is not None:
                    z = z + bias
                return cell.transition(z, states)[1]

        # Without return_sequences no outputs are collected: the last one follows from h and the mask.
        outputs, final_states = _loop(advance, states, sequences, mask, self.go_backwards, self.return_sequences)
        if mask is not None and self.go_backwards:
            mask = ops.flip(mask, axis=1)  # in reading order, as the outputs
        if outputs is None:
            output = final_states[0]
            if mask is not None:
                # keras.layers.RNN's last output is zero if no step was real (or,
                # with zero_output_for_mask, if the last step read was masked).
                real = mask[:, -1] if self.zero_output_for_mask else ops.any(mask, axis=1)
                output = ops.where(ops.expand_dims(real, -1), output, ops.zeros_like(output))
        else:
            if mask is not None:
                # The carried h is the previous output, except before the first real
                # step, where keras.layers.RNN outputs zeros (not the initial state).
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
