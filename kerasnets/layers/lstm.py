import keras

from kerasnets.layers.lstm_cell import LSTMCell
from kerasnets.layers.recurrent import Recurrent


@keras.saving.register_keras_serializable(package="kerasnets")
class LSTM(Recurrent):
    """A long short-term memory layer (Hochreiter & Schmidhuber 1997) over a
    whole sequence.

        [z_i, z_f, z_g, z_o] = x_t W_x + h_{t-1} W_h + b
        c_t = σ(z_f) ⊙ c_{t-1} + σ(z_i) ⊙ tanh(z_g)
        h_t = σ(z_o) ⊙ tanh(c_t)                     t = 1 … T,  h_0 = c_0 = 0

    The layer owns an `LSTMCell` (`layer.cell`, weights `kernel`,
    `recurrent_kernel`, `bias` with the gates in the order i, f, c, o, as in
    `keras.layers.LSTM`), so `ours.set_weights(theirs.get_weights())` and the
    reverse give the same outputs. The loop (x_t W_x + b for all t in one
    matrix product, then only the recurrent half per step), masking, dropout,
    `go_backwards` and `Bidirectional` support are those of `Recurrent`.

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
        seed, return_sequences, return_state, go_backwards,
        zero_output_for_mask: As for `Recurrent`; the states are h_T, c_T.

    Call arguments:
        sequences: `(B, T, F)`.
        initial_state: Optional `[h_0, c_0]`, each `(B, units)`.
        mask: Optional boolean `(B, T)`; False = skip the step.
        training: Whether dropout is active.
        sequences_mask: The Keras mask of `sequences` when `initial_state` is
            passed too; `mask` takes precedence.

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
        cell = LSTMCell(
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
            dtype=kwargs.get("dtype"),
            name="lstm_cell",
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
