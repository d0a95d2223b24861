"""BERT pre-training batches: masked-LM + next-sentence prediction, in tf.data,
matching `kerasnets.models.bert(head="pretraining")`.

Per example (Devlin et al. 2019, §3.1 and appendix A.1):

* NSP: segment A (one or a few consecutive sentences) and, with probability `next_sentence_rate` (0.5), the
  sentence that follows it in the same document (label 0, "IsNext"), else a
  random sentence of the corpus (label 1, "NotNext") — the label convention
  of Google's BERT (`next_sentence_labels`). Packed as `[CLS] A [SEP] B [SEP]`,
  longest first truncated to `sequence_length`.
* MLM: `mask_rate` (15 %) of the non-special, non-padding tokens (at least
  one, at most `max_predictions`) are chosen; each chosen token becomes
  `[MASK]` with probability 0.8, a random vocabulary token with 0.1, and stays
  with 0.1. `mask_positions` lists them (sorted, padded with 0 up to
  `max_predictions`), the MLM targets are the original ids there, and the
  sample weight is 1 on real predictions and 0 on the padding slots.
* With `single_segment_documents`, a document of one segment (a lone GLUE
  sentence) is packed `[CLS] A [SEP]` for the masked LM alone: its NSP
  target is 0 with sample weight 0.

Batches: `(inputs, targets, sample_weights)`:

    inputs   {"token_ids", "segment_ids", "padding_mask"}: int32 (B, L)
             "mask_positions": int32 (B, P)
    targets  {"mlm_probabilities": int32 (B, P), "nsp_probabilities": int32 (B,)}
    weights  {"mlm_probabilities": float32 (B, P), "nsp_probabilities": float32 (B,)}

so `model.compile(loss={"mlm_probabilities": "sparse_categorical_crossentropy",
"nsp_probabilities": "sparse_categorical_crossentropy"})` and `fit` work as is.
"""

import tensorflow as tf

from kerasnets.data.bert_inputs import pack_bert_inputs
from kerasnets.data.pipeline import AUTOTUNE, is_training_split, shuffle_and_repeat, with_known_cardinality
from kerasnets.data.tfds_loading import load
from kerasnets.tokenizers import BERT_SPECIAL_TOKENS, WordTokenizer

IS_NEXT, NOT_NEXT = 0, 1
TOKENIZE_BATCH = 256  # pairs tokenized per call
NO_PAIR = -1  # a one-segment example: masked LM only, no NSP target (weight 0)


def split_sentences(document, mode="lines"):
    """A document string → 1-D non-empty stripped sentences.

    `mode` "lines": one sentence per line (tiny_shakespeare); "punctuation":
    split after `.`, `!`, `?` followed by whitespace, and at line breaks
    (prose such as IMDB reviews).
    """
    if mode == "punctuation":
        document = tf.strings.regex_replace(document, r"<br\s*/?>", "\n")
        document = tf.strings.regex_replace(document, r"([.!?])\s+", "\\1\n")
    elif mode != "lines":
        raise ValueError(f"mode must be 'lines' or 'punctuation'; got {mode!r}")
    sentences = tf.strings.strip(tf.strings.split(document, "\n"))
    return tf.boolean_mask(sentences, tf.strings.length(sentences) > 0)


def mask_tokens(
    token_ids,
    seed,
    *,
    max_predictions,
    vocabulary_size,
    mask_id,
    special_ids,
    first_random_id,
    mask_rate=0.15,
    mask_token_rate=0.8,
    random_token_rate=0.1,
):
    """BERT's masking of one packed example, with stateless randomness.

    Args:
        token_ids: int32 `(L,)`.
        seed: int `(2,)`: the stateless seed of this example.
        max_predictions: P, the fixed number of mask slots.
        vocabulary_size: Random replacements are drawn from
            `[first_random_id, vocabulary_size)`.
        mask_id: The id of `[MASK]`.
        special_ids: Ids that are never chosen (padding is never chosen).
        mask_rate, mask_token_rate, random_token_rate: 0.15, 0.8, 0.1.

    Returns:
        (masked token ids `(L,)`, mask_positions `(P,)`, labels `(P,)`, weights `(P,)`).
    """
    token_ids = tf.cast(token_ids, tf.int32)
    length = tf.shape(token_ids)[0]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
    candidate = tf.not_equal(token_ids, 0)
    for special in special_ids:
        candidate &= tf.not_equal(token_ids, special)
    num_candidates = tf.reduce_sum(tf.cast(candidate, tf.int32))
    num_predictions = tf.cast(tf.round(tf.cast(num_candidates, tf.float32) * mask_rate), tf.int32)
    num_predictions = tf.minimum(tf.maximum(num_predictions, tf.minimum(num_candidates, 1)), max_predictions)

    scores = tf.random.stateless_uniform([length], seeds[0])
    scores = tf.where(candidate, scores, -1.0)
    k = tf.minimum(max_predictions, length)
    _, chosen = tf.math.top_k(scores, k=k)
    chosen = tf.pad(chosen, [[0, max_predictions - k]])
    valid = tf.range(max_predictions) < num_predictions
    # Sort the real positions ascending; padding slots (position 0) go last.
    order_key = tf.where(valid, chosen, length + tf.range(max_predictions))
    order = tf.argsort(order_key)
    positions = tf.where(valid, tf.gather(chosen, order), 0)
    positions = tf.ensure_shape(positions, [max_predictions])
    labels = tf.where(valid, tf.gather(token_ids, positions), 0)

    decision = tf.random.stateless_uniform([max_predictions], seeds[1])
    random_ids = tf.random.stateless_uniform(
        [max_predictions], seeds[2], minval=first_random_id, maxval=vocabulary_size, dtype=tf.int32
    )
    replacement = tf.where(
        decision < mask_token_rate,
        mask_id,
        tf.where(decision < mask_token_rate + random_token_rate, random_ids, labels),
    )
    update_positions = tf.boolean_mask(positions, valid)
    masked = tf.tensor_scatter_nd_update(
        token_ids, update_positions[:, tf.newaxis], tf.boolean_mask(replacement, valid)
    )
    return masked, positions, labels, tf.cast(valid, tf.float32)


def split_segments(document, mode="lines", sentences_per_segment=1):
    """A document → 1-D segments of `sentences_per_segment` consecutive
    sentences joined by " " (the last one may be shorter)."""
    sentences = split_sentences(document, mode)
    if sentences_per_segment == 1:
        return sentences
    k = sentences_per_segment
    padded = tf.pad(sentences, [[0, (-tf.size(sentences)) % k]])
    segments = tf.strings.reduce_join(tf.reshape(padded, [-1, k]), axis=1, separator=" ")
    return tf.strings.strip(segments)


def sentence_pairs(
    documents,
    *,
    sentence_split="lines",
    sentences_per_segment=1,
    next_sentence_rate=0.5,
    single_segment_documents=False,
    seed=None,
    shuffle_buffer=10_000,
):
    """A tf.data of `(segment_a, segment_b, nsp_label)` from a tf.data of documents.

    Segments are `sentences_per_segment` consecutive sentences. B is the
    segment after A in the same document with probability
    `next_sentence_rate` (label `IS_NEXT` = 0), else a random segment drawn
    from a shuffled stream of the corpus (label `NOT_NEXT` = 1). With
    `single_segment_documents`, a document of one segment gives
    `(segment, "", NO_PAIR)`: an example for the masked LM alone.
    """

    def segments(document):
        return split_segments(document, sentence_split, sentences_per_segment)

    def adjacent(document):
        parts = segments(document)
        if single_segment_documents:
            alone = tf.equal(tf.size(parts), 1)
            firsts = tf.cond(alone, lambda: parts, lambda: parts[:-1])
            seconds = tf.cond(alone, lambda: tf.constant([""]), lambda: parts[1:])
            singles = tf.fill(tf.shape(firsts), alone)
            return tf.data.Dataset.from_tensor_slices((firsts, seconds, singles))
        return tf.data.Dataset.from_tensor_slices((parts[:-1], parts[1:], tf.zeros([tf.size(parts) - 1], tf.bool)))

    def all_sentences(document):
        return tf.data.Dataset.from_tensor_slices(segments(document))

    pairs = documents.flat_map(adjacent)
    randoms = documents.flat_map(all_sentences).shuffle(shuffle_buffer, seed=seed).repeat()
    coins = tf.data.Dataset.random(seed=seed)

    def choose(pair, random_sentence, coin):
        a, following, single = pair
        draw = tf.cast(coin % 1_000_000, tf.float32) / 1_000_000.0
        is_next = draw < next_sentence_rate
        b = tf.where(single, following, tf.where(is_next, following, random_sentence))
        label = tf.where(single, NO_PAIR, tf.where(is_next, IS_NEXT, NOT_NEXT))
        return a, b, label

    return tf.data.Dataset.zip((pairs, randoms, coins)).map(choose, num_parallel_calls=AUTOTUNE)


def bert_pretraining_dataset(
    documents,
    tokenizer,
    batch_size=32,
    *,
    sequence_length=128,
    max_predictions=20,
    mask_rate=0.15,
    mask_token_rate=0.8,
    random_token_rate=0.1,
    next_sentence_rate=0.5,
    sentence_split="lines",
    sentences_per_segment=1,
    single_segment_documents=False,
    dynamic_masking=True,
    shuffle=True,
    seed=None,
    shuffle_buffer=10_000,
    cache=True,
    drop_remainder=True,
    repeat=False,
):
    """Pre-training batches (see the module docstring) from a tf.data of documents.

    The packed pairs are cached; masking comes after the cache and the
    shuffle, from a seeded stream of per-example seeds: with
    `dynamic_masking` (RoBERTa) every epoch masks differently, without it
    every epoch repeats the same masks; the same `seed` gives the same batches.
    """
    specials = tokenizer.special_token_ids
    missing = [t for t in BERT_SPECIAL_TOKENS if t not in specials]
    if missing:
        raise ValueError(f"The tokenizer needs the special tokens {BERT_SPECIAL_TOKENS}; missing {missing}.")
    cls_id, sep_id, mask_id = specials["[CLS]"], specials["[SEP]"], specials["[MASK]"]
    # Random replacements are drawn above every special id (a WordTokenizer: padding, OOV, specials;
    # a WordPiece vocabulary: [PAD] [UNK] [CLS] [SEP] [MASK], or BERT's [unused…] rows too).
    first_random_id = 1 + max(specials.values())
    vocabulary_size = tokenizer.vocabulary_size()
    if vocabulary_size <= first_random_id:
        raise ValueError("The tokenizer has no vocabulary beyond its special tokens.")

    def tokenize(a, b, nsp_label):  # a batch at a time: the tokenizers' per-call cost is paid once
        return tokenizer.tokenize_ragged(a), tokenizer.tokenize_ragged(b), nsp_label

    def pack(ids_a, ids_b, nsp_label):
        def pair():
            return pack_bert_inputs(ids_a, ids_b, sequence_length=sequence_length, cls_id=cls_id, sep_id=sep_id)

        def single():
            return pack_bert_inputs(ids_a, sequence_length=sequence_length, cls_id=cls_id, sep_id=sep_id)

        inputs = tf.cond(tf.equal(nsp_label, NO_PAIR), single, pair) if single_segment_documents else pair()
        return inputs, tf.cast(nsp_label, tf.int32)

    def usable(ids_a, ids_b, nsp_label):
        # Segments with no known-word token at all (e.g. a line of punctuation) are dropped.
        return (tf.size(ids_a) > 0) & ((tf.size(ids_b) > 0) | tf.equal(nsp_label, NO_PAIR))

    dataset = (
        sentence_pairs(
            documents,
            sentence_split=sentence_split,
            sentences_per_segment=sentences_per_segment,
            next_sentence_rate=next_sentence_rate,
            single_segment_documents=single_segment_documents,
            seed=seed,
            shuffle_buffer=shuffle_buffer,
        )
        .batch(TOKENIZE_BATCH)
        .map(tokenize, num_parallel_calls=AUTOTUNE)
        .unbatch()
        .filter(usable)
        .map(pack, num_parallel_calls=AUTOTUNE)
    )
    if cache:
        dataset = dataset.cache() if cache is True else dataset.cache(str(cache))
    if not repeat:  # Keras' evaluate needs the length (see pipeline.with_known_cardinality)
        dataset = with_known_cardinality(dataset)
    dataset = shuffle_and_repeat(dataset, shuffle=shuffle, repeat=repeat, seed=seed, buffer_size=shuffle_buffer)
    mask_seed = None if seed is None else seed + 1
    seeds = tf.data.Dataset.random(seed=mask_seed, rerandomize_each_iteration=dynamic_masking)

    def mask(example, example_seed):
        inputs, nsp_label = example
        token_ids, positions, labels, weights = mask_tokens(
            inputs["token_ids"],
            tf.stack([example_seed, tf.constant(0, tf.int64)]),
            max_predictions=max_predictions,
            vocabulary_size=vocabulary_size,
            mask_id=mask_id,
            special_ids=(cls_id, sep_id),
            first_random_id=first_random_id,
            mask_rate=mask_rate,
            mask_token_rate=mask_token_rate,
            random_token_rate=random_token_rate,
        )
        inputs = dict(inputs, token_ids=token_ids, mask_positions=positions)
        paired = tf.not_equal(nsp_label, NO_PAIR)
        targets = {"mlm_probabilities": labels, "nsp_probabilities": tf.maximum(nsp_label, 0)}
        weights = {"mlm_probabilities": weights, "nsp_probabilities": tf.cast(paired, tf.float32)}
        return inputs, targets, weights

    dataset = tf.data.Dataset.zip((dataset, seeds)).map(mask, num_parallel_calls=AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)


def load_bert_pretraining(
    name="tiny_shakespeare",
    split="train",
    batch_size=32,
    *,
    feature="text",
    sentence_split=None,
    sentences_per_segment=None,
    sequence_length=128,
    max_predictions=20,
    tokenizer=None,
    max_tokens=30_000,
    tokenizer_split="train",
    shuffle=None,
    seed=None,
    data_root=None,
    data_dir=None,
    download=True,
    **options,
):
    """BERT pre-training batches of a tfds text dataset.

    Args:
        name: A tfds dataset of documents in `feature`: "tiny_shakespeare"
            (sentences = lines) or "imdb_reviews" (sentences split at
            punctuation).
        split: A tfds split.
        batch_size, sequence_length, max_predictions: Batch shape (P =
            `max_predictions` mask slots).
        feature: The text feature.
        sentence_split: "lines" or "punctuation"; None: lines for
            tiny_shakespeare, punctuation otherwise.
        sentences_per_segment: Consecutive sentences per segment A / B; None:
            4 lines for tiny_shakespeare (its lines are short), else 1.
        tokenizer: A `WordTokenizer` with the BERT special tokens; None: one
            adapted on `tokenizer_split` with `max_tokens`.
        shuffle: None: only for "train…" splits.
        seed: Makes pairs, order and masks reproducible.
        data_root, data_dir, download: See `kerasnets.data.load`.
        **options: More `bert_pretraining_dataset` options (mask_rate, …).

    Returns:
        `(dataset, tokenizer)`; build the model with
        `bert(head="pretraining", vocabulary_size=tokenizer.vocabulary_size(),
        max_sequence_length>=sequence_length)`.
    """
    shakespeare = name.startswith("tiny_shakespeare")
    if sentence_split is None:
        sentence_split = "lines" if shakespeare else "punctuation"
    if sentences_per_segment is None:
        sentences_per_segment = 4 if shakespeare else 1
    kwargs = dict(data_root=data_root, data_dir=data_dir, download=download)

    def documents(split_name):
        return load(name, split=split_name, **kwargs).map(lambda ex: ex[feature], num_parallel_calls=AUTOTUNE)

    if tokenizer is None:
        tokenizer = WordTokenizer(special_tokens=BERT_SPECIAL_TOKENS, max_tokens=max_tokens)
        tokenizer.adapt(documents(tokenizer_split).map(lambda d: split_sentences(d, sentence_split)))
    if shuffle is None:
        shuffle = is_training_split(split)
    dataset = bert_pretraining_dataset(
        documents(split),
        tokenizer,
        batch_size,
        sequence_length=sequence_length,
        max_predictions=max_predictions,
        sentence_split=sentence_split,
        sentences_per_segment=sentences_per_segment,
        shuffle=shuffle,
        seed=seed,
        **options,
    )
    return dataset, tokenizer
