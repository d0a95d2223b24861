"""GPT's objective: predict the next token, one position at a time, never looking ahead.

    python examples/gpt_next_token.py            # about 100-150 s on 2 CPU cores (shared; ~65 s of CPU time)
    python examples/gpt_next_token.py --smoke    # a few steps, for the tests

A decoder-only language model (Radford et al. 2018, 2019) factorises the probability of a text
left to right and learns it by maximum likelihood:

    p(x_1 … x_T) = Π_t p(x_{t+1} | x_≤t)
    targets      = inputs shifted by one:  y_t = x_{t+1}
    loss         = -(1/T) Σ_t log p(x_{t+1} | x_≤t)          (cross-entropy, in nats)
    perplexity   = exp(loss)                                 (uniform guess: V; unigram: exp(H))

The causal mask lets position t attend to positions ≤ t only, so all T predictions of a window
come out of one forward pass and none of them can peek at its own answer.

1. Tiny Shakespeare as characters (`kerasnets.data.load_language_modeling`): a window, its
   targets, and the check that the targets are the inputs shifted by one.
2. The baselines: a uniform guess (ln V) and the unigram model (the character frequencies).
3. A small GPT (`kerasnets.models.gpt`), its summary, the loss by hand against Keras, and the
   causal mask shown by behaviour: editing the future leaves every earlier prediction unchanged.
4. Brief training; validation loss and perplexity against the unigram baseline.
5. The loss position by position along the context (more context, better guesses).
6. Continuations of a prompt with the model's own `generate`: greedy and top-k sampled; the
   next-token distribution after a prompt.
7. The picture `gpt_next_token.png`: loss curves, per-position loss, next-token distribution.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quieter TensorFlow (set before it is imported)

import keras  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kerasnets.data import load_language_modeling, load_text  # noqa: E402
from kerasnets.models import gpt  # noqa: E402
from kerasnets.samplers import TopKSampler  # noqa: E402

SIZES = {
    False: dict(context=64, batch_size=32, steps=400, epochs=8, validation_batches=None, curve_batches=8,
                new_tokens=58, shuffle_buffer=10_000,
                model=dict(num_layers=2, num_heads=4, hidden_dim=128, intermediate_dim=512)),
    True: dict(context=32, batch_size=16, steps=8, epochs=2, validation_batches=2, curve_batches=2,
               new_tokens=12, shuffle_buffer=256,
               model=dict(num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64)),
}  # fmt: skip
PROMPT = "ROMEO:"
# A prompt whose next character is a matter of English spelling: after "th" comes a vowel, mostly "e".
DISTRIBUTION_PROMPT = "ROMEO:\nGood morrow to th"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and a few steps (for the tests)")
    parser.add_argument("--output-dir", default="example_outputs", help="where the picture goes")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 400; smoke 8)")
    args = parser.parse_args(argv)
    size = SIZES[args.smoke]
    steps, context = args.steps or size["steps"], size["context"]
    os.makedirs(args.output_dir, exist_ok=True)
    keras.utils.set_random_seed(0)
    results = {"pictures": []}

    # ## 1. Windows of characters, and their targets
    #
    # The loader tokenizes the text into characters (id 0 is padding, 1 unknown) and cuts it
    # into windows of `context + 1` ids: the first `context` are the inputs, the last `context`
    # the targets. Each window thus holds `context` training examples, one per position.
    train, tokenizer = load_language_modeling(
        "tiny_shakespeare", "train", sequence_length=context, batch_size=size["batch_size"], seed=0, repeat=True,
        shuffle_buffer=size["shuffle_buffer"],
    )
    validation, _ = load_language_modeling(
        "tiny_shakespeare", "validation", sequence_length=context, batch_size=size["batch_size"], tokenizer=tokenizer
    )
    validation = validation.take(size["validation_batches"] or -1)
    vocabulary_size = tokenizer.vocabulary_size()

    def text(ids):
        return tokenizer.detokenize(np.asarray(ids)[None]).numpy()[0].decode()

    inputs, targets = (t.numpy() for t in next(iter(train)))
    print(f"{vocabulary_size} ids (characters + padding + unknown); one training window:")
    print(f"  inputs  {text(inputs[0])!r}\n  targets {text(targets[0])!r}")
    results["targets_are_shifted_inputs"] = bool(np.array_equal(targets[:, :-1], inputs[:, 1:]))
    print("targets[:, t] == inputs[:, t + 1] for the whole batch:", results["targets_are_shifted_inputs"])

    # ## 2. Baselines
    #
    # Knowing nothing, every id is equally likely: loss ln V. Knowing only how often each
    # character occurs (the unigram model q, counted on the training text), the loss on the
    # validation text is its cross-entropy -mean log q(x). A language model must beat both.
    train_ids = tokenizer.tokenize_ragged(next(iter(load_text("tiny_shakespeare", "train")))).numpy()
    counts = np.bincount(train_ids, minlength=vocabulary_size) + 1.0  # +1: no zero probabilities
    unigram = counts / counts.sum()
    validation_targets = np.concatenate([y.numpy().ravel() for _, y in validation])
    results["uniform_loss"] = float(np.log(vocabulary_size))
    results["unigram_loss"] = float(-np.log(unigram[validation_targets]).mean())
    print(f"\nBaselines on the validation targets: uniform loss {results['uniform_loss']:.3f} "
          f"(perplexity {vocabulary_size}), unigram loss {results['unigram_loss']:.3f} "
          f"(perplexity {np.exp(results['unigram_loss']):.1f})")  # fmt: skip

    # ## 3. The model, its loss, and its causal mask
    model = gpt(vocabulary_size=vocabulary_size, max_sequence_length=context, dropout=0.0, **size["model"])
    model.summary()

    # The loss by hand: the probability the model gives each target, -log, averaged over every
    # position of every window; Keras' sparse categorical cross-entropy is the same number.
    probabilities = keras.ops.convert_to_numpy(model(inputs))  # (B, T, V)
    by_hand = float(-np.log(np.take_along_axis(probabilities, targets[..., None], axis=-1)).mean())
    by_keras = float(keras.losses.SparseCategoricalCrossentropy()(targets, probabilities))
    results["initial_loss"] = by_keras
    results["loss_difference"] = abs(by_hand - by_keras)
    print(f"Untrained loss: by hand {by_hand:.6f}, Keras {by_keras:.6f} (|difference| "
          f"{results['loss_difference']:.1e}); ln V = {results['uniform_loss']:.3f}")  # fmt: skip

    # Causality by behaviour: rewrite the second half of a window with random characters. If a
    # position could see later tokens its prediction would move; with the causal mask only the
    # predictions from the edit on change.
    cut = context // 2
    edited = inputs[:1].copy()
    edited[0, cut:] = np.random.default_rng(0).integers(2, vocabulary_size, size=context - cut)
    before, after = (keras.ops.convert_to_numpy(model(window)) for window in (inputs[:1], edited))
    change = np.abs(after - before)[0].max(axis=-1)  # per position, the largest change of a probability
    results["causal_past_change"] = float(change[:cut].max())
    results["causal_future_change"] = float(change[cut:].max())
    print(f"Editing tokens {cut}…{context - 1}: max change of the predictions at positions "
          f"0…{cut - 1} {results['causal_past_change']:.1e}, at {cut}…{context - 1} "
          f"{results['causal_future_change']:.1e}")  # fmt: skip

    # ## 4. Training
    #
    # `fit` with the sparse cross-entropy is exactly the loss above; AdamW at 1e-3 and no
    # dropout suit a small model trained for a minute. The curve's validation loss reads the
    # first `curve_batches` validation batches; section 5 reads all of them.
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss="sparse_categorical_crossentropy",
        jit_compile=False,  # XLA is slower than plain graphs for this small model on a CPU
        run_eagerly=args.smoke,  # smoke: no graph to trace for a handful of steps
    )
    epochs = size["epochs"]
    steps_per_epoch = max(1, steps // epochs)
    start = time.time()
    history = model.fit(
        train, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=validation,
        validation_steps=size["curve_batches"], verbose=2,
    ).history  # fmt: skip
    print(f"Trained {epochs * steps_per_epoch} steps in {time.time() - start:.0f} s")
    results["train_loss"], results["val_loss_curve"] = history["loss"], history["val_loss"]

    # ## 5. The loss along the context
    #
    # Position t predicts x_{t+1} from t + 1 characters. The first position sees one character
    # only; later positions know the word and the line they are in, and do better.
    position_loss = np.zeros(context)
    for x, y in validation:
        p = keras.ops.convert_to_numpy(model(x))
        position_loss += -np.log(np.take_along_axis(p, y.numpy()[..., None], axis=-1))[..., 0].sum(axis=0)
    position_loss /= len(validation_targets) // context
    results["per_position_loss"] = position_loss.tolist()
    results["val_loss"] = float(position_loss.mean())
    results["perplexity"] = float(np.exp(results["val_loss"]))
    print(f"\nValidation loss {results['val_loss']:.3f} (perplexity {results['perplexity']:.2f}) vs unigram "
          f"{results['unigram_loss']:.3f} (perplexity {np.exp(results['unigram_loss']):.2f})")  # fmt: skip
    print(f"  per position: t=0 {position_loss[0]:.3f}, t={context // 4} {position_loss[context // 4]:.3f}, "
          f"t={context - 1} {position_loss[-1]:.3f}")  # fmt: skip

    # ## 6. Generating
    #
    # `generate` runs the model one position at a time over a key/value cache; the sampler picks
    # each next character: greedy takes the argmax (often loops), top-k draws from the k most
    # likely characters (seeded, so the text is reproducible).
    prompt = tokenizer.tokenize([PROMPT]).numpy()
    count = min(size["new_tokens"], context - prompt.shape[1])
    greedy = model.generate(prompt, count)
    sampled = model.generate(prompt, count, sampler=TopKSampler(k=5, seed=0))
    results["greedy_text"], results["sampled_text"] = text(greedy[0]), text(sampled[0])
    print(f"\nGreedy:\n{results['greedy_text']}\n\nTop-5 sampled (seed 0):\n{results['sampled_text']}")

    # The distribution the samplers choose from, after "…to th": a model that has learnt
    # English spelling puts its mass on the vowels, most of it on "e" ("the", "thee", "thy").
    question = tokenizer.tokenize([DISTRIBUTION_PROMPT[-context:]]).numpy()
    distribution = keras.ops.convert_to_numpy(model(question))[0, -1]
    top = np.argsort(distribution)[::-1][:10]
    top_characters = [tokenizer.id_to_token(i) for i in top]
    results["next_token_top"] = list(zip(top_characters, distribution[top].astype(float).tolist()))
    print(f"\nNext character after {DISTRIBUTION_PROMPT[-20:]!r}: "
          + ", ".join(f"{c!r} {p:.2f}" for c, p in results["next_token_top"][:5]))  # fmt: skip

    # ## 7. The picture
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    chunk_steps = np.arange(1, epochs + 1) * steps_per_epoch
    axes[0].plot(chunk_steps, results["train_loss"], "o-", label="train")
    axes[0].plot(chunk_steps, results["val_loss_curve"], "s--", label="validation")
    axes[0].axhline(results["unigram_loss"], color="gray", linestyle=":", label="unigram baseline")
    axes[0].set(title="next-token loss", xlabel="training step", ylabel="cross-entropy (nats)")
    axes[0].legend()
    axes[1].plot(np.arange(context), position_loss, ".-")
    axes[1].axhline(results["unigram_loss"], color="gray", linestyle=":", label="unigram baseline")
    axes[1].set(title="validation loss by position", xlabel="position t (t + 1 characters seen)", ylabel="loss")
    axes[1].legend()
    labels = [{" ": "space", "\n": "\\n", "": "pad"}.get(c, c) for c in top_characters]
    axes[2].bar(range(len(top)), distribution[top])
    axes[2].set_xticks(range(len(top)), labels)
    axes[2].set(title=f"p(next character | '…{DISTRIBUTION_PROMPT[-12:]}')", ylabel="probability")
    figure.tight_layout()
    path = os.path.join(args.output_dir, "gpt_next_token.png")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    results["pictures"].append(path)
    print("Saved", path)
    return results


if __name__ == "__main__":
    main()
