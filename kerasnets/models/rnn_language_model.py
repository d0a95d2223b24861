import keras

from kerasnets.models.rnn_classifier import recurrent_layer


def rnn_language_model(
    *,
    vocabulary_size=65,
    embedding_dim=64,
    units=256,
    num_layers=1,
    cell="lstm",
    dropout=0.0,
    name="rnn_language_model",
):
    """A recurrent language model (Mikolov et al. 2010; char-RNN, Karpathy 2015).

        x_t = E[token_t]
        h_t = RNN(x_t, h_{t-1})                       (num_layers stacked)
        p(token_{t+1} | token_≤t) = softmax(Dropout(h_t) W + b)

    Every position predicts the next token. The recurrence only runs forward,
    so the prediction at step t never depends on a later token. All ids are
    real tokens (no padding mask, as for `gpt`; the default vocabulary of 65
    is that of character-level Tiny Shakespeare); right padding cannot change
    earlier predictions, and padded targets can be left out of the loss with
    sample weights.

    Args:
        vocabulary_size: Number of token ids.
        embedding_dim: Width of the token vectors.
        units: Size of each recurrent layer's state.
        num_layers: Stacked recurrent layers.
        cell: "lstm", "gru" or "simple_rnn".
        dropout: Dropout on the inputs of every recurrent layer and before
            the output layer.
        name: Model name.

    Returns:
        A Functional model: `token_ids` `(B, T)` → `probabilities` `(B, T, vocabulary_size)`.
    """
    if num_layers < 1:
        raise ValueError(f"`num_layers` must be at least 1. Received: num_layers={num_layers}")
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, name="token_embedding")(token_ids)
    for index in range(num_layers):
        x = recurrent_layer(cell, units, return_sequences=True, dropout=dropout, name=f"{cell}_{index}")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(vocabulary_size, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(token_ids, outputs, name=name)
