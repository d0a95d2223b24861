"""The LSTM cell, gate by gate: one step by hand, checked against Keras, then trained on SST-2.

    python examples/lstm_gates.py            # about 105 s on 2 CPU cores (shared)
    python examples/lstm_gates.py --smoke    # a few seconds: tiny sizes, for the tests

A simple RNN overwrites its whole state at every step. A long short-term memory cell
keeps a second state, the cell state c, and three gates (numbers between 0 and 1, one
per unit) decide what happens to it:

    i = σ(W_i x_t + U_i h_{t-1} + b_i)          input gate:  how much new content to write
    f = σ(W_f x_t + U_f h_{t-1} + b_f)          forget gate: how much of c_{t-1} to keep
    o = σ(W_o x_t + U_o h_{t-1} + b_o)          output gate: how much of the cell to show
    g = tanh(W_g x_t + U_g h_{t-1} + b_g)       candidate content
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

(σ is the logistic sigmoid and ⊙ the elementwise product.) Because c_t is f ⊙ c_{t-1}
plus something, not a squashed product with a matrix, a cell with f ≈ 1 carries its
content (and its gradient) across many steps.

What it shows:

1. One step by hand in NumPy with the weights of kerasnets' `LSTMCell` gives its h_t
   and c_t.
2. kerasnets' `LSTM` layer equals `keras.layers.LSTM` with copied weights, and the
   NumPy loop over a whole sequence equals both.
3. An LSTM classifier (`rnn_classifier(cell="lstm")`) trained on GLUE SST-2 sentences:
   its `summary()`, its validation accuracy against a simple RNN of the same width
   trained the same way and against always guessing the most common label.
4. Picture: the gates f, i, o and the cell state c_t over the words of one real
   validation sentence (heatmaps, time × units), from the trained weights.
"""

import argparse
import pathlib
import time

import keras
import numpy as np

from kerasnets.data import load_text_classification
from kerasnets.layers import LSTM, LSTMCell
from kerasnets.models import rnn_classifier

SIZES = {
    "default": dict(
        train_split="train", max_tokens=15_000, train_length=40, embedding_dim=32, units=48,
        batch_size=64, steps_per_epoch=150, epochs=6, validation_split="validation",
    ),
    "smoke": dict(
        train_split="train[:2%]", max_tokens=2_000, train_length=16, embedding_dim=16, units=16,
        batch_size=32, steps_per_epoch=8, epochs=2, validation_split="validation[:25%]",
    ),
}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ## 1. One step by hand
#
# Keras keeps the four weight matrices of the gates side by side in one `kernel`
# (features, 4·units), one `recurrent_kernel` (units, 4·units) and one `bias`
# (4·units,), in the order i, f, g (Keras calls it c), o, and uses row vectors:
# z = x_t W + h_{t-1} U + b, then splits z into four blocks of `units`.
def lstm_step(x_t, h, c, kernel, recurrent_kernel, bias):
    """One LSTM step in NumPy: returns (h_t, c_t, gates) with gates = {"i", "f", "g", "o"}."""
    z = x_t @ kernel + h @ recurrent_kernel + bias
    z_i, z_f, z_g, z_o = np.split(z, 4, axis=-1)
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)
    g = np.tanh(z_g)
    c = f * c + i * g
    h = o * np.tanh(c)
    return h, c, {"i": i, "f": f, "g": g, "o": o}


def lstm_by_hand(x, kernel, recurrent_kernel, bias):
    """The NumPy loop over `x` (B, T, F) from h_0 = c_0 = 0.

    Returns {"h", "c", "i", "f", "g", "o"}, each (B, T, units).
    """
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    record = {name: [] for name in ("h", "c", "i", "f", "g", "o")}
    for t in range(steps):
        h, c, gates = lstm_step(x[:, t], h, c, kernel, recurrent_kernel, bias)
        for name, value in {"h": h, "c": c, **gates}.items():
            record[name].append(value)
    return {name: np.stack(values, axis=1) for name, values in record.items()}


def check_against_layers(rng):
    """Sections 1-2 on random inputs."""
    cell = LSTMCell(4)
    x_t = rng.normal(size=(2, 3)).astype("float32")
    h_prev = rng.normal(size=(2, 4)).astype("float32")
    c_prev = rng.normal(size=(2, 4)).astype("float32")
    h, (_, c) = cell(x_t, [h_prev, c_prev])
    weights = [w.astype(np.float64) for w in cell.get_weights()]
    print(f"LSTMCell weights: kernel {weights[0].shape}, recurrent_kernel {weights[1].shape}, bias {weights[2].shape}")
    # unit_forget_bias: b_f starts at 1, so f ≈ σ(1) ≈ 0.73 before any training: remember by default.
    print("   bias blocks i, f, g, o at initialisation:", [float(b.mean()) for b in np.split(weights[2], 4)])
    h_hand, c_hand, _ = lstm_step(x_t, h_prev, c_prev, *weights)
    step_difference = float(max(np.abs(h_hand - np.asarray(h)).max(), np.abs(c_hand - np.asarray(c)).max()))
    print(f"1. one step by hand vs kerasnets LSTMCell, max |difference| over h_t and c_t: {step_difference:.2e}")

    # ## 2. A whole sequence: kerasnets' LSTM, Keras's LSTM, and the NumPy loop
    x = rng.normal(size=(2, 9, 3)).astype("float32")
    ours = LSTM(4, return_sequences=True, return_state=True)
    theirs = keras.layers.LSTM(4, return_sequences=True, return_state=True)
    ours(x), theirs(x)  # build both
    theirs.set_weights(ours.get_weights())  # same weights, same order: kernel, recurrent_kernel, bias
    ours_out, theirs_out = [[np.asarray(t) for t in layer(x)] for layer in (ours, theirs)]
    keras_difference = float(max(np.abs(a - b).max() for a, b in zip(ours_out, theirs_out)))
    print(
        "2. kerasnets LSTM vs keras.layers.LSTM (copied weights), max |difference| over h_1…h_T, h_T, c_T: "
        f"{keras_difference:.2e}"
    )
    hand = lstm_by_hand(x.astype(np.float64), *[w.astype(np.float64) for w in ours.cell.get_weights()])
    sequence_difference = float(
        max(np.abs(hand["h"] - ours_out[0]).max(), np.abs(hand["c"][:, -1] - ours_out[2]).max())
    )
    print(f"   NumPy loop vs kerasnets LSTM over 9 steps, max |difference|: {sequence_difference:.2e}")
    return {
        "step_max_difference": step_difference,
        "lstm_vs_keras_max_difference": keras_difference,
        "sequence_max_difference": sequence_difference,
    }


def train_classifier(cell, train, validation, vocabulary_size, sizes, summary=False):
    """A `rnn_classifier` with `cell`, trained for the budget in `sizes`; returns (model, history, start loss)."""
    keras.utils.set_random_seed(0)  # the same start and the same batches for both cells
    model = rnn_classifier(
        vocabulary_size=vocabulary_size, embedding_dim=sizes["embedding_dim"], units=sizes["units"],
        cell=cell, num_classes=2, dropout=0.2, name=f"sst2_{cell}",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    if summary:
        model.summary()
    start_loss, _ = model.evaluate(validation, verbose=0)
    history = model.fit(
        train, steps_per_epoch=sizes["steps_per_epoch"], epochs=sizes["epochs"],
        validation_data=validation, verbose=2,
    )
    return model, history, float(start_loss)


def pick_sentence(validation, length_range=(9, 16)):
    """The first validation sentence of a length in `length_range` with no unknown word (id 1)."""
    for ids, labels in validation:
        ids, labels = ids.numpy(), labels.numpy()
        lengths = (ids > 0).sum(axis=1)
        for row in range(len(ids)):
            if length_range[0] <= lengths[row] <= length_range[1] and not np.any(ids[row] == 1):
                return ids[row, : lengths[row]], int(labels[row])
    ids, labels = next(iter(validation))
    ids = ids.numpy()[0]
    return ids[ids > 0], int(labels.numpy()[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and a few steps (for the tests)")
    parser.add_argument("--output-dir", default="example_outputs", help="where the picture goes")
    args = parser.parse_args(argv)
    sizes = SIZES["smoke" if args.smoke else "default"]
    output_dir = pathlib.Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    started = time.time()

    results = check_against_layers(np.random.default_rng(0))

    # ## 3. Train on real sentences: LSTM vs a simple RNN
    #
    # GLUE SST-2 movie-review sentences, negative (0) or positive (1). Both models
    # are the same except for the cell: embedding → recurrent layer → softmax on the
    # last h. An LSTM of the same width has four times the recurrent weights. SST-2
    # sentences are short (about 20 words), so a simple RNN is not far behind here and
    # the gap moves a little from run to run; the gates matter most when something
    # must be remembered over many steps.
    train, tokenizer = load_text_classification(
        "glue/sst2", sizes["train_split"], sizes["batch_size"], sequence_length=sizes["train_length"],
        max_tokens=sizes["max_tokens"], tokenizer_split=sizes["train_split"], seed=0, repeat=True,
    )
    validation, _ = load_text_classification(
        "glue/sst2", sizes["validation_split"], 128, sequence_length=64, tokenizer=tokenizer
    )
    vocabulary = tokenizer.get_vocabulary()

    lstm_model, lstm_history, start_loss = train_classifier(
        "lstm", train, validation, len(vocabulary), sizes, summary=True
    )
    rnn_model, rnn_history, _ = train_classifier("simple_rnn", train, validation, len(vocabulary), sizes)
    loss, accuracy = lstm_model.evaluate(validation, verbose=0)
    rnn_loss, rnn_accuracy = rnn_model.evaluate(validation, verbose=0)
    train_labels = np.concatenate([y.numpy() for _, y in train.take(sizes["steps_per_epoch"])])
    validation_labels = np.concatenate([y.numpy() for _, y in validation])
    baseline = float(np.mean(validation_labels == int(np.mean(train_labels) >= 0.5)))
    steps = sizes["steps_per_epoch"] * sizes["epochs"]
    print(f"3. after {steps} batches of {sizes['batch_size']}, validation (loss {start_loss:.3f} before training):")
    print(f"   LSTM        accuracy {accuracy:.3f}  loss {loss:.3f}  ({lstm_model.count_params():,} parameters)")
    print(f"   simple RNN  accuracy {rnn_accuracy:.3f}  loss {rnn_loss:.3f}  ({rnn_model.count_params():,} parameters)")
    print(f"   always guessing the most common label: {baseline:.3f}")
    bias = lstm_model.get_layer("lstm_0").cell.get_weights()[2]
    print("   LSTM bias blocks i, f, g, o after training:", [round(float(b.mean()), 3) for b in np.split(bias, 4)])

    # ## 4. The gates on one real sentence
    #
    # The trained model is the formula: word vectors → the NumPy loop with the trained
    # LSTMCell weights → the output layer on h_T gives the model's own probability.
    # The loop also records every gate, which is what the picture shows.
    ids, label = pick_sentence(validation)
    words = [vocabulary[i] for i in ids]
    embeddings = lstm_model.get_layer("token_embedding").get_weights()[0]
    cell_weights = [w.astype(np.float64) for w in lstm_model.get_layer("lstm_0").cell.get_weights()]
    trace = lstm_by_hand(embeddings[ids][None].astype(np.float64), *cell_weights)
    trace = {name: value[0] for name, value in trace.items()}  # the one sentence: (T, units) each
    dense_kernel, dense_bias = lstm_model.get_layer("probabilities").get_weights()
    logits = trace["h"][-1] @ dense_kernel + dense_bias
    p_hand = float(np.exp(logits[1]) / np.exp(logits).sum())
    p_model = float(np.asarray(lstm_model(ids[None]))[0, 1])
    padded_p = float(np.asarray(lstm_model(np.concatenate([ids, np.zeros(30, ids.dtype)])[None]))[0, 1])
    sentence = " ".join(words)
    print(f'4. "{sentence}" (label {label}): P(positive) = {p_model:.3f}; by hand {p_hand:.3f}; '
          f"with 30 padding ids {padded_p:.3f}")
    print("   mean gate values over the sentence: " + ", ".join(f"{g} {trace[g].mean():.2f}" for g in "fio"))

    pictures = [draw(trace, words, label, p_model, output_dir)]
    print("saved", pictures[0])
    elapsed = time.time() - started
    print(f"done in {elapsed:.0f} s")
    results.update(
        {
            "start_loss": start_loss,
            "loss": float(loss),
            "accuracy": float(accuracy),
            "simple_rnn_loss": float(rnn_loss),
            "simple_rnn_accuracy": float(rnn_accuracy),
            "baseline_accuracy": baseline,
            "lstm_parameters": lstm_model.count_params(),
            "simple_rnn_parameters": rnn_model.count_params(),
            "train_losses": [float(v) for v in lstm_history.history["loss"]],
            "simple_rnn_train_losses": [float(v) for v in rnn_history.history["loss"]],
            "trained_hand_vs_model_difference": abs(p_hand - p_model),
            "padding_difference": abs(padded_p - p_model),
            "gates": {g: trace[g] for g in ("f", "i", "o", "c")},
            "sentence": sentence,
            "seconds": elapsed,
            "pictures": [str(p) for p in pictures],
        }
    )
    return results


def draw(trace, words, label, p_positive, output_dir):
    """Heatmaps of f, i, o (0…1) and c_t over the sentence; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    steps = len(words)
    panels = [
        ("f", "forget gate f", "viridis", (0, 1)),
        ("i", "input gate i", "viridis", (0, 1)),
        ("o", "output gate o", "viridis", (0, 1)),
        ("c", "cell state c_t", "RdBu_r", None),
    ]
    figure, axes = plt.subplots(1, 4, figsize=(15, 1.6 + 0.38 * steps), sharey=True, layout="constrained")
    limit = float(np.abs(trace["c"]).max()) or 1.0
    for axis, (key, title, colours, value_range) in zip(axes, panels):
        low, high = value_range or (-limit, limit)
        image = axis.imshow(trace[key], aspect="auto", cmap=colours, vmin=low, vmax=high, interpolation="nearest")
        axis.set_title(title)
        axis.set_xlabel("unit")
        figure.colorbar(image, ax=axis, location="bottom", shrink=0.8, aspect=30, label=key)
    axes[0].set_yticks(range(steps), words)
    axes[0].set_ylabel("time step t (word read)")
    figure.suptitle(
        f"LSTM gates on one SST-2 validation sentence (label {'positive' if label else 'negative'}, "
        f"P(positive) = {p_positive:.2f}):  c_t = f⊙c_(t-1) + i⊙g,  h_t = o⊙tanh(c_t)"
    )
    path = output_dir / "lstm_gates.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


if __name__ == "__main__":
    main()
