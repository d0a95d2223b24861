"""The unlabelled English text available here, as documents for BERT pre-training.

    documents = load_pretraining_corpus("train")      # tf.data of strings, one segment per line
    held_out = load_pretraining_corpus("held_out")    # for held-out MLM / NSP accuracy

A document is one string of segments separated by "\\n"; `bert_pretraining_dataset(documents,
sentence_split="lines", single_segment_documents=True)` pairs consecutive segments for NSP and
uses one-segment documents (a GLUE sentence) for the masked LM alone. Labels are never read.

    source             "train"                              "held_out"
    imdb_reviews       train reviews, 2 sentences a segment  test[:HELD_OUT_IMDB_REVIEWS]
    glue/sst2, glue/cola   train sentences, one a document   -
    glue/mrpc          train sentence1 and sentence2, one a document
    tiny_shakespeare   train, 4 lines a segment, 10 segments a document   validation

Only training splits go into "train": the evaluation splits of the tasks a pre-trained model is
fine-tuned on (IMDB test, GLUE validation) stay out, so a fine-tuned score never gains from
having read its own test text. The documents are shuffled together (seeded), so the random
segments NSP draws for "NotNext" come from every source.
"""

import tensorflow as tf

from kerasnets.data.bert_pretraining import split_segments
from kerasnets.data.pipeline import AUTOTUNE
from kerasnets.data.text_classification import clean_text
from kerasnets.data.tfds_loading import load

TRAIN_SOURCES = ("imdb_reviews", "glue/sst2", "glue/cola", "glue/mrpc", "tiny_shakespeare")
HELD_OUT_IMDB_REVIEWS = 1000
SHAKESPEARE_LINES_PER_SEGMENT = 4
SHAKESPEARE_SEGMENTS_PER_DOCUMENT = 10
IMDB_SENTENCES_PER_SEGMENT = 2


def _lines(segments):
    return tf.strings.reduce_join(segments, separator="\n")


def _imdb(split, kwargs):
    reviews = load("imdb_reviews", split=split, **kwargs)
    return reviews.map(
        lambda ex: _lines(split_segments(ex["text"], "punctuation", IMDB_SENTENCES_PER_SEGMENT)),
        num_parallel_calls=AUTOTUNE,
    )


def _sentences(name, features, split, kwargs):
    examples = load(name, split=split, **kwargs)
    sentences = examples.map(lambda ex: tf.stack([clean_text(ex[f]) for f in features]), num_parallel_calls=AUTOTUNE)
    return sentences.unbatch().filter(lambda text: tf.strings.length(text) > 0)


def _shakespeare(split, kwargs):
    text = load("tiny_shakespeare", split=split, **kwargs)  # one example: the whole split
    segments = text.map(lambda ex: split_segments(ex["text"], "lines", SHAKESPEARE_LINES_PER_SEGMENT)).unbatch()
    return segments.batch(SHAKESPEARE_SEGMENTS_PER_DOCUMENT).map(_lines)


def load_pretraining_corpus(split="train", *, sources=TRAIN_SOURCES, seed=0, data_root=None, data_dir=None,
                            download=True):  # fmt: skip
    """Documents (strings, one segment per line) of the pre-training text.

    Args:
        split: "train" (the training splits of `sources`) or "held_out"
            (IMDB test reviews [:HELD_OUT_IMDB_REVIEWS] and tiny_shakespeare
            validation: multi-segment documents, for MLM and NSP accuracy).
        sources: Which of TRAIN_SOURCES "train" reads.
        seed: Order of the documents (shuffled together once; None: no shuffle).
        data_root, data_dir, download: See `kerasnets.data.load`.
    """
    kwargs = dict(data_root=data_root, data_dir=data_dir, download=download)
    if split == "held_out":
        parts = [_imdb(f"test[:{HELD_OUT_IMDB_REVIEWS}]", kwargs), _shakespeare("validation", kwargs)]
    elif split == "train":
        unknown = sorted(set(sources) - set(TRAIN_SOURCES))
        if unknown or not sources:
            raise ValueError(f"Unknown corpus sources {unknown or list(sources)}; known: {', '.join(TRAIN_SOURCES)}.")
        readers = {
            "imdb_reviews": lambda: _imdb("train", kwargs),
            "glue/sst2": lambda: _sentences("glue/sst2", ("sentence",), "train", kwargs),
            "glue/cola": lambda: _sentences("glue/cola", ("sentence",), "train", kwargs),
            "glue/mrpc": lambda: _sentences("glue/mrpc", ("sentence1", "sentence2"), "train", kwargs),
            "tiny_shakespeare": lambda: _shakespeare("train", kwargs),
        }
        parts = [readers[name]() for name in TRAIN_SOURCES if name in sources]
    else:
        raise ValueError(f"split must be 'train' or 'held_out'; got {split!r}.")
    documents = parts[0]
    for part in parts[1:]:
        documents = documents.concatenate(part)
    documents = documents.filter(lambda text: tf.strings.length(tf.strings.strip(text)) > 0)
    if seed is not None:
        # A buffer larger than the corpus (~110,000 documents): a full shuffle, the same every pass.
        documents = documents.shuffle(200_000, seed=seed, reshuffle_each_iteration=False)
    return documents
