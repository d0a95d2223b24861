"""Attention, three kinds: self, cross and causal, from the formula to a model trained on Shakespeare.

    python examples/attention_three_kinds.py            # about 65 s on 2 CPU cores (shared; 45 s of CPU)
    python examples/attention_three_kinds.py --smoke    # tiny sizes, a few steps

The one formula (Vaswani et al. 2017, §3.2.1):

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + M) V       M_ij = 0 (may attend) or −∞ (masked)

Each query (a row of Q) scores every key (a row of K), the scores become weights
that sum to one, and the output is that weighted average of the values (rows of V).
What changes between the three kinds is only *where Q, K and V come from* and M:

    self:   Q, K, V all from one sequence x (an encoder: every position sees every other)
    cross:  Q from the decoder's sequence y, K and V from the encoder's output x
    causal: self-attention with the look-ahead mask M_ij = −∞ for j > i (a decoder, GPT)

1. The formula by hand in NumPy against kerasnets' `ScaledDotProductAttention`,
   without and with the causal mask.
2. The three kinds with kerasnets' `MultiHeadAttention`, each checked against
   `keras.layers.MultiHeadAttention` with copied weights.
3. Causality by behaviour: editing a *future* token changes no earlier output of a
   causal model (a GPT, a decoder block), while an encoder block and the cross-attention
   (which sees the whole source) change everywhere.
4. Real data: a tiny encoder–decoder Transformer reads 32 characters of Tiny
   Shakespeare (encoder: self-attention) and predicts the next 32 (decoder: causal
   self-attention + cross-attention over the encoder); its validation loss against
   the unigram baseline (character frequencies alone).
5. Picture: the three attention patterns of the trained model on a validation passage,
   side by side (`attention_three_kinds.png`).
"""

import argparse
import math
import pathlib
import time

import keras
import numpy as np

from kerasnets.data import load_language_modeling, load_text
from kerasnets.layers import (
    MultiHeadAttention,
    ScaledDotProductAttention,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from kerasnets.models import gpt, transformer

SOURCE = 32  # characters the encoder reads
TARGET = 32  # characters the decoder predicts


def numpy_attention(q, k, v, mask=None):
    """softmax(Q Kᵀ / √d_k + M) V in plain NumPy; `mask` True = may attend."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)  # exp(−∞) = 0: no weight at all
    scores = scores - scores.max(-1, keepdims=True)  # the same softmax, without overflow
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    return weights @ v, weights


def max_difference(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype="float64") - np.asarray(b, dtype="float64"))))


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
    parser.add_argument("--output-dir", default="example_outputs", help="where the picture goes")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 1000, smoke 30)")
    args = parser.parse_args(argv)
    output_dir = pathlib.Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    results = {}

    # ## 1. The formula by hand
    #
    # Three small random matrices are enough to check the arithmetic: 4 queries and
    # 6 keys/values of width d_k = 8. Dividing by √d_k keeps the scores' spread about
    # one whatever the width, so the softmax does not saturate as d_k grows.
    q = rng.normal(size=(1, 4, 8)).astype("float32")
    k, v = (rng.normal(size=(1, 6, 8)).astype("float32") for _ in range(2))
    expected, _ = numpy_attention(q, k, v)
    ours = ScaledDotProductAttention()(q, k, v)
    results["attention_vs_numpy"] = max_difference(ours, expected)
    print(f"1. softmax(QKᵀ/√d_k)V, ScaledDotProductAttention vs NumPy: max |difference| = "
          f"{results['attention_vs_numpy']:.2e}")  # fmt: skip

    # The causal mask is a lower triangle: query i may look at keys j ≤ i.
    x = rng.normal(size=(1, 5, 8)).astype("float32")
    lower_triangle = np.tril(np.ones((5, 5), dtype=bool))
    expected, expected_weights = numpy_attention(x, x, x, lower_triangle)
    ours, our_weights = ScaledDotProductAttention()(x, x, x, mask=lower_triangle, return_attention_scores=True)
    results["causal_attention_vs_numpy"] = max_difference(ours, expected)
    print(f"   with the causal mask: max |difference| = {results['causal_attention_vs_numpy']:.2e}; "
          f"weights above the diagonal: {float(np.abs(np.triu(np.asarray(our_weights)[0], 1)).max())}")  # fmt: skip

    # ## 2. Three kinds, one layer
    #
    # Multi-head attention first projects Q, K and V with learned matrices (one slice
    # per head), attends in each head, and projects the concatenated heads back.
    # kerasnets' layer stores the same weights as Keras's, so copying them over must
    # reproduce Keras's outputs, for every kind of attention.
    encoder_states = rng.normal(size=(2, 7, 16)).astype("float32")  # x: a 7-position "source"
    decoder_states = rng.normal(size=(2, 5, 16)).astype("float32")  # y: a 5-position "target"
    theirs = keras.layers.MultiHeadAttention(num_heads=4, key_dim=4)
    mine = MultiHeadAttention(num_heads=4, key_dim=4)
    theirs(decoder_states, encoder_states), mine(decoder_states, encoder_states)  # build both
    mine.set_weights(theirs.get_weights())
    kinds = {
        # name: (query, value=key, use_causal_mask)
        "self": (encoder_states, encoder_states, False),
        "cross": (decoder_states, encoder_states, False),
        "causal": (decoder_states, decoder_states, True),
    }
    print("2. kerasnets MultiHeadAttention vs keras.layers.MultiHeadAttention (copied weights):")
    for kind, (query, value, causal) in kinds.items():
        out_mine, weights_mine = mine(query, value, use_causal_mask=causal, return_attention_scores=True)
        out_theirs, weights_theirs = theirs(query, value, use_causal_mask=causal, return_attention_scores=True)
        difference = max(max_difference(out_mine, out_theirs), max_difference(weights_mine, weights_theirs))
        results[f"{kind}_vs_keras"] = difference
        print(f"   {kind:6s}: Q {tuple(query.shape)}, K = V {tuple(value.shape)} → weights "
              f"{tuple(weights_mine.shape)}; max |difference| = {results[f'{kind}_vs_keras']:.2e}")  # fmt: skip

    # ## 3. Causality, by behaviour
    #
    # A mask is a promise; the way to check it is to break the future and watch the
    # past. We rewrite tokens 6-9 of a 10-token input and measure how much the outputs
    # at positions 0-5 move. For a causal model they must not move at all.
    model = gpt(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64,
                max_sequence_length=16)  # fmt: skip
    tokens = rng.integers(1, 50, size=(1, 10))
    edited = tokens.copy()
    edited[0, 6:] = rng.integers(1, 50, size=4)
    change = np.abs(np.asarray(model(tokens)) - np.asarray(model(edited)))[0]
    results["gpt_past_change"], results["gpt_future_change"] = float(change[:6].max()), float(change[6:].max())

    # The same experiment on blocks, with continuous inputs: an encoder block (self,
    # bidirectional) and a decoder block (causal self + cross over an encoder output).
    y = rng.normal(size=(1, 10, 16)).astype("float32")
    y_edited = y.copy()
    y_edited[0, 6:] = rng.normal(size=(4, 16))
    source = rng.normal(size=(1, 8, 16)).astype("float32")
    source_edited = source.copy()
    source_edited[0, -1] = rng.normal(size=16)  # only the last source position
    encoder_block = TransformerEncoderBlock(intermediate_dim=32, num_heads=2)
    decoder_block = TransformerDecoderBlock(intermediate_dim=32, num_heads=2)
    results["encoder_past_change"] = max_difference(encoder_block(y)[0, :6], encoder_block(y_edited)[0, :6])
    results["decoder_past_change"] = max_difference(
        decoder_block(y, source)[0, :6], decoder_block(y_edited, source)[0, :6]
    )
    results["cross_first_change"] = max_difference(
        decoder_block(y, source)[0, 0], decoder_block(y, source_edited)[0, 0]
    )
    print("3. Edit the future (positions 6-9), measure the past (positions 0-5):")
    print(f"   GPT (causal):            past changes by {results['gpt_past_change']:.2e}, "
          f"future by {results['gpt_future_change']:.2e}")  # fmt: skip
    print(f"   decoder block (causal):  past changes by {results['decoder_past_change']:.2e}")
    print(f"   encoder block (self):    past changes by {results['encoder_past_change']:.2e}  (it sees both ways)")
    print(f"   cross-attention: editing the LAST source position changes decoder position 0 by "
          f"{results['cross_first_change']:.2e}  (queries see the whole source)")  # fmt: skip

    # ## 4. All three kinds trained on real text
    #
    # Tiny Shakespeare, character by character. Each window of 64 characters is split:
    # the encoder reads the first 32 (self-attention: every character sees every
    # other), the decoder reads the next 32 and predicts each one's successor (causal
    # self-attention: only what is already written; cross-attention: the whole source).
    steps = args.steps or (30 if args.smoke else 1000)
    hidden_dim = 32 if args.smoke else 64
    batch_size = 16 if args.smoke else 32
    train, tokenizer = load_language_modeling("tiny_shakespeare", "train", sequence_length=SOURCE + TARGET,
                                              batch_size=batch_size, seed=0, repeat=True, cache=False)  # fmt: skip
    validation, _ = load_language_modeling("tiny_shakespeare", "validation", sequence_length=SOURCE + TARGET,
                                           batch_size=batch_size, tokenizer=tokenizer, cache=False)  # fmt: skip
    if args.smoke:
        validation = validation.take(4)

    def encoder_decoder(ids, targets):
        inputs = {"encoder_token_ids": ids[:, :SOURCE], "decoder_token_ids": ids[:, SOURCE:]}
        return inputs, targets[:, SOURCE:]

    train, validation = train.map(encoder_decoder), validation.map(encoder_decoder)
    vocabulary_size = tokenizer.vocabulary_size()
    model = transformer(vocabulary_size=vocabulary_size, num_layers=1, num_heads=4, hidden_dim=hidden_dim,
                        intermediate_dim=2 * hidden_dim, max_sequence_length=SOURCE, dropout=0.0)  # fmt: skip
    model.summary()
    # (XLA makes each step about twice as fast but takes longer to compile: worth it for the full run only.)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  jit_compile=not args.smoke)  # fmt: skip

    # The baseline: predict every character with its frequency in the training text,
    # ignoring all context. A model that attends must beat it.
    train_ids = np.asarray(tokenizer.tokenize_ragged(next(iter(load_text("tiny_shakespeare", "train")))))
    frequencies = (np.bincount(train_ids, minlength=vocabulary_size) + 1.0) / (len(train_ids) + vocabulary_size)
    validation_targets = np.concatenate([np.asarray(t).ravel() for _, t in validation])
    results["unigram_loss"] = float(-np.mean(np.log(frequencies[validation_targets])))

    results["initial_loss"] = validation_loss(model, validation)
    started = time.time()
    # (shuffle=False: tf.data already shuffles the windows; Keras cannot shuffle a dataset itself.)
    model.fit(train, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0 if args.smoke else 2)
    results["validation_loss"] = validation_loss(model, validation)
    print(f"4. after {steps} steps ({time.time() - started:.0f} s): validation loss "
          f"{results['validation_loss']:.3f} nats/char (untrained {results['initial_loss']:.3f}; "
          f"unigram baseline {results['unigram_loss']:.3f}; "
          f"uniform guess {math.log(vocabulary_size):.3f})")  # fmt: skip

    # ## 5. The three patterns of the trained model
    #
    # One validation passage through the model, and the weights of each attention,
    # averaged over the heads: the encoder's full square, the decoder's lower
    # triangle (nothing above the diagonal: the future is masked) and the cross
    # rectangle (each target character over all source characters).
    passages, _ = load_language_modeling("tiny_shakespeare", "validation", sequence_length=SOURCE + TARGET,
                                         batch_size=1, tokenizer=tokenizer, cache=False)  # fmt: skip
    ids, _ = next(iter(passages.skip(3)))
    ids = np.asarray(ids)
    scores = model.attention_scores(ids[:, :SOURCE], ids[:, SOURCE:])
    patterns = {name: np.asarray(scores[name][0])[0].mean(axis=0) for name in ("encoder", "decoder", "cross")}
    results["trained_decoder_above_diagonal"] = float(np.abs(np.triu(patterns["decoder"], 1)).max())
    shown = {" ": "␣", "\n": "\\n"}  # spaces and line breaks made visible on the axes
    characters = [shown.get(c, c) for c in (tokenizer.get_vocabulary()[i] for i in ids[0])]
    source_chars, target_chars = characters[:SOURCE], characters[SOURCE:]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(17, 6.2))
    panels = [
        ("self (encoder): Q, K, V = source", patterns["encoder"], source_chars, source_chars),
        ("causal (decoder): Q, K, V = target, j ≤ i", patterns["decoder"], target_chars, target_chars),
        ("cross: Q = target, K = V = encoder output", patterns["cross"], target_chars, source_chars),
    ]
    for axis, (title, weights, rows, columns) in zip(axes, panels):
        image = axis.imshow(weights, cmap="viridis", vmin=0.0)
        axis.set_title(title, fontsize=11)
        axis.set_xticks(range(len(columns)), columns, fontsize=7, family="monospace")
        axis.set_yticks(range(len(rows)), rows, fontsize=7, family="monospace")
        axis.set_xlabel("key position (attended to)")
        axis.set_ylabel("query position")
        figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    passage = "".join(tokenizer.get_vocabulary()[i] for i in ids[0]).replace("\n", "⏎")
    figure.suptitle(f"Attention weights (mean over heads) of the trained model on: {passage!r}", fontsize=11)
    figure.tight_layout()
    picture = output_dir / "attention_three_kinds.png"
    figure.savefig(picture, dpi=100)
    plt.close(figure)
    print(f"5. the three patterns of the trained model → {picture}")
    results["pictures"] = [str(picture)]
    return results


if __name__ == "__main__":
    main()
