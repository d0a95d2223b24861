"""Residual connections and layer normalization: what keeps a deep Transformer trainable.

    python examples/residual_and_layer_norm.py            # about 110 s on 2 CPU cores (shared; 75 s of CPU)
    python examples/residual_and_layer_norm.py --smoke    # tiny sizes, a few steps

    residual connection:  x + Sublayer(x)             (He et al. 2016; Vaswani et al. 2017, §3.1)
    layer normalization:  LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β,
                          μ, σ² the mean and variance of x's own d features (Ba et al. 2016)

    post-LN (the paper):  x ← LN(x + Sublayer(x))
    pre-LN  (GPT-2):      x ← x + Sublayer(LN(x))
    no residual:          x ← Sublayer(LN(x))
    (and, for the gradients only, "no LN": x ← x + Sublayer(x), and "plain": x ← Sublayer(x))

1. LN from scratch, in NumPy and in keras.ops, against keras.layers.LayerNormalization.
2. The block's formulas written out over kerasnets' `MultiHeadAttention` and
   `FeedForward`, checked against kerasnets' `TransformerDecoderBlock` (post-LN and
   pre-LN) with the same weights; taking the `x +` away gives the no-residual block.
3. Gradient norms per layer at initialization, for a deep stack of each kind, on a
   real batch: with neither residual nor LN the gradient fades by orders of magnitude
   on its way down; either one alone keeps it flowing.
4. Real data: pre-LN, post-LN and no-residual stacks trained on Tiny Shakespeare for
   a few hundred steps, validation losses against the unigram baseline.
5. Picture: gradient norm per layer and the learning curves (`residual_and_layer_norm.png`).
"""

import argparse
import math
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasnets.data import load_language_modeling, load_text
from kerasnets.layers import FeedForward, MultiHeadAttention, TokenAndPositionEmbedding, TransformerDecoderBlock

VARIANTS = {
    # name: (residual, layer norm, normalize_first)
    "pre-LN": (True, True, True),
    "post-LN": (True, True, False),
    "no residual": (False, True, True),  # LN, but no x + …
    "no LN": (True, False, True),  # x + Sublayer(x), no normalization at all
    "plain": (False, False, True),  # neither: x ← Sublayer(x)
}
TRAINED = ("pre-LN", "post-LN", "no residual")  # the gradients of all five; the training of these three


def layer_norm_numpy(x, gamma, beta, epsilon=1e-3):
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, keepdims=True)  # the biased variance: 1/d Σ (x − μ)²
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def layer_norm_ops(x, gamma, beta, epsilon=1e-3):
    mean = ops.mean(x, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    return gamma * (x - mean) / ops.sqrt(variance + epsilon) + beta


def max_difference(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype="float64") - np.asarray(b, dtype="float64"))))


class Block(keras.layers.Layer):
    """One causal Transformer block, its two sub-layers wrapped as the variant says.

    Sub-layers: causal self-attention, then the position-wise feed-forward network.
    """

    def __init__(self, hidden_dim, num_heads, residual=True, normalize=True, normalize_first=True, **kwargs):
        super().__init__(**kwargs)
        self.residual, self.normalize, self.normalize_first = residual, normalize, normalize_first
        self.attention = MultiHeadAttention(num_heads=num_heads, key_dim=hidden_dim // num_heads, name="attention")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.feed_forward = FeedForward(intermediate_dim=2 * hidden_dim, name="feed_forward")
        self.feed_forward_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="feed_forward_norm")

    def build(self, input_shape):
        self.attention.build(input_shape, input_shape)
        self.feed_forward.build(input_shape)
        if self.normalize:  # without LN the norm layers stay unbuilt: no γ, β that nothing uses
            self.attention_norm.build(input_shape)
            self.feed_forward_norm.build(input_shape)
        self.built = True

    def wrap(self, x, sublayer, norm):
        if not self.normalize:
            norm = lambda h: h  # noqa: E731 (no layer norm: the identity in its place)
        if self.normalize_first:  # pre-LN: x + Sublayer(LN(x))
            y = sublayer(norm(x))
            return x + y if self.residual else y
        y = sublayer(x)  # post-LN: LN(x + Sublayer(x))
        return norm(x + y) if self.residual else norm(y)

    def call(self, x):
        x = self.wrap(x, lambda h: self.attention(h, h, use_causal_mask=True), self.attention_norm)
        return self.wrap(x, self.feed_forward, self.feed_forward_norm)


def language_model(vocabulary_size, context, hidden_dim, depth, residual, normalize, normalize_first, name):
    """Characters → token + learned position embeddings → `depth` blocks → LN → next-character probabilities."""
    token_ids = keras.Input(shape=(context,), dtype="int32", name="token_ids")
    x = TokenAndPositionEmbedding(vocabulary_size, context, hidden_dim, name="embeddings")(token_ids)
    for index in range(depth):
        x = Block(hidden_dim, 4, residual, normalize, normalize_first, name=f"block_{index}")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    probabilities = keras.layers.Dense(vocabulary_size, activation="softmax", name="next_character")(x)
    return keras.Model(token_ids, probabilities, name=name)


def gradient_norms(model, inputs, targets):
    """‖∂loss/∂θ_l‖ for the parameters θ_l of each block l, bottom block first (TensorFlow backend)."""
    blocks = [layer for layer in model.layers if isinstance(layer, Block)]
    with tf.GradientTape() as tape:
        probabilities = model(inputs, training=True)
        loss = keras.losses.sparse_categorical_crossentropy(targets, probabilities)
        loss = ops.mean(loss)
    gradients = tape.gradient(loss, [block.trainable_weights for block in blocks])
    return [float(np.sqrt(sum(np.sum(np.square(g)) for g in block_gradients))) for block_gradients in gradients]


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
    parser.add_argument("--steps", type=int, default=None, help="training steps per model (default 150, smoke 20)")
    args = parser.parse_args(argv)
    output_dir = pathlib.Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    results = {}

    # ## 1. Layer normalization by hand
    #
    # LN standardizes each position's feature vector on its own (unlike batch norm,
    # no statistics cross examples or positions), then lets the model rescale and
    # shift it with the learned γ and β. Random γ, β make the check meaningful.
    x = (3.0 * rng.normal(size=(2, 5, 16)) + 1.5).astype("float32")
    gamma, beta = rng.normal(size=16).astype("float32"), rng.normal(size=16).astype("float32")
    keras_norm = keras.layers.LayerNormalization(epsilon=1e-3)  # Keras's default ε
    keras_norm.build(x.shape)
    keras_norm.set_weights([gamma, beta])
    reference = np.asarray(keras_norm(x))
    results["layer_norm_numpy_vs_keras"] = max_difference(layer_norm_numpy(x, gamma, beta), reference)
    results["layer_norm_ops_vs_keras"] = max_difference(layer_norm_ops(x, gamma, beta), reference)
    standardized = layer_norm_numpy(x, 1.0, 0.0)
    print(f"1. LN by hand vs keras.layers.LayerNormalization: NumPy {results['layer_norm_numpy_vs_keras']:.2e}, "
          f"keras.ops {results['layer_norm_ops_vs_keras']:.2e} (max |difference|)")  # fmt: skip
    print(f"   before γ, β every position has mean {np.abs(standardized.mean(-1)).max():.1e} and "
          f"std {standardized.std(-1).mean():.4f} (the input's were about 1.5 and 3)")  # fmt: skip

    # ## 2. The residual wrappers, written out
    #
    # kerasnets' TransformerDecoderBlock is post-LN by default and pre-LN with
    # normalize_first=True. Our Block writes the two formulas out; given the same
    # sub-layer weights, it must compute what the kerasnets block computes.
    h = rng.normal(size=(2, 10, 32)).astype("float32")
    for normalize_first, label in ((False, "post-LN"), (True, "pre-LN")):
        theirs = TransformerDecoderBlock(intermediate_dim=64, num_heads=4, normalize_first=normalize_first)
        mine = Block(32, 4, residual=True, normalize=True, normalize_first=normalize_first)
        theirs(h), mine(h)  # build
        pairs = [(mine.attention, theirs.self_attention), (mine.attention_norm, theirs.self_attention_norm),
                 (mine.feed_forward, theirs.feed_forward), (mine.feed_forward_norm, theirs.feed_forward_norm)]
        for ours, their in pairs:
            ours.set_weights(their.get_weights())
        results[f"{label}_block_vs_kerasnets"] = max_difference(mine(h), theirs(h))
        print(f"2. {label:8s} Block vs kerasnets TransformerDecoderBlock(normalize_first={normalize_first}): "
              f"max |difference| = {results[f'{label}_block_vs_kerasnets']:.2e}")  # fmt: skip

    # ## 3. Gradients at initialization
    #
    # A deep stack, five ways, and one real batch of Tiny Shakespeare. Without the
    # residual path ("plain") the gradient reaching block l is a product of the
    # Jacobians of every block above it, and such a product shrinks geometrically
    # with depth: the bottom blocks barely learn. With x + Sublayer(x),
    # ∂x_{l+1}/∂x_l = I + ∂Sublayer/∂x_l: the identity carries the gradient from the
    # loss straight down to every block. LN helps in its own way (it undoes the
    # shrinking of the signal at every block), so "no residual" is far from "plain"
    # here, but it is the residual that makes depth cheap. Post-LN puts an LN on the
    # residual path itself; its gradients tend to grow towards the top (Xiong et al.
    # 2020: the reason post-LN Transformers want a learning-rate warm-up).
    depth = 2 if args.smoke else 6
    hidden_dim = 32 if args.smoke else 48
    context = 32
    batch_size = 16 if args.smoke else 32
    steps = args.steps or (20 if args.smoke else 150)
    train, tokenizer = load_language_modeling("tiny_shakespeare", "train", sequence_length=context,
                                              batch_size=batch_size, seed=0, repeat=True, cache=False)  # fmt: skip
    validation, _ = load_language_modeling("tiny_shakespeare", "validation", sequence_length=context,
                                           batch_size=batch_size, tokenizer=tokenizer, cache=False)  # fmt: skip
    validation = validation.take(4 if args.smoke else 12)
    vocabulary_size = tokenizer.vocabulary_size()
    inputs, targets = next(iter(train))
    train_ids = np.asarray(tokenizer.tokenize_ragged(next(iter(load_text("tiny_shakespeare", "train")))))
    frequencies = (np.bincount(train_ids, minlength=vocabulary_size) + 1.0) / (len(train_ids) + vocabulary_size)
    validation_targets = np.concatenate([np.asarray(t).ravel() for _, t in validation])
    results["unigram_loss"] = float(-np.mean(np.log(frequencies[validation_targets])))

    models, norms = {}, {}
    for name, (residual, normalize, normalize_first) in VARIANTS.items():
        keras.utils.set_random_seed(0)  # the same initial weights for every variant
        model = language_model(vocabulary_size, context, hidden_dim, depth, residual, normalize, normalize_first,
                               name=name.replace(" ", "_").replace("-", "_"))  # fmt: skip
        norms[name] = gradient_norms(model, inputs, targets)
        if name in TRAINED:
            models[name] = model
    models["pre-LN"].summary()
    results["gradient_norms"] = norms
    print(f"3. ‖∂loss/∂θ_block‖ at initialization, block 0 (bottom) … block {depth - 1} (top):")
    for name, values in norms.items():
        ratio = values[0] / values[-1]
        results[f"bottom_to_top_{name.replace(' ', '_')}"] = ratio
        print(f"   {name:12s} " + " ".join(f"{v:.1e}" for v in values) + f"   bottom/top = {ratio:.2g}")

    # ## 4. Training
    #
    # The same data, optimizer (Adam, 1e-3, no warm-up) and initial weights for all
    # three; the only difference is where the `x +` and the LN sit. (XLA compiles the
    # full run's steps: slower to start, twice as fast per step.)
    #
    # Healthy gradients at initialization are not the whole story. Without the
    # residual path, what reaches the top is whatever a stack of random
    # attention-and-FFN maps made of the embeddings: attention averages over
    # positions, so which character sat where is mostly washed out, and the stack
    # must first learn to pass it on. With x + Sublayer(x) every block starts close
    # to the identity and each character's embedding rides the residual stream up to
    # the head. (In our runs the no-residual stack stalls at about the unigram
    # baseline: it learns the character frequencies and little else, in these steps.)
    curves = {}
    chunks = 10
    for name, model in models.items():
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      jit_compile=not args.smoke)  # fmt: skip
        key = name.replace(" ", "_")
        results[f"initial_loss_{key}"] = validation_loss(model, validation)
        started = time.time()
        history = model.fit(train, epochs=chunks, steps_per_epoch=max(1, steps // chunks), shuffle=False, verbose=0)
        curves[name] = history.history["loss"]
        results[f"validation_loss_{key}"] = validation_loss(model, validation)
        print(f"4. {name:12s}: validation loss {results[f'validation_loss_{key}']:.3f} nats/char after {steps} steps "
              f"({time.time() - started:.0f} s; untrained {results[f'initial_loss_{key}']:.3f})")  # fmt: skip
    print(f"   unigram baseline {results['unigram_loss']:.3f}, uniform guess {math.log(vocabulary_size):.3f}; "
          f"the residual connections are worth "
          f"{results['validation_loss_no_residual'] - results['validation_loss_pre-LN']:.3f} nats/char "
          f"(pre-LN vs no residual); post-LN minus pre-LN: "
          f"{results['validation_loss_post-LN'] - results['validation_loss_pre-LN']:+.3f}")  # fmt: skip
    results["training_curves"] = curves

    # ## 5. Picture
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for name, values in norms.items():
        left.semilogy(range(depth), values, marker="o", label=name)
    left.set_xlabel("block (0 = next to the embeddings)")
    left.set_ylabel("‖∂loss/∂θ_block‖ at initialization")
    left.set_title(f"Gradient norm per block, {depth}-block stack, one real batch")
    left.legend()
    seen = max(1, steps // chunks) * np.arange(1, chunks + 1)
    for name, losses in curves.items():
        key = name.replace(" ", "_")
        right.plot(seen, losses, marker="o", label=f"{name}: validation {results[f'validation_loss_{key}']:.3f}")
    right.axhline(results["unigram_loss"], color="gray", linestyle="--", label="unigram baseline")
    right.set_xlabel("training step")
    right.set_ylabel("training loss (nats/char)")
    right.set_title("Learning curves on Tiny Shakespeare")
    right.legend()
    figure.tight_layout()
    picture = output_dir / "residual_and_layer_norm.png"
    figure.savefig(picture, dpi=100)
    plt.close(figure)
    print(f"5. picture → {picture}")
    results["pictures"] = [str(picture)]
    return results


if __name__ == "__main__":
    main()
