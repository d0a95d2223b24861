import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasnets")
class LSTMCell(keras.layers.Layer):
    """One step of a long short-term memory network (Hochreiter & Schmidhuber
    1997, with the forget gate of Gers et al. 2000).

        [z_i, z_f, z_g, z_o] = x_t W_x + h_{t-1} W_h + b
        i = σ(z_i)   f = σ(z_f)   o = σ(z_o)        (input, forget, output gates)
        c_t = f ⊙ c_{t-1} + i ⊙ tanh(z_g)          (cell state)
        h_t = o ⊙ tanh(c_t)                        (hidden state = output)

    A drop-in for `keras.layers.LSTMCell`: the same constructor arguments
    (less dropout) and the same weights, created in the same order, `kernel`
    `(input_dim, 4·units)`, `recurrent_kernel` `(units, 4·units)` and `bias`
    `(4·units,)`, each holding the gates in the order i, f, c (= g), o, so
    `set_weights` works both ways between the two. It has `state_size`,
    `output_size` and `get_initial_state`, so it runs inside
    `keras.layers.RNN(cell)`.

    The cell has no dropout: `LSTM` applies the (time-fixed) dropout masks
    itself, on x_t and h_{t-1}.

    The step is split so that `LSTM` can run it with weights read once per
    sequence: `transition(z, [h, c])` applies the gates to the full
    pre-activation z = x_t W_x + h_{t-1} W_h + b.

    Args:
        units: Size of h and c.
        activation: Applied to the candidate g and to c_t (tanh by default).
        recurrent_activation: The gate nonlinearity σ (sigmoid by default).
        use_bias: Whether to add b.
        kernel_initializer, recurrent_initializer, bias_initializer: For W_x,
            W_h and b.
        unit_forget_bias: Start the forget-gate bias at 1 (Jozefowicz et al.
            2015) so the cell remembers by default; the rest of b uses
            `bias_initializer`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Optional
            regularizers for W_x, W_h and b.
        kernel_constraint, recurrent_constraint, bias_constraint: Optional
            constraints for W_x, W_h and b.

    Call arguments:
        inputs: `x_t`, shape `(B, input_dim)`.
        states: `[h_{t-1}, c_{t-1}]`, each `(B, units)`.

    Returns:
        `(h_t, [h_t, c_t])`.

    Example:

    >>> cell = LSTMCell(8)
    >>> keras.layers.RNN(cell)(keras.random.normal((2, 5, 3))).shape
    (2, 8)
    >>> h, (h, c) = cell(keras.ops.ones((2, 3)), cell.get_initial_state(2))
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"`units` must be a positive integer. Received: units={units}")
        self.units = units
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        # Created in Keras's order (kernel, recurrent_kernel, bias) so weight lists line up.
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], 4 * self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel",
            shape=(self.units, 4 * self.units),
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(4 * self.units,),
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.built = True

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer

        def initializer(shape, dtype=None):
            # Gate blocks i, f, c, o: ones for f, the chosen initializer elsewhere.
            units = self.units
            return ops.concatenate(
                [
                    self.bias_initializer((units,), dtype=dtype),
                    ops.ones((units,), dtype=dtype),
                    self.bias_initializer((2 * units,), dtype=dtype),
                ]
            )

        return initializer

    def transition(self, z, states):
        """(h_t, [h_t, c_t]) from the full pre-activation z = x_t W_x + h_{t-1} W_h + b."""
        c_prev = states[1]
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        o = self.recurrent_activation(z_o)
        c = f * c_prev + i * self.activation(z_g)
        h = o * self.activation(c)
        return h, [h, c]

    def call(self, inputs, states):
        z = ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        return self.transition(z, states)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype) for _ in range(2)]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "unit_forget_bias": self.unit_forget_bias,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            }
        )
        return config
