"""BERT pre-training: masked language modelling and next-sentence prediction.

    python examples/bert_mlm_nsp.py            # about 165 s on 2 CPU cores (shared; ~95 s of CPU time)
    python examples/bert_mlm_nsp.py --smoke    # a few steps, for the tests

BERT (Devlin et al. 2019) learns from unlabelled text with two objectives at once:

    input  x_t = LayerNorm(E_tok[w_t] + E_pos[t] + E_seg[s_t])      [CLS] A [SEP] B [SEP]
    MLM    L_mlm = -(1/|M|) Σ_{t∈M} log p(w_t | x with the positions M corrupted)
           M: 15 % of the tokens; each one becomes [MASK] (80 %), a random token (10 %)
           or stays as it is (10 %); the loss is read only at the positions in M
    NSP    L_nsp = -log p(IsNext or NotNext | h_[CLS])   B follows A half of the time
    total  L = L_mlm + L_nsp

1. A real packed example of Tiny Shakespeare from `kerasnets.data.load_bert_pretraining`:
   its tokens, segment ids and the chosen positions, and the 15 % / 80-10-10 / 50 % rates
   measured over many examples.
2. A tiny BERT (`kerasnets.models.bert(preset="bert_tiny", head="pretraining")`), its summary,
   and the three embeddings summed by hand (NumPy) against the model's embedding layer.
3. The MLM loss "only on the chosen positions" by hand against the Keras loss.
4. Brief pre-training (600 steps, warm-up then cosine decay); held-out MLM accuracy against the
   most-frequent-token guess (it wins) and NSP accuracy against the 50 % coin (it does not, in
   this budget).
5. Filling in a [MASK] in a held-out sentence.
6. Pictures: the learning curves of both losses (`bert_mlm_nsp_curves.png`) and the three
   embeddings of one example and their sum (`bert_mlm_nsp_embeddings.png`).
"""

import argparse
import collections
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quieter TensorFlow (set before it is imported)

import keras
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kerasnets.data import IS_NEXT, load_bert_pretraining, load_text, pack_bert_inputs, split_segments  # noqa: E402
from kerasnets.models import bert  # noqa: E402

# Default and smoke sizes. The default is BERT-Tiny (L=2, H=128, A=2) with a short context.
SIZES = {
    False: dict(sequence_length=32, max_predictions=5, batch_size=32, max_tokens=5000, steps=600,
                epochs=6, shuffle_buffer=10_000, validation_batches=None, statistics_batches=20),
    True: dict(sequence_length=32, max_predictions=5, batch_size=16, max_tokens=2000, steps=8,
               epochs=2, shuffle_buffer=256, validation_batches=3, statistics_batches=3),
}  # fmt: skip


def layer_norm(x, gamma, beta, epsilon):
    """LayerNorm over the last axis, in NumPy: gamma (x - mean) / sqrt(var + eps) + beta."""
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def unmask(token_ids, positions, labels, weights):
    """The original token ids of a masked batch: the labels written back at the chosen positions."""
    original = token_ids.copy()
    rows, slots = np.nonzero(weights > 0)
    original[rows, positions[rows, slots]] = labels[rows, slots]
    return original


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and a few steps (for the tests)")
    parser.add_argument("--output-dir", default="example_outputs", help="where the pictures go")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 600; smoke 8)")
    args = parser.parse_args(argv)
    size = SIZES[args.smoke]
    steps = args.steps or size["steps"]
    os.makedirs(args.output_dir, exist_ok=True)
    keras.utils.set_random_seed(0)
    results = {"pictures": []}

    # ## 1. The data: sentence pairs, packed and masked
    #
    # `load_bert_pretraining` cuts Tiny Shakespeare into segments of 2 lines. Segment B is the
    # segment that really follows A (IsNext, label 0) half of the time, else a random segment
    # of the corpus (NotNext, label 1). The pair is packed as `[CLS] A [SEP] B [SEP]`: segment id
    # 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`, then padding (id 0, padding_mask 0).
    # Then 15 % of the real word tokens are chosen; the batch carries the corrupted tokens, the
    # positions that were chosen (`mask_positions`), their original ids (the MLM targets) and a
    # weight of 1 on real slots, 0 on the padding slots of `mask_positions`.
    # Masks are drawn again every epoch ("dynamic masking"), so the model sees new corruptions.
    options = dict(
        sequence_length=size["sequence_length"], max_predictions=size["max_predictions"],
        sentences_per_segment=2,
        shuffle_buffer=size["shuffle_buffer"], seed=0,
    )  # fmt: skip
    train, tokenizer = load_bert_pretraining(
        "tiny_shakespeare", "train", size["batch_size"], max_tokens=size["max_tokens"], repeat=True, **options
    )
    # The held-out pairs keep the same masks every time we look at them (no dynamic masking).
    validation, _ = load_bert_pretraining(
        "tiny_shakespeare", "validation", size["batch_size"], tokenizer=tokenizer, dynamic_masking=False, **options
    )
    validation = validation.take(size["validation_batches"] or -1)
    validation_steps = sum(1 for _ in validation)
    specials = tokenizer.special_token_ids
    cls_id, sep_id, mask_id = specials["[CLS]"], specials["[SEP]"], specials["[MASK]"]
    vocabulary = tokenizer.get_vocabulary()
    print(f"Vocabulary: {len(vocabulary)} words ([PAD]=0, [UNK]=1, [CLS]={cls_id}, [SEP]={sep_id}, [MASK]={mask_id})")

    inputs, targets, weights = next(iter(train))
    batch = {key: value.numpy() for key, value in inputs.items()}
    labels, label_weights = targets["mlm_probabilities"].numpy(), weights["mlm_probabilities"].numpy()
    original = unmask(batch["token_ids"], batch["mask_positions"], labels, label_weights)
    example = 0
    length = int(batch["padding_mask"][example].sum())
    fed = batch["token_ids"][example, :length]
    segments = batch["segment_ids"][example, :length]
    chosen = batch["mask_positions"][example][label_weights[example] > 0]
    nsp = int(targets["nsp_probabilities"][example])
    print(f"\nOne packed example ({length} real tokens of {size['sequence_length']}; "
          f"NSP label {nsp} = {'IsNext' if nsp == IS_NEXT else 'NotNext'}):")  # fmt: skip
    print("  original   :", " ".join(vocabulary[i] for i in original[example, :length]))
    print("  fed to BERT:", " ".join(vocabulary[i] for i in fed))
    print("  segment ids:", "".join(str(s) for s in segments))
    print("  chosen positions (the only places the MLM loss looks at):")
    for position in chosen:
        word, shown = vocabulary[original[example, position]], vocabulary[fed[position]]
        kind = "[MASK]" if fed[position] == mask_id else ("kept" if shown == word else "random")
        print(f"    t={position:2d}  {word!r:>14} -> {shown!r:<14} ({kind})")

    # The rates, measured over many examples: chosen / candidate tokens ≈ 15 % (rounded per
    # example, at least one, at most max_predictions), of the chosen 80 % [MASK], 10 % random,
    # 10 % kept, and 50 % IsNext.
    counts = collections.Counter()
    for inputs, targets, weights in train.take(size["statistics_batches"]):
        token_ids, positions = inputs["token_ids"].numpy(), inputs["mask_positions"].numpy()
        y, w = targets["mlm_probabilities"].numpy(), weights["mlm_probabilities"].numpy()
        real = (inputs["padding_mask"].numpy() > 0) & (token_ids != cls_id) & (token_ids != sep_id)
        shown = np.take_along_axis(token_ids, positions, axis=1)[w > 0]
        counts["candidates"] += int(real.sum())
        counts["chosen"] += int(w.sum())
        counts["[MASK]"] += int((shown == mask_id).sum())
        counts["kept"] += int((shown == y[w > 0]).sum())
        counts["pairs"] += len(y)
        counts["IsNext"] += int((targets["nsp_probabilities"].numpy() == IS_NEXT).sum())
    counts["random"] = counts["chosen"] - counts["[MASK]"] - counts["kept"]
    rates = {
        "chosen_rate": counts["chosen"] / counts["candidates"],
        "mask_token_rate": counts["[MASK]"] / counts["chosen"],
        "random_token_rate": counts["random"] / counts["chosen"],
        "kept_rate": counts["kept"] / counts["chosen"],
        "is_next_rate": counts["IsNext"] / counts["pairs"],
    }
    print(f"\nOver {counts['pairs']} training pairs: chosen {rates['chosen_rate']:.1%} of the word tokens; "
          f"of those [MASK] {rates['mask_token_rate']:.1%}, random {rates['random_token_rate']:.1%}, "
          f"kept {rates['kept_rate']:.1%}; IsNext {rates['is_next_rate']:.1%}")  # fmt: skip
    results.update(rates)

    # ## 2. The model and its input embeddings
    #
    # BERT-Tiny with its position table cut to our context, and no dropout: a few hundred steps
    # cannot overfit a million parameters. The MLM head reads the encoder's
    # output only at `mask_positions` and projects onto the vocabulary with the (tied) token
    # embedding; the NSP head is a 2-way softmax on the pooled [CLS] vector.
    model = bert(
        preset="bert_tiny", head="pretraining", vocabulary_size=tokenizer.vocabulary_size(),
        max_sequence_length=size["sequence_length"], dropout=0.0,
    )  # fmt: skip
    model.summary()
    backbone = model.backbone

    # The input of the encoder is a sum of three lookups, then a layer norm. By hand, from the
    # layer's own tables:
    embedding = backbone.token_embedding
    token_table = keras.ops.convert_to_numpy(embedding.token_embedding.embeddings)
    position_table = keras.ops.convert_to_numpy(embedding.position_embedding.embeddings)
    segment_table = keras.ops.convert_to_numpy(embedding.segment_embedding.embeddings)

    def embeddings_by_hand(token_ids, segment_ids):
        parts = token_table[token_ids], position_table[: token_ids.shape[-1]], segment_table[segment_ids]
        return parts, parts[0] + parts[1] + parts[2]

    _, summed = embeddings_by_hand(batch["token_ids"], batch["segment_ids"])
    norm = backbone.embeddings_layer_norm
    by_hand = layer_norm(summed, *(keras.ops.convert_to_numpy(v) for v in (norm.gamma, norm.beta)), norm.epsilon)
    by_layer = keras.ops.convert_to_numpy(norm(embedding(batch["token_ids"], segment_ids=batch["segment_ids"])))
    results["embedding_difference"] = float(np.abs(by_hand - by_layer).max())
    print(f"LayerNorm(E_tok + E_pos + E_seg) by hand vs the model's layers, max |difference|: "
          f"{results['embedding_difference']:.2e}")  # fmt: skip

    # ## 3. The losses
    #
    # The MLM loss is a cross-entropy averaged over the chosen positions only. The batch gives
    # every example `max_predictions` slots, padded with weight 0, so we need the *weighted* mean
    # Σ w·CE / Σ w ("mean_with_sample_weight"); Keras' default reduction would divide by all
    # B·P slots and shrink the loss of short examples. Checked by hand on one batch:
    mlm_loss = keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight")
    outputs = model(inputs, training=False)
    probabilities = keras.ops.convert_to_numpy(outputs["mlm_probabilities"])
    y, w = targets["mlm_probabilities"].numpy(), weights["mlm_probabilities"].numpy()
    cross_entropy = -np.log(np.take_along_axis(probabilities, y[..., None], axis=-1)[..., 0])
    by_hand = float((w * cross_entropy).sum() / w.sum())
    by_keras = float(mlm_loss(y, probabilities, sample_weight=w))
    plain_mean = float(keras.losses.SparseCategoricalCrossentropy()(y, probabilities, sample_weight=w))
    results["mlm_loss_difference"] = abs(by_hand - by_keras)
    results["initial_mlm_loss"] = by_keras
    print(f"Untrained MLM loss on chosen positions: by hand {by_hand:.5f}, Keras {by_keras:.5f} "
          f"(|difference| {results['mlm_loss_difference']:.1e}; ln V = {np.log(len(vocabulary)):.3f}); "
          f"dividing by all slots instead would give {plain_mean:.3f}")  # fmt: skip

    # ## 4. Pre-training
    #
    # Both heads train together: the total loss is the sum of the two. `weighted_metrics` makes
    # the MLM accuracy count only the chosen positions too.
    #
    # What to expect from a couple of minutes on a CPU: the MLM head first learns word
    # frequencies, then starts to use the context, and passes the most-frequent-word guess within
    # a few hundred steps. The NSP head stays near the coin's 50 % (its loss near ln 2): telling a
    # real continuation from a random segment needs what MLM has only begun to learn (which words
    # go together, who is speaking to whom); BERT itself trained for a million steps of 128,000
    # tokens each. RoBERTa (Liu et al. 2019) later found that dropping NSP does not hurt.
    # BERT's recipe: the learning rate warms up linearly (here over the first 10 % of the steps),
    # then decays (here along a cosine).
    total_steps = size["epochs"] * max(1, steps // size["epochs"])
    warmup_steps = max(1, total_steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, total_steps - warmup_steps), warmup_target=1e-3, warmup_steps=warmup_steps
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule),
        loss={"mlm_probabilities": mlm_loss, "nsp_probabilities": "sparse_categorical_crossentropy"},
        weighted_metrics={"mlm_probabilities": ["accuracy"], "nsp_probabilities": ["accuracy"]},
        jit_compile=False,  # XLA is slower than plain graphs for this small model on a CPU
        run_eagerly=args.smoke,  # smoke: no graph to trace for a handful of steps
    )
    epochs = size["epochs"]
    start = time.time()
    history = model.fit(
        train, epochs=epochs, steps_per_epoch=max(1, steps // epochs), validation_data=validation,
        validation_steps=validation_steps, verbose=2
    ).history
    print(f"Trained {epochs * max(1, steps // epochs)} steps in {time.time() - start:.0f} s")

    # Held-out accuracy, counted by hand over the validation pairs, against the baselines:
    # always guessing the most frequent masked word of the training batches, and the best
    # constant NSP guess (about 50 %).
    train_labels = collections.Counter()
    for _, targets, weights in train.take(size["statistics_batches"]):
        y, w = targets["mlm_probabilities"].numpy(), weights["mlm_probabilities"].numpy()
        train_labels.update(y[w > 0].tolist())
    most_frequent = train_labels.most_common(1)[0][0]
    hits = collections.Counter()
    for inputs, targets, weights in validation:
        outputs = model(inputs, training=False)
        y, w = targets["mlm_probabilities"].numpy(), weights["mlm_probabilities"].numpy() > 0
        guess = keras.ops.convert_to_numpy(keras.ops.argmax(outputs["mlm_probabilities"], -1))
        nsp_true = targets["nsp_probabilities"].numpy()
        nsp_guess = keras.ops.convert_to_numpy(keras.ops.argmax(outputs["nsp_probabilities"], -1))
        hits["mlm"] += int((guess == y)[w].sum())
        hits["mlm_baseline"] += int((y == most_frequent)[w].sum())
        hits["slots"] += int(w.sum())
        hits["nsp"] += int((nsp_guess == nsp_true).sum())
        hits["is_next"] += int((nsp_true == IS_NEXT).sum())
        hits["pairs"] += len(nsp_true)
    results.update(
        mlm_accuracy=hits["mlm"] / hits["slots"],
        mlm_baseline_accuracy=hits["mlm_baseline"] / hits["slots"],
        nsp_accuracy=hits["nsp"] / hits["pairs"],
        nsp_baseline_accuracy=max(hits["is_next"], hits["pairs"] - hits["is_next"]) / hits["pairs"],
        train_mlm_loss=history["mlm_probabilities_loss"],
        train_nsp_loss=history["nsp_probabilities_loss"],
        val_mlm_loss=history["val_mlm_probabilities_loss"],
        val_nsp_loss=history["val_nsp_probabilities_loss"],
    )
    print(f"\nHeld out ({hits['pairs']} pairs, {hits['slots']} masked words):")
    print(f"  MLM accuracy {results['mlm_accuracy']:.1%}  vs always {vocabulary[most_frequent]!r}: "
          f"{results['mlm_baseline_accuracy']:.1%}")  # fmt: skip
    print(f"  NSP accuracy {results['nsp_accuracy']:.1%}  vs the best constant guess: "
          f"{results['nsp_baseline_accuracy']:.1%}  (NSP loss {results['val_nsp_loss'][-1]:.3f}; "
          f"ln 2 = {np.log(2):.3f})")  # fmt: skip

    # ## 5. Filling in a [MASK]
    #
    # A held-out pair of segments that really follow each other; we hide one frequent word of A
    # (the tiny model knows the common words best) and ask the MLM head for it.
    documents = load_text("tiny_shakespeare", "validation")
    parts = split_segments(next(iter(documents)), "lines", 2).numpy()
    frequent = set(range(mask_id + 1, mask_id + 1 + 30))  # the 30 most frequent words
    for index in range(len(parts) - 1):
        ids_a = tokenizer.tokenize_ragged(parts[index]).numpy()
        where = [i for i, token in enumerate(ids_a[: size["sequence_length"] // 2 - 2]) if token in frequent]
        if where:
            break
    hidden = where[len(where) // 2]
    answer = vocabulary[ids_a[hidden]]
    ids_a[hidden] = mask_id
    packed = pack_bert_inputs(
        ids_a, tokenizer.tokenize_ragged(parts[index + 1]), sequence_length=size["sequence_length"],
        cls_id=cls_id, sep_id=sep_id,
    )  # fmt: skip
    query = {key: value.numpy()[None] for key, value in packed.items()}
    query["mask_positions"] = np.array([[hidden + 1]], "int32")  # +1 for [CLS]
    outputs = model(query, training=False)
    distribution = keras.ops.convert_to_numpy(outputs["mlm_probabilities"])[0, 0]
    top = np.argsort(distribution)[::-1][:5]
    shown = " ".join(vocabulary[i] for i in query["token_ids"][0][query["padding_mask"][0] > 0])
    results["fill_in"] = {"answer": answer, "top5": [vocabulary[i] for i in top]}
    results["fill_in_is_next_probability"] = float(keras.ops.convert_to_numpy(outputs["nsp_probabilities"])[0, IS_NEXT])
    print(f"\nFill in the [MASK]:\n  {shown}")
    guesses = ", ".join(f"{vocabulary[i]!r} {distribution[i]:.3f}" for i in top)
    print(f"  hidden word {answer!r}; BERT's top 5: {guesses}")
    print(f"  p(IsNext) for this real pair: {results['fill_in_is_next_probability']:.2f}")

    # ## 6. Pictures
    #
    # The learning curves: both losses fall; the NSP loss starts at ln 2 (a coin).
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    steps_axis = np.arange(1, epochs + 1) * max(1, steps // epochs)
    for axis, head, title in ((axes[0], "mlm", "masked LM"), (axes[1], "nsp", "next sentence")):
        axis.plot(steps_axis, results[f"train_{head}_loss"], "o-", label="train")
        axis.plot(steps_axis, results[f"val_{head}_loss"], "s--", label="validation")
        axis.set(title=f"{title} loss", xlabel="training step", ylabel="cross-entropy")
        axis.legend()
    axes[1].axhline(np.log(2), color="gray", linestyle=":", label="ln 2 (coin)")
    axes[1].legend()
    figure.tight_layout()
    path = os.path.join(args.output_dir, "bert_mlm_nsp_curves.png")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    results["pictures"].append(path)

    # The three (trained) embeddings of the example of section 1 and their sum, position by
    # position: the segment embedding switches once at the first [SEP].
    token_table = keras.ops.convert_to_numpy(embedding.token_embedding.embeddings)
    position_table = keras.ops.convert_to_numpy(embedding.position_embedding.embeddings)
    segment_table = keras.ops.convert_to_numpy(embedding.segment_embedding.embeddings)
    (tokens_part, positions_part, segments_part), total = embeddings_by_hand(fed, segments)
    figure, axes = plt.subplots(1, 4, figsize=(14, 4.5), sharey=True, layout="constrained")
    panels = (tokens_part, positions_part, segments_part, total)
    titles = ("E_tok[token]", "E_pos[t]", "E_seg[segment]", "sum")
    limit = float(np.abs(total).max())
    for axis, values, title in zip(axes, panels, titles):
        image = axis.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        axis.set(title=title, xlabel="hidden dimension")
    axes[0].set_ylabel("position t")
    figure.colorbar(image, ax=axes, shrink=0.8, fraction=0.03)
    figure.suptitle("BERT's input = token + position + segment embeddings (one example)")
    path = os.path.join(args.output_dir, "bert_mlm_nsp_embeddings.png")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    results["pictures"].append(path)
    print("Saved", ", ".join(results["pictures"]))
    return results


if __name__ == "__main__":
    main()
