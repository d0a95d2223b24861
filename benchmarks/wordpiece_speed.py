"""WordPieceTokenizer (in a tf.function) vs Hugging Face's Rust BertWordPieceTokenizer on 1,000 IMDB reviews.

    PYTHONPATH=$PWD python benchmarks/wordpiece_speed.py [--reviews 1000] [--repeats 7]

Both tokenize the same reviews with the same vocabulary (trained here with
`tokenizers` on 5,000 other reviews, 8,000 tokens); the arms alternate, each
repeat timing one full batch; the medians and the ratio (our speed / Rust
speed, > 1 means faster) are printed with the machine.
"""

import argparse
import gzip
import os
import platform
import statistics
import tempfile
import time

import tensorflow as tf

from kerasnets.data.locations import data_root
from kerasnets.tokenizers.word_piece_tokenizer import WordPieceTokenizer


def imdb_reviews(count, skip=0):
    path = data_root() / "imdb" / "train.tsv.gz"
    reviews = []
    with gzip.open(path, "rt", encoding="utf-8") as file:
        next(file)
        for index, line in enumerate(file):
            if index % 5 == skip % 5:
                reviews.append(line.rstrip("\n").split("\t", 2)[2])
                if len(reviews) == count:
                    break
    return reviews


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="TF intra-op threads (0: TF's default)")
    args = parser.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    from tokenizers import BertWordPieceTokenizer

    reviews = imdb_reviews(args.reviews, skip=1)
    rust = BertWordPieceTokenizer(lowercase=True)
    rust.train_from_iterator(imdb_reviews(5000, skip=0), vocab_size=8000, min_frequency=2, show_progress=False)
    with tempfile.TemporaryDirectory() as directory:
        rust.save_model(directory)
        ours = WordPieceTokenizer.from_vocabulary_file(os.path.join(directory, "vocab.txt"))

    tokenize = tf.function(lambda strings: ours.tokenize_ragged(strings))
    batch = tf.constant(reviews)
    ours_ids = tokenize(batch)  # trace
    rust_ids = [encoding.ids for encoding in rust.encode_batch(reviews, add_special_tokens=False)]
    assert ours_ids.to_list() == rust_ids, "the two tokenizers disagree"
    tokens = sum(len(ids) for ids in rust_ids)

    times = {"ours (tf.function)": [], "rust encode_batch": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        tokenize(batch).flat_values.numpy()
        times["ours (tf.function)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        rust.encode_batch(reviews, add_special_tokens=False)
        times["rust encode_batch"].append(time.perf_counter() - start)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"TF {tf.__version__}, intra-op threads {args.threads or 'default'}")
    print(f"{len(reviews)} reviews, {sum(map(len, reviews)):,} characters, {tokens:,} tokens")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"  {name:22s} median {median * 1000:8.1f} ms  ({tokens / median:,.0f} tokens/s)")
    ratio = medians["rust encode_batch"] / medians["ours (tf.function)"]
    print(f"ratio (our speed / Rust speed): {ratio:.2f}")


if __name__ == "__main__":
    main()
