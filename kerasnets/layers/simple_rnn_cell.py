import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasnets")
class SimpleRNNCell(keras.layers.Layer):
    """One step of an Elman recurrent network.

        h_t = tanh(x_t W_x + h_{t-1} W_h + b)

    A drop-in for `keras.layers.SimpleRNNCell`: the same constructor
    arguments (less dropout) and the same weights, created in the same order,
    `kernel` `(input_dim, units)` = W_x, `recurrent_kernel` `(units, units)` =
    W_h and `bias` `(units,)`, so `set_weights` works both ways between the
    two. It has `state_size`, `output_size` and `get_initial_state`, so it
    runs inside `keras.layers.RNN(cell)`.

    The cell has no dropout: `SimpleRNN` applies the (time-fixed) dropout
    masks itself, on x_t and h_{t-1}.

    The step is split so that `SimpleRNN` can run it with weights read once
    per sequence: `transition(z, [h])` applies the activation to the full
    pre-activation z = x_t W_x + h_{t-1} W_h + b.

    Args:
        units: Size of the hidden state h.
        activation: Nonlinearity (tanh by default).
        use_bias: Whether to add b.
        kernel_initializer, recurrent_initializer, bias_initializer: For W_x,
            W_h and b.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Optional
            regularizers for W_x, W_h and b.
        kernel_constraint, recurrent_constraint, bias_constraint: Optional
            constraints for W_x, W_h and b.

    Call arguments:
        inputs: `x_t`, shape `(B, input_dim)`.
        states: `h_{t-1}`, shape `(B, units)`, alone or in a one-item list.

    Returns:
        `(h_t, [h_t])` (or `(h_t, h_t)` when `states` was a bare tensor).

    Example:

    >>> cell = SimpleRNNCell(8)
    >>> keras.layers.RNN(cell)(keras.random.normal((2, 5, 3))).shape
    (2, 8)
    >>> h, [h] = cell(keras.ops.ones((2, 3)), [keras.ops.zeros((2, 8))])
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"`units` must be a positive integer. Received: units={units}")
        self.units = units
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        # Created in Keras's order (kernel, recurrent_kernel, bias) so weight lists line up.
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel",
            shape=(self.units, self.units),
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.built = True

    def transition(self, z, states):
        """(h_t, [h_t]) from the full pre-activation z = x_t W_x + h_{t-1} W_h + b."""
        h = self.activation(z)
        return h, [h]

    def call(self, inputs, states):
        nested = isinstance(states, (list, tuple))
        h_prev = states[0] if nested else states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        h, new_states = self.transition(z, [h_prev])
        return h, (new_states if nested else h)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            }
        )
        return config
