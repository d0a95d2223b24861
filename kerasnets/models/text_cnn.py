import keras

from kerasnets.layers.max_over_time_pooling import MaxOverTimePooling


def text_cnn(
    *,
    vocabulary_size=20000,
    sequence_length=None,
    embedding_dim=128,
    ngram_sizes=(3, 4, 5),
    filters=100,
    dropout=0.5,
    max_norm=None,
    num_classes=2,
    name="text_cnn",
):
    """A convolutional sentence classifier (Kim 2014, CNN-rand).

        e = Embedding(token_ids)                               (B, T, d)
        c_n = ReLU(Conv1D_n(e))  for each n-gram width n        (B, T-n+1, F)
        z = [max_t c_3, max_t c_4, max_t c_5]                   (B, 3F)
        p = softmax(Dropout(z) W + b),   ‖W[:, k]‖₂ ≤ s after every step (max_norm=s)

    Token id 0 is padding. An n-gram window that touches padding is left out
    of the max (`MaxOverTimePooling`), so padding never changes the output.
    Inputs must be at least `max(ngram_sizes)` tokens long.

    Args:
        vocabulary_size: Number of token ids (0 = padding).
        sequence_length: Fixed input length, or None for any length.
        embedding_dim: Width of the word vectors.
        ngram_sizes: Convolution widths, one branch each.
        filters: Feature maps per width.
        dropout: Dropout before the classifier (0.5 in the paper).
        max_norm: Kim's l2 constraint: each class's weight vector of the output
            layer is rescaled to norm `max_norm` when an update takes it past
            (3 in the paper); None for no constraint.
        num_classes: Output classes.
        name: Model name.

    Returns:
        A Functional model: `token_ids` → `probabilities`.
    """
    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    padding_mask = keras.ops.not_equal(token_ids, 0)
    embedded = keras.layers.Embedding(vocabulary_size, embedding_dim, name="token_embedding")(token_ids)
    pooled = []
    for n in ngram_sizes:
        features = keras.layers.Conv1D(filters, n, activation="relu", name=f"conv_{n}gram")(embedded)
        pooled.append(MaxOverTimePooling(n, name=f"max_pool_{n}gram")(features, mask=padding_mask))
    x = keras.layers.Concatenate(name="concatenate")(pooled) if len(pooled) > 1 else pooled[0]
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    constraint = keras.constraints.MaxNorm(max_norm, axis=0) if max_norm is not None else None
    outputs = keras.layers.Dense(num_classes, activation="softmax", kernel_constraint=constraint, dtype="float32",
                                 name="probabilities")(x)  # fmt: skip
    return keras.Model(token_ids, outputs, name=name)
