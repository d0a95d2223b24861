"""Text classification pipelines: IMDB, GLUE SST-2 / CoLA (single sentences)
and GLUE MRPC (sentence pairs), for `text_cnn`, `rnn_classifier` and
`bert(head="classifier")`."""

import tensorflow as tf

from kerasnets.data.bert_inputs import pack_bert_inputs
from kerasnets.data.pipeline import AUTOTUNE, finish, is_training_split
from kerasnets.data.tfds_loading import load
from kerasnets.tokenizers import BERT_SPECIAL_TOKENS, WordTokenizer

# (text features, label feature) of the datasets this module knows.
TEXT_FEATURES = {
    "imdb_reviews": ("text",),
    "glue/sst2": ("sentence",),
    "glue/cola": ("sentence",),
    "glue/mrpc": ("sentence1", "sentence2"),
    "glue/qqp": ("question1", "question2"),
    "glue/rte": ("sentence1", "sentence2"),
    "glue/stsb": ("sentence1", "sentence2"),
    "glue/qnli": ("question", "sentence"),
    "glue/wnli": ("sentence1", "sentence2"),
    "glue/mnli": ("premise", "hypothesis"),
}


def clean_text(text):
    """HTML line breaks (IMDB's `<br />`) → spaces; strip."""
    return tf.strings.strip(tf.strings.regex_replace(text, r"<br\s*/?>", " "))


def _features(name):
    base = name.split(":")[0]
    if base not in TEXT_FEATURES:
        raise ValueError(f"Unknown text classification dataset '{name}'. Known: {', '.join(TEXT_FEATURES)}.")
    return TEXT_FEATURES[base]


def load_texts(name, split="train", *, data_root=None, data_dir=None, download=True):
    """A tf.data of every raw string in the text features of `split` (for adapting a tokenizer)."""
    features = _features(name)
    dataset = load(name, split=split, data_root=data_root, data_dir=data_dir, download=download)
    dataset = dataset.map(lambda ex: tf.stack([clean_text(ex[f]) for f in features]), num_parallel_calls=AUTOTUNE)
    return dataset.unbatch()


def text_classification_dataset(
    examples,
    tokenizer,
    text_features,
    batch_size=32,
    *,
    sequence_length=128,
    truncation_side="right",
    bert_inputs=False,
    label_feature="label",
    input_name=None,
    shuffle=True,
    seed=None,
    shuffle_buffer=10_000,
    cache=True,
    drop_remainder=False,
    repeat=False,
):
    """Batches of `(inputs, label)` from a tf.data of feature dicts.

    * `bert_inputs=False` (one text feature): inputs are token ids int32
      `(B, sequence_length)` (0-padded, truncated), or `{input_name: ids}`.
      `truncation_side="left"` keeps a long text's last `sequence_length`
      tokens instead of its first (Hugging Face's `truncation_side`; Keras'
      `pad_sequences(truncating="pre")`): a review's verdict is often at its end.
    * `bert_inputs=True`: inputs are {"token_ids", "segment_ids",
      "padding_mask"} int32 `(B, sequence_length)` for `[CLS] a [SEP]` or
      `[CLS] a [SEP] b [SEP]` (the tokenizer needs "[CLS]" and "[SEP]").

    Labels are int32 `(B,)` (-1 on GLUE's unlabelled test splits).
    """
    text_features = tuple(text_features)
    if truncation_side not in ("right", "left"):
        raise ValueError(f"truncation_side must be 'right' or 'left', got {truncation_side!r}.")
    if bert_inputs and truncation_side != "right":
        raise ValueError("truncation_side='left' is for token-id inputs; BERT inputs are truncated on the right.")
    if bert_inputs:
        specials = tokenizer.special_token_ids
        if "[CLS]" not in specials or "[SEP]" not in specials:
            raise ValueError("bert_inputs=True needs a tokenizer with special_tokens including '[CLS]' and '[SEP]'.")
        cls_id, sep_id = specials["[CLS]"], specials["[SEP]"]
    elif len(text_features) != 1:
        raise ValueError(f"{text_features} is a sentence pair: use bert_inputs=True (segment ids).")

    def encode(example):
        label = tf.cast(example[label_feature], tf.int32)
        texts = [clean_text(example[f]) for f in text_features]
        if bert_inputs:
            ids = [tokenizer.tokenize_ragged(t) for t in texts]
            inputs = pack_bert_inputs(*ids, sequence_length=sequence_length, cls_id=cls_id, sep_id=sep_id)
        else:
            if truncation_side == "left" and sequence_length is not None:
                ids = tokenizer.tokenize_ragged(texts[0])[-sequence_length:]
                inputs = tf.pad(ids, [[0, sequence_length - tf.shape(ids)[0]]])
                inputs = tf.ensure_shape(inputs, [sequence_length])
            else:
                inputs = tokenizer.tokenize(texts[0], sequence_length=sequence_length)
            inputs = {input_name: inputs} if input_name else inputs
        return inputs, label

    dataset = examples.map(encode, num_parallel_calls=AUTOTUNE)
    return finish(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
        cache=cache,
        drop_remainder=drop_remainder,
        repeat=repeat,
    )


def load_text_classification(
    name="glue/sst2",
    split="train",
    batch_size=32,
    *,
    sequence_length=128,
    truncation_side="right",
    tokenizer=None,
    max_tokens=20_000,
    tokenizer_split="train",
    bert_inputs=None,
    input_name=None,
    shuffle=None,
    seed=None,
    shuffle_buffer=10_000,
    cache=True,
    drop_remainder=False,
    repeat=False,
    data_root=None,
    data_dir=None,
    download=True,
):
    """Tokenized text classification batches of a tfds dataset.

    Args:
        name: "imdb_reviews", "glue/sst2", "glue/cola" (single sentences),
            "glue/mrpc" (pairs), or another GLUE task of `TEXT_FEATURES`.
        split: A tfds split ("train", "validation" for GLUE, "test[:64]" …).
        batch_size: Batch size.
        sequence_length: Tokens per example (padded / truncated; BERT inputs
            include [CLS] and [SEP]).
        truncation_side: "right" keeps a long text's first tokens, "left"
            its last (token-id inputs only).
        tokenizer: A `WordTokenizer`; None: one adapted on `tokenizer_split`
            (with `max_tokens`, and the BERT special tokens when
            `bert_inputs`). Pass the train tokenizer for other splits.
        bert_inputs: Emit BERT's three inputs; None: only for sentence pairs.
        input_name: For single-input models, wrap the ids as `{input_name: ids}`.
        shuffle: None: only for "train…" splits.
        seed, shuffle_buffer, cache, drop_remainder, repeat: tf.data options.
        data_root, data_dir, download: See `kerasnets.data.load`.

    Returns:
        `(dataset, tokenizer)`; batches as in `text_classification_dataset`.
    """
    features = _features(name)
    if bert_inputs is None:
        bert_inputs = len(features) > 1
    kwargs = dict(data_root=data_root, data_dir=data_dir, download=download)
    if tokenizer is None:
        tokenizer = WordTokenizer(special_tokens=BERT_SPECIAL_TOKENS if bert_inputs else (), max_tokens=max_tokens)
        tokenizer.adapt(load_texts(name, tokenizer_split, **kwargs).batch(1024))
    if shuffle is None:
        shuffle = is_training_split(split)
    dataset = text_classification_dataset(
        load(name, split=split, **kwargs),
        tokenizer,
        features,
        batch_size,
        sequence_length=sequence_length,
        truncation_side=truncation_side,
        bert_inputs=bert_inputs,
        input_name=input_name,
        shuffle=shuffle,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
        cache=cache,
        drop_remainder=drop_remainder,
        repeat=repeat,
    )
    return dataset, tokenizer
