import keras

from kerasnets.layers.lstm import LSTM
from kerasnets.layers.simple_rnn import SimpleRNN

# Recurrent layer for each `cell=` choice of the RNN builders. GRU is Keras's own.
CELLS = {"lstm": LSTM, "gru": keras.layers.GRU, "simple_rnn": SimpleRNN}


def recurrent_layer(cell, units, **kwargs):
    """A recurrent layer of kind `cell` ("lstm", "gru" or "simple_rnn") with `units`."""
    if cell not in CELLS:
        raise ValueError(f"Unknown cell '{cell}'. Valid cells: {', '.join(CELLS)}.")
    return CELLS[cell](units, **kwargs)


def rnn_classifier(
    *,
    vocabulary_size=None,
    input_shape=(28, 28),
    embedding_dim=64,
    units=128,
    num_layers=1,
    cell="lstm",
    bidirectional=False,
    dropout=0.0,
    num_classes=10,
    name="rnn_classifier",
):
    """A recurrent sequence classifier: read the sequence, classify the last state.

        x_t = E[token_t]  (text)   or   x_t = row t of the input  (e.g. an image)
        h_t = RNN(x_t, h_{t-1})              (num_layers stacked, LSTM by default)
        p = softmax(Dropout(h_T) W + b)

    With `vocabulary_size` the input is `token_ids` of any length, id 0 is
    padding (`Embedding(mask_zero=True)`): padded steps are skipped, so
    padding never changes the output. Otherwise the input is a float
    `sequence` of shape `input_shape` = (time steps, features), e.g. an MNIST
    image read row by row.

    Args:
        vocabulary_size: Number of token ids (0 = padding), or None for float
            sequences.
        input_shape: `(time steps, features)` of the float sequence (time
            steps may be None); ignored with `vocabulary_size`.
        embedding_dim: Width of the token vectors.
        units: Size of each recurrent layer's state.
        num_layers: Stacked recurrent layers.
        cell: "lstm", "gru" or "simple_rnn".
        bidirectional: Read the sequence both ways (`keras.layers.Bidirectional`)
            and concatenate the two final states.
        dropout: Dropout on the inputs of every recurrent layer and before
            the classifier.
        num_classes: Output classes.
        name: Model name.

    Returns:
        A Functional model: `token_ids` `(B, T)` (or `sequence` `(B, T, F)`)
        → `probabilities` `(B, num_classes)`.
    """
    if num_layers < 1:
        raise ValueError(f"`num_layers` must be at least 1. Received: num_layers={num_layers}")
    if vocabulary_size:
        inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="token_embedding")(inputs)
    else:
        inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="sequence")
        x = inputs
    for index in range(num_layers):
        # Every layer but the last hands its whole sequence to the next one.
        layer = recurrent_layer(
            cell, units, return_sequences=index < num_layers - 1, dropout=dropout, name=f"{cell}_{index}"
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{index}")
        x = layer(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
