import keras

from kerasnets.layers.recurrent import Recurrent
from kerasnets.layers.simple_rnn_cell import SimpleRNNCell


@keras.saving.register_keras_serializable(package="kerasnets")
class SimpleRNN(Recurrent):
    """An Elman recurrent layer (Elman 1990) over a whole sequence.

        h_t = tanh(x_t W_x + h_{t-1} W_h + b)        t = 1 … T,  h_0 = 0

    The layer owns a `SimpleRNNCell` (`layer.cell`, weights `kernel`,
    `recurrent_kernel`, `bias`, in the order of `keras.layers.SimpleRNN`), so
    `ours.set_weights(theirs.get_weights())` and the reverse give the same
    outputs. The loop (x_t W_x + b for all t in one matrix product, then only
    the recurrent half per step), masking, dropout, `go_backwards` and
    `Bidirectional` support are those of `Recurrent`.

    Args:
        units: Size of h.
        activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint: As for `SimpleRNNCell`.
        dropout: Fraction of the input features dropped; one mask per
            sequence, the same at every step (training only).
        recurrent_dropout: The same for h_{t-1} in the recurrent product.
        seed, return_sequences, return_state, go_backwards,
        zero_output_for_mask: As for `Recurrent`; the state is h_T.

    Call arguments:
        sequences: `(B, T, F)`.
        initial_state: Optional h_0 `(B, units)` (or a one-item list).
        mask: Optional boolean `(B, T)`; False = skip the step.
        training: Whether dropout is active.
        sequences_mask: The Keras mask of `sequences` when `initial_state` is
            passed too; `mask` takes precedence.

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
        cell = SimpleRNNCell(
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
            dtype=kwargs.get("dtype"),
            name="simple_rnn_cell",
        )
        super().__init__(
            cell,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
