"""Sinusoidal positional encoding: where a Transformer learns *where* each token is.

    python examples/positional_encoding.py            # about 85 s on 2 CPU cores (shared; 75 s of CPU)
    python examples/positional_encoding.py --smoke    # tiny sizes, a few steps

The table of Vaswani et al. 2017 (§3.5), added to the token embeddings:

    PE(pos, 2i)   = sin(pos / 10000^{2i/d}) = sin(pos · ω_i)
    PE(pos, 2i+1) = cos(pos / 10000^{2i/d}) = cos(pos · ω_i)

Each pair of columns is a clock hand turning at its own speed ω_i, from one turn
every 2π positions (i = 0) to one every 2π·10000 positions.

1. kerasnets' `PositionalEncoding` against the formula in NumPy.
2. Moving k positions is one fixed linear map, the same for every pos: each pair
   (sin, cos) is rotated by the angle k·ω_i, so PE(pos + k) = R_k PE(pos). Hence
   PE(p)·PE(q) = Σ_i cos((p − q) ω_i) depends on p − q alone.
3. Why positions are needed: attention without them is permutation-equivariant —
   shuffle the input tokens and the outputs come out shuffled the same way, so the
   model cannot tell "dog bites man" from "man bites dog" (shown by behaviour).
4. Real data: the same tiny character model on Tiny Shakespeare with and without
   the positional encoding; validation loss of each (and the unigram baseline).
5. Picture: the PE heatmap (positions × dimensions) and PE(p)·PE(q) against |p − q|
   (`positional_encoding.png`), and the two learning curves (`positional_encoding_training.png`).
"""

import argparse
import math
import pathlib
import time

import keras
import numpy as np

from kerasnets.data import load_language_modeling, load_text
from kerasnets.layers import MultiHeadAttention, PositionalEncoding, TransformerDecoderBlock, TransformerEncoderBlock


def numpy_positional_encoding(length, dim, max_wavelength=10000.0):
    """PE[pos, 2i] = sin(pos / w^{2i/d}), PE[pos, 2i+1] = cos(pos / w^{2i/d}), in float64."""
    positions = np.arange(length)[:, None]
    frequencies = max_wavelength ** (-np.arange(0, dim, 2) / dim)  # ω_i for i = 0 … d/2 − 1
    table = np.zeros((length, dim))
    table[:, 0::2] = np.sin(positions * frequencies)
    table[:, 1::2] = np.cos(positions * frequencies)
    return table


def rotation(k, dim, max_wavelength=10000.0):
    """The d×d block-diagonal matrix R_k with PE(pos + k) = R_k PE(pos) for every pos.

    sin((p+k)ω) = sin(pω) cos(kω) + cos(pω) sin(kω)
    cos((p+k)ω) = cos(pω) cos(kω) − sin(pω) sin(kω)
    """
    matrix = np.zeros((dim, dim))
    for i, omega in enumerate(max_wavelength ** (-np.arange(0, dim, 2) / dim)):
        c, s = np.cos(k * omega), np.sin(k * omega)
        matrix[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, s], [-s, c]]
    return matrix


def max_difference(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype="float64") - np.asarray(b, dtype="float64"))))


def character_model(vocabulary_size, context, hidden_dim, num_layers, use_positions, name):
    """Characters → √d·embedding (+ PE) → causal pre-LN decoder blocks → next-character probabilities."""
    token_ids = keras.Input(shape=(context,), dtype="int32", name="token_ids")
    initializer = keras.initializers.RandomNormal(stddev=hidden_dim**-0.5)
    x = keras.layers.Embedding(vocabulary_size, hidden_dim, embeddings_initializer=initializer,
                               name="token_embedding")(token_ids)  # fmt: skip
    x = keras.layers.Rescaling(math.sqrt(hidden_dim), name="scale_sqrt_d")(x)  # as in the paper, §3.4
    if use_positions:
        x = PositionalEncoding(sequence_length=context, name="positional_encoding")(x)
    for index in range(num_layers):
        x = TransformerDecoderBlock(intermediate_dim=2 * hidden_dim, num_heads=4, normalize_first=True,
                                    name=f"decoder_block_{index}")(x)  # fmt: skip
    x = keras.layers.LayerNormalization(name="final_norm")(x)
    probabilities = keras.layers.Dense(vocabulary_size, activation="softmax", name="next_character")(x)
    return keras.Model(token_ids, probabilities, name=name)


def validation_loss(model, dataset):
    """Mean cross-entropy −log p(next character) over a dataset, in nats per character."""
    losses = []
    for inputs, targets in dataset:
        probabilities = np.asarray(model(inputs, training=False))
        picked = np.take_along_axis(probabilities, np.asarray(targets)[..., None], axis=-1)
        losses.append(-np.log(np.maximum(picked, 1e-12)).ravel())
    return float(np.mean(np.concatenate(losses)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and a few steps (for the tests)")
    parser.add_argument("--output-dir", default="example_outputs", help="where the pictures go")
    parser.add_argument("--steps", type=int, default=None, help="training steps per model (default 700, smoke 25)")
    args = parser.parse_args(argv)
    output_dir = pathlib.Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    results = {}

    # ## 1. The table
    #
    # The layer adds PE to its input, so feeding it zeros shows the table itself.
    length, dim = 64, 32
    ours = np.asarray(PositionalEncoding(sequence_length=length)(np.zeros((1, length, dim), "float32")))[0]
    table = numpy_positional_encoding(length, dim)
    results["pe_vs_numpy"] = max_difference(ours, table)
    print(f"1. PositionalEncoding vs NumPy ({length} positions × {dim} dims): max |difference| = "
          f"{results['pe_vs_numpy']:.2e}")  # fmt: skip

    # ## 2. A shift is a rotation
    #
    # R_k rotates each (sin, cos) pair by k·ω_i. It does not depend on pos, which is
    # what lets attention read *relative* positions off a dot product: a query
    # can learn "look 3 characters back" once for every position.
    shift_errors = []
    for k in (1, 3, 10):
        shifted = table[:-k] @ rotation(k, dim).T  # row p: R_k PE(p)
        shift_errors.append(max_difference(shifted, table[k:]))  # row p: PE(p + k)
        # kerasnets' float32 table obeys the same map up to rounding.
        shift_errors.append(max_difference(ours[:-k] @ rotation(k, dim).T, ours[k:]))
    results["shift_is_rotation"] = max(shift_errors)
    norms = np.linalg.norm(table, axis=1)
    results["pe_norm_spread"] = float(norms.max() - norms.min())  # a rotation keeps lengths: |PE(p)|² = d/2
    dots = table @ table.T
    # PE(p)·PE(q) is a function of p − q: equal along every diagonal of the Gram matrix.
    results["dot_depends_on_offset_only"] = max(
        float(np.ptp(np.diagonal(dots, offset))) for offset in range(-length + 1, length)
    )
    print(f"2. PE(pos + k) = R_k PE(pos) for k = 1, 3, 10 and every pos: max |difference| = "
          f"{results['shift_is_rotation']:.2e}")  # fmt: skip
    print(f"   |PE(pos)| is √(d/2) = {math.sqrt(dim / 2):.3f} at every pos (spread {results['pe_norm_spread']:.1e}); "
          f"PE(p)·PE(q) depends on p − q only "
          f"(spread along offsets {results['dot_depends_on_offset_only']:.1e})")  # fmt: skip

    # ## 3. Without positions, order is invisible
    #
    # Self-attention compares every token with every other by content alone. Permute
    # the tokens (a permutation P of the rows of x) and each output row follows its
    # token: f(P x) = P f(x). The same for a whole encoder block, whose feed-forward
    # network acts on each position alone. Add PE and the symmetry is gone.
    x = rng.normal(size=(1, 12, dim)).astype("float32")
    permutation = rng.permutation(12)
    attention = MultiHeadAttention(num_heads=4, key_dim=8)
    block = TransformerEncoderBlock(intermediate_dim=64, num_heads=4)
    add_positions = PositionalEncoding(sequence_length=12)
    for name, layer in (("attention", lambda h: attention(h, h)), ("encoder_block", block)):
        results[f"{name}_equivariance"] = max_difference(layer(x[:, permutation]), np.asarray(layer(x))[:, permutation])
        shuffled_then_encoded = layer(add_positions(x[:, permutation]))
        encoded_then_shuffled = np.asarray(layer(add_positions(x)))[:, permutation]
        results[f"{name}_equivariance_with_pe"] = max_difference(shuffled_then_encoded, encoded_then_shuffled)
    print("3. Shuffle the tokens: does the output just shuffle along? |f(Px) − P f(x)|, max:")
    for name in ("attention", "encoder_block"):
        print(f"   {name:14s} no positions: {results[f'{name}_equivariance']:.2e}   "
              f"with PE: {results[f'{name}_equivariance_with_pe']:.2e}")  # fmt: skip

    # ## 4. Does a language model need them?
    #
    # One small character model, trained twice from the same initial weights: with
    # PE added to the embeddings, and without. Both are causal (a position sees only
    # the characters before it), and the causal mask itself leaks a little position
    # information (position t averages over t + 1 keys), so the model without PE is
    # not blind; but nothing tells it directly *which* earlier character came right
    # before, and that is most of what predicts the next one.
    context = 32 if args.smoke else 64
    hidden_dim = 32 if args.smoke else 64
    batch_size = 16 if args.smoke else 32
    steps = args.steps or (25 if args.smoke else 700)
    train, tokenizer = load_language_modeling("tiny_shakespeare", "train", sequence_length=context,
                                              batch_size=batch_size, seed=0, repeat=True, cache=False)  # fmt: skip
    validation, _ = load_language_modeling("tiny_shakespeare", "validation", sequence_length=context,
                                           batch_size=batch_size, tokenizer=tokenizer, cache=False)  # fmt: skip
    validation = validation.take(4 if args.smoke else 12)
    vocabulary_size = tokenizer.vocabulary_size()

    train_ids = np.asarray(tokenizer.tokenize_ragged(next(iter(load_text("tiny_shakespeare", "train")))))
    frequencies = (np.bincount(train_ids, minlength=vocabulary_size) + 1.0) / (len(train_ids) + vocabulary_size)
    validation_targets = np.concatenate([np.asarray(t).ravel() for _, t in validation])
    results["unigram_loss"] = float(-np.mean(np.log(frequencies[validation_targets])))

    curves = {}
    for use_positions in (True, False):
        label = "with_pe" if use_positions else "no_positions"
        keras.utils.set_random_seed(0)  # the same initial weights and batches for both
        model = character_model(vocabulary_size, context, hidden_dim, num_layers=2, use_positions=use_positions,
                                name=f"characters_{label}")  # fmt: skip
        if use_positions:
            model.summary()  # the other model is the same, less the (weightless) positional_encoding layer
        model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                      jit_compile=not args.smoke)  # fmt: skip
        results[f"initial_loss_{label}"] = validation_loss(model, validation)
        started = time.time()
        # Ten "epochs" of steps/10 batches each: ten points on the learning curve.
        history = model.fit(train, epochs=10, steps_per_epoch=max(1, steps // 10), shuffle=False, verbose=0)
        curves[label] = history.history["loss"]
        results[f"validation_loss_{label}"] = validation_loss(model, validation)
        print(f"4. {label:12s}: validation loss {results[f'validation_loss_{label}']:.3f} nats/char after "
              f"{steps} steps ({time.time() - started:.0f} s; "
              f"untrained {results[f'initial_loss_{label}']:.3f})")  # fmt: skip
    print(f"   unigram baseline {results['unigram_loss']:.3f}, uniform guess {math.log(vocabulary_size):.3f}; "
          f"the positional encoding is worth "
          f"{results['validation_loss_no_positions'] - results['validation_loss_with_pe']:.3f} nats/char")  # fmt: skip

    # ## 5. Pictures
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    big = numpy_positional_encoding(128, 64)
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    image = left.imshow(big, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
    left.set_title("PE(pos, j): sin in even columns, cos in odd; slower to the right")
    left.set_xlabel("dimension j (d = 64)")
    left.set_ylabel("position pos")
    figure.colorbar(image, ax=left)
    gram = big @ big.T
    offsets = np.abs(np.subtract.outer(np.arange(128), np.arange(128)))
    right.scatter(offsets.ravel(), gram.ravel(), s=2, alpha=0.3, label="every pair (p, q)")
    right.plot(np.arange(128), gram[0], color="black", linewidth=1.5, label="q = 0")
    right.set_title("PE(p)·PE(q) depends on |p − q| only, and falls off with it")
    right.set_xlabel("|p − q|")
    right.set_ylabel("PE(p)·PE(q)   (= d/2 = 32 at p = q)")
    right.legend()
    figure.tight_layout()
    picture = output_dir / "positional_encoding.png"
    figure.savefig(picture, dpi=100)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(8, 5))
    for label, losses in curves.items():
        seen = max(1, steps // 10) * np.arange(1, len(losses) + 1)
        axis.plot(seen, losses, marker="o", label=f"{label}: validation {results[f'validation_loss_{label}']:.3f}")
    axis.axhline(results["unigram_loss"], color="gray", linestyle="--", label="unigram baseline")
    axis.set_xlabel("training step")
    axis.set_ylabel("training loss (nats/char), mean over the last steps/10")
    axis.set_title("The same character model with and without positional encoding")
    axis.legend()
    figure.tight_layout()
    curves_picture = output_dir / "positional_encoding_training.png"
    figure.savefig(curves_picture, dpi=100)
    plt.close(figure)
    print(f"5. pictures → {picture}, {curves_picture}")
    results["training_curves"] = curves
    results["pictures"] = [str(picture), str(curves_picture)]
    return results


if __name__ == "__main__":
    main()
