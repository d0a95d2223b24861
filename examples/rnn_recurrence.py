"""The simple recurrent cell: one formula, unrolled by hand, then trained on SST-2 sentences.

    python examples/rnn_recurrence.py            # about 50 s on 2 CPU cores (shared)
    python examples/rnn_recurrence.py --smoke    # a few seconds: tiny sizes, for the tests

An Elman recurrent network reads a sequence x_1 … x_T one step at a time and keeps a
hidden state h, its memory of what it has read so far:

    h_t = tanh(W_x x_t + W_h h_{t-1} + b),        h_0 = 0

Keras writes the same thing with row vectors (a batch is a stack of rows), so its
weights are the transposes: h_t = tanh(x_t W_x + h_{t-1} W_h + b), with `kernel`
W_x of shape (features, units) and `recurrent_kernel` W_h of shape (units, units).

What it shows:

1. The recurrence by hand: a NumPy loop over t with the weights of kerasnets'
   `SimpleRNNCell` gives exactly the outputs of kerasnets' `SimpleRNN` layer.
2. The same weights copied into `keras.layers.SimpleRNN` give the same outputs too.
3. Masking, by behaviour: padded steps are skipped, so padding cannot change the
   result (and without the mask it would).
4. A `rnn_classifier(cell="simple_rnn")` trained on GLUE SST-2 movie-review
   sentences: its `summary()` and its validation accuracy against always guessing
   the most common label.
5. Pictures: the hidden state h_t over the words of one real validation sentence
   (a heatmap, time × units, next to the classifier's P(positive) after each word),
   and the learning curve.
"""

import argparse
import pathlib
import time

import keras
import numpy as np

from kerasnets.data import load_text_classification
from kerasnets.layers import SimpleRNN
from kerasnets.models import rnn_classifier

# Default sizes (about 2 minutes on a small CPU) and the smoke-test sizes (seconds).
SIZES = {
    "default": dict(
        train_split="train", max_tokens=15_000, train_length=40, embedding_dim=32, units=64,
        batch_size=64, steps_per_epoch=150, epochs=8, validation_split="validation",
    ),
    "smoke": dict(
        train_split="train[:2%]", max_tokens=2_000, train_length=16, embedding_dim=16, units=16,
        batch_size=32, steps_per_epoch=10, epochs=3, validation_split="validation[:25%]",
    ),
}


# ## 1. The recurrence by hand
#
# Everything a simple RNN does is this loop. The only state carried from one step
# to the next is h; the same three weights are used at every step, which is why
# the network can read sequences of any length.
def rnn_by_hand(x, kernel, recurrent_kernel, bias, mask=None):
    """h_t for every t of `x` (B, T, F), by the formula, in NumPy. Returns (B, T, units).

    With a boolean `mask` (B, T), a False step is skipped: h stays as it was.
    """
    batch, steps, _ = x.shape
    h = np.zeros((batch, recurrent_kernel.shape[0]), dtype=np.float64)
    states = []
    for t in range(steps):
        h_new = np.tanh(x[:, t] @ kernel + h @ recurrent_kernel + bias)
        h = h_new if mask is None else np.where(mask[:, t : t + 1], h_new, h)
        states.append(h)
    return np.stack(states, axis=1)


def check_against_layers(rng):
    """Sections 1-3 on random inputs: by hand vs kerasnets vs Keras, and the mask."""
    x = rng.normal(size=(2, 7, 5)).astype("float32")  # 2 sequences, 7 steps, 5 features

    ours = SimpleRNN(6, return_sequences=True)
    ours_outputs = np.asarray(ours(x))  # calling it once creates (builds) the weights
    cell = ours.cell  # kerasnets' SimpleRNNCell: kernel (5, 6), recurrent_kernel (6, 6), bias (6,)
    kernel, recurrent_kernel, bias = (np.asarray(w, dtype=np.float64) for w in cell.get_weights())
    print(f"SimpleRNNCell weights: kernel {kernel.shape}, recurrent_kernel {recurrent_kernel.shape}, bias {bias.shape}")
    hand = rnn_by_hand(x.astype(np.float64), kernel, recurrent_kernel, bias)
    hand_difference = float(np.abs(hand - ours_outputs).max())
    print(f"1. NumPy loop vs kerasnets SimpleRNN, max |difference|: {hand_difference:.2e}")

    # ## 2. The same cell in Keras
    #
    # kerasnets' layer creates the same weights as Keras's, in the same order, so a
    # weight list can be copied from one to the other.
    theirs = keras.layers.SimpleRNN(6, return_sequences=True)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    keras_difference = float(np.abs(np.asarray(theirs(x)) - ours_outputs).max())
    print(
        "2. kerasnets SimpleRNN vs keras.layers.SimpleRNN (copied weights), max |difference|: "
        f"{keras_difference:.2e}"
    )

    # ## 3. Masking, by behaviour
    #
    # Sentences in a batch have different lengths, so the short ones are padded. The
    # mask says which steps are real; at a padded step the state is carried over
    # unchanged. So the second sequence, cut to its 3 real steps, must give the same
    # final state as the full 7 steps with garbage in steps 4-7 and the mask.
    last_only = SimpleRNN(6)
    last_only(x)
    last_only.set_weights(ours.get_weights())
    mask = np.array([[True] * 7, [True] * 3 + [False] * 4])
    masked = np.asarray(last_only(x, mask=mask))[1]
    short = np.asarray(last_only(x[1:2, :3]))[0]
    unmasked = np.asarray(last_only(x))[1]
    mask_difference = float(np.abs(masked - short).max())
    no_mask_difference = float(np.abs(unmasked - short).max())
    hand_masked = rnn_by_hand(x.astype(np.float64), kernel, recurrent_kernel, bias, mask)[1, -1]
    print(f"3. 3 real steps + 4 masked vs the 3 steps alone, max |difference|: {mask_difference:.2e}")
    print(f"   the same 7 steps without the mask (the padding is read), max |difference|: {no_mask_difference:.2f}")
    hand_mask_difference = float(np.abs(hand_masked - masked).max())
    print(f"   the NumPy loop with the mask vs the layer, max |difference|: {hand_mask_difference:.2e}")
    return {
        "hand_vs_layer_max_difference": hand_difference,
        "layer_vs_keras_max_difference": keras_difference,
        "mask_max_difference": mask_difference,
        "no_mask_max_difference": no_mask_difference,
    }


def pick_sentence(validation, length_range=(9, 16)):
    """The first validation sentence with a length in `length_range` and no unknown word
    (id 1), else the first sentence: (ids, label)."""
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
    parser.add_argument("--output-dir", default="example_outputs", help="where the pictures go")
    args = parser.parse_args(argv)
    sizes = SIZES["smoke" if args.smoke else "default"]
    output_dir = pathlib.Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    started = time.time()

    results = check_against_layers(np.random.default_rng(0))

    # ## 4. Train a simple RNN on real sentences
    #
    # GLUE SST-2: movie-review sentences (and, in the training split, their phrases)
    # labelled negative (0) or positive (1). Words become ids (0 = padding, 1 =
    # unknown), ids become learned vectors x_t, the RNN reads them, and a softmax
    # layer classifies the last hidden state h_T.
    train, tokenizer = load_text_classification(
        "glue/sst2", sizes["train_split"], sizes["batch_size"], sequence_length=sizes["train_length"],
        max_tokens=sizes["max_tokens"], tokenizer_split=sizes["train_split"], seed=0, repeat=True,
    )
    validation, _ = load_text_classification(
        "glue/sst2", sizes["validation_split"], 128, sequence_length=64, tokenizer=tokenizer
    )
    vocabulary = tokenizer.get_vocabulary()

    model = rnn_classifier(
        vocabulary_size=len(vocabulary), embedding_dim=sizes["embedding_dim"], units=sizes["units"],
        cell="simple_rnn", num_classes=2, dropout=0.2, name="sst2_simple_rnn",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.summary()

    start_loss, start_accuracy = model.evaluate(validation, verbose=0)
    history = model.fit(
        train, steps_per_epoch=sizes["steps_per_epoch"], epochs=sizes["epochs"],
        validation_data=validation, verbose=2,
    )
    loss, accuracy = model.evaluate(validation, verbose=0)

    # The baseline: always answer the label that is most common in the training data.
    train_labels = np.concatenate([y.numpy() for _, y in train.take(sizes["steps_per_epoch"])])
    validation_labels = np.concatenate([y.numpy() for _, y in validation])
    majority = int(np.mean(train_labels) >= 0.5)
    baseline = float(np.mean(validation_labels == majority))
    print(f"4. validation loss {start_loss:.3f} before training -> {loss:.3f} after")
    print(f"   validation accuracy: {accuracy:.3f} (always guessing the most common label: {baseline:.3f})")

    # ## 5. What the state looks like on one real sentence
    #
    # The trained model is still just the formula: look up the word vectors, run the
    # NumPy loop with the trained SimpleRNNCell weights, and apply the output layer
    # to h_T. It gives the model's own probability. Applying the output layer to
    # every h_t, not only the last, shows the opinion forming word by word.
    ids, label = pick_sentence(validation)
    words = [vocabulary[i] for i in ids]
    embeddings = model.get_layer("token_embedding").get_weights()[0]
    cell_weights = [w.astype(np.float64) for w in model.get_layer("simple_rnn_0").cell.get_weights()]
    dense_kernel, dense_bias = model.get_layer("probabilities").get_weights()
    states = rnn_by_hand(embeddings[ids][None].astype(np.float64), *cell_weights)[0]  # (T, units)
    logits = states @ dense_kernel + dense_bias
    p_positive_by_step = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    p_model = float(np.asarray(model(ids[None]))[0, 1])
    trained_difference = abs(float(p_positive_by_step[-1]) - p_model)
    # Padding the sentence with 30 zeros (masked) must not change the answer.
    padded_p = float(np.asarray(model(np.concatenate([ids, np.zeros(30, ids.dtype)])[None]))[0, 1])
    padding_difference = abs(padded_p - p_model)
    sentence = " ".join(words)
    print(f'5. "{sentence}" (label {label}): P(positive) = {p_model:.3f}')
    print(f"   by hand from the trained weights: {p_positive_by_step[-1]:.3f}, |difference| {trained_difference:.2e}")
    print(f"   with 30 padding ids appended: {padded_p:.3f}, |difference| {padding_difference:.2e}")

    pictures = draw(states, words, p_positive_by_step, label, history, start_loss, start_accuracy, baseline, output_dir)
    for path in pictures:
        print("saved", path)
    elapsed = time.time() - started
    print(f"done in {elapsed:.0f} s")
    results.update(
        {
            "start_loss": float(start_loss),
            "loss": float(loss),
            "start_accuracy": float(start_accuracy),
            "accuracy": float(accuracy),
            "baseline_accuracy": baseline,
            "train_losses": [float(v) for v in history.history["loss"]],
            "trained_hand_vs_model_difference": trained_difference,
            "padding_difference": padding_difference,
            "sentence": sentence,
            "parameters": model.count_params(),
            "seconds": elapsed,
            "pictures": [str(p) for p in pictures],
        }
    )
    return results


def draw(states, words, p_positive_by_step, label, history, start_loss, start_accuracy, baseline, output_dir):
    """The hidden-state heatmap and the learning curve; returns their paths."""
    steps_per_epoch = history.params["steps"]
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    steps, units = states.shape
    figure, (heat, opinion) = plt.subplots(
        1, 2, figsize=(11, 1.2 + 0.38 * steps), gridspec_kw={"width_ratios": [4, 1]}, sharey=True
    )
    image = heat.imshow(states, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    heat.set_yticks(range(steps), words)
    heat.set_xlabel("hidden unit")
    heat.set_ylabel("time step t (word read)")
    heat.set_title("h_t = tanh(W_x x_t + W_h h_{t-1} + b)")
    figure.colorbar(image, ax=heat, fraction=0.04, pad=0.02, label="h_t")
    colours = np.where(p_positive_by_step > 0.5, "tab:red", "tab:blue")
    opinion.barh(range(steps), p_positive_by_step - 0.5, left=0.5, color=colours)
    opinion.axvline(0.5, color="gray", linewidth=0.8)
    opinion.set_xlim(0, 1)
    opinion.set_xlabel("P(positive) from h_t")
    opinion.set_title(f"true label: {'positive' if label else 'negative'}")
    figure.tight_layout()
    hidden_path = output_dir / "rnn_recurrence_hidden_state.png"
    figure.savefig(hidden_path, dpi=100)
    plt.close(figure)

    epochs = range(len(history.history["loss"]) + 1)
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot(epochs[1:], history.history["loss"], "o-", label="training (running mean)")
    loss_axes.plot(epochs, [start_loss, *history.history["val_loss"]], "o-", label="validation")
    loss_axes.set_xlabel(f"epoch ({steps_per_epoch} batches)")
    loss_axes.set_ylabel("cross-entropy")
    loss_axes.legend()
    accuracy_axes.plot(epochs, [start_accuracy, *history.history["val_accuracy"]], "o-", label="validation")
    accuracy_axes.axhline(baseline, color="gray", linestyle="--", label="most common label")
    accuracy_axes.set_xlabel(f"epoch ({steps_per_epoch} batches)")
    accuracy_axes.set_ylabel("accuracy")
    accuracy_axes.legend()
    figure.suptitle("Simple RNN on SST-2")
    figure.tight_layout()
    curve_path = output_dir / "rnn_recurrence_learning_curve.png"
    figure.savefig(curve_path, dpi=100)
    plt.close(figure)
    return [hidden_path, curve_path]


if __name__ == "__main__":
    main()
