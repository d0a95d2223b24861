import keras
from keras import ops

from kerasnets.models.causal_lm import CausalLM
from kerasnets.models.rnn_classifier import CELLS, recurrent_layer


@keras.saving.register_keras_serializable(package="kerasnets")
class RNNLanguageModel(CausalLM):
    """A recurrent language model (Mikolov et al. 2010; char-RNN, Karpathy 2015).

        x_t = E[token_t]
        h_t = RNN(x_t, h_{t-1})                       (num_layers stacked)
        logits_t = Dropout(h_t) W + b;   p(token_{t+1} | token_≤t) = softmax(logits_t)

    Every position predicts the next token. The recurrence only runs forward,
    so the prediction at step t never depends on a later token. All ids are
    real tokens (no padding mask, as for GPT; the default vocabulary of 65
    is that of character-level Tiny Shakespeare); right padding cannot change
    earlier predictions, and padded targets can be left out of the loss with
    sample weights.

    Decoding carries the recurrent states: the cache is a list with one list
    of state tensors per layer (`[h]`, or `[h, c]` for an LSTM), and every
    step is one cell step per layer from position 0, so the state sees every
    prompt token.

    Args:
        vocabulary_size: Number of token ids.
        embedding_dim: Width of the token vectors.
        units: Size of each recurrent layer's state.
        num_layers: Stacked recurrent layers.
        cell: "lstm", "gru" or "simple_rnn".
        dropout: Dropout on the inputs of every recurrent layer and before
            the output layer.

    Attributes:
        token_embedding, recurrent_layers, output_dropout, output_layer (the
        logits `Dense`), probabilities (the softmax).
    """

    def __init__(
        self,
        vocabulary_size=65,
        embedding_dim=64,
        units=256,
        num_layers=1,
        cell="lstm",
        dropout=0.0,
        **kwargs,
    ):
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"`num_layers` must be at least 1. Received: num_layers={num_layers}")
        if cell not in CELLS:
            raise ValueError(f"Unknown cell '{cell}'. Valid cells: {', '.join(CELLS)}.")
        self.token_embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="token_embedding")
        self.recurrent_layers = [
            recurrent_layer(cell, units, return_sequences=True, dropout=dropout, name=f"{cell}_{index}")
            for index in range(num_layers)
        ]
        self.output_dropout = keras.layers.Dropout(dropout, name="dropout")
        self.output_layer = keras.layers.Dense(vocabulary_size, name="logits")
        self.probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")

        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = self.token_embedding(token_ids)
        for layer in self.recurrent_layers:
            x = layer(x)
        outputs = self.probabilities(self.output_layer(self.output_dropout(x)))
        kwargs.setdefault("name", "rnn_language_model")
        super().__init__(inputs=token_ids, outputs=outputs, **kwargs)

        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.cell = cell
        self.dropout = dropout

    def call_with_cache(self, token_ids, cache, index):
        """Runs `token_ids` `(B, T)` (T known, usually 1) one cell step at a time from the
        carried states `cache`; returns `(logits (B, T, V), cache)`. `index` is unused:
        the state carries the position."""
        steps = token_ids.shape[1]
        if steps is None:
            raise ValueError("call_with_cache of a recurrent model needs a known number of steps (usually 1).")
        cells = [layer.cell for layer in self.recurrent_layers]
        states = [list(layer_states) for layer_states in cache]
        outputs = []
        for t in range(steps):
            x = self.token_embedding(token_ids[:, t])
            for position, cell in enumerate(cells):
                x, new_states = cell(x, states[position], training=False)
                states[position] = list(new_states)
            outputs.append(self.output_layer(x))
        return ops.stack(outputs, axis=1), states

    def build_cache(self, token_ids, length, padding_mask=None):
        """Zero states; the loop starts at position 1 so the states see every prompt token."""
        batch_size = ops.shape(token_ids)[0]
        states = [list(keras.tree.flatten(layer.cell.get_initial_state(batch_size))) for layer in self.recurrent_layers]
        return states, 1

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.dtype_policy_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "num_layers": self.num_layers,
            "cell": self.cell,
            "dropout": self.dropout,
        }


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

        x_t = E[token_t];  h_t = RNN(x_t, h_{t-1});  p(token_{t+1} | token_≤t) = softmax(Dropout(h_t) W + b)

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
        An `RNNLanguageModel`: `token_ids` `(B, T)` → `probabilities` `(B, T, vocabulary_size)`,
        with `.generate(...)`.
    """
    return RNNLanguageModel(
        vocabulary_size=vocabulary_size,
        embedding_dim=embedding_dim,
        units=units,
        num_layers=num_layers,
        cell=cell,
        dropout=dropout,
        name=name,
    )
