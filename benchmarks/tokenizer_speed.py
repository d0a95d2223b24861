"""Speed of our TensorFlow tokenizers against Hugging Face's Rust `tokenizers`, on IMDB reviews.

Each *arm* is a function `arm_<name>(files) -> tokenize(batch)`, built once
and then timed on the same batch of `--batch` IMDB test reviews (a Python list;
our arms get it as a string tensor, converted once outside the timing). Arms:

- `ours_bpe`: `BytePairTokenizer.tokenize_ragged` inside a `tf.function`;
- `rust_bpe`: `tokenizers.Tokenizer.encode_batch` (ByteLevel BPE, the same
  vocab.json / merges.txt; Rust, multi-threaded), called again and again, so
  its word cache is warm after the first call;
- `rust_bpe_fast`: the same with `encode_batch_fast` (no character offsets);
- `rust_bpe_cold`: the same with a fresh `Tokenizer` per call (built outside
  the timing), so every word goes through BPE, as in ours.

Adding an arm (e.g. WordPiece) = one `arm_...` function and an entry in `ARMS`.
The ids of every arm are checked equal before timing. The vocabulary is GPT-2's
when `--vocab/--merges` are given, else trained here on IMDB train with
`tokenizers` (`--vocabulary-size`, default 30,000). Arms alternate (the order
flips every repeat), each repeat times one call, the reported time is the
median over `--repeats`; the ratio is ours/rust speed = rust time / our time
(> 1: ours is faster).

    PYTHONPATH=$PWD python benchmarks/tokenizer_speed.py [--batch 1000] [--repeats 15] [--profile]
"""

import argparse
import gzip
import itertools
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from kerasnets.data.locations import data_root  # noqa: E402
from kerasnets.tokenizers import BytePairTokenizer  # noqa: E402
from machine_info import cpu_model  # noqa: E402  # benchmarks/ is on sys.path when run

ENDOFTEXT = "<|endoftext|>"


def machine():
    model = cpu_model(platform.processor() or "unknown CPU")
    versions = f"Python {platform.python_version()}, TF {tf.__version__}"
    return f"{platform.platform()}, {model}, {os.cpu_count()} CPUs, {versions}"


def imdb_reviews(split, count):
    path = data_root() / "imdb" / f"{split}.tsv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return [row.rstrip("\n").split("\t", 1)[1] for row in itertools.islice(file, 1, 1 + count)]


def bpe_files(args, directory):
    if args.vocab and args.merges:
        return {"vocab": args.vocab, "merges": args.merges, "source": "given files"}
    from tokenizers import ByteLevelBPETokenizer

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        imdb_reviews("train", 25000), vocab_size=args.vocabulary_size, special_tokens=[ENDOFTEXT], show_progress=False
    )
    trainer.save_model(directory)
    return {
        "vocab": os.path.join(directory, "vocab.json"),
        "merges": os.path.join(directory, "merges.txt"),
        "source": f"trained on 25,000 IMDB train reviews, {args.vocabulary_size} tokens",
    }


# -- arms: each returns (tokenize(batch) -> anything, ids(batch) -> list of id lists) ------------
def arm_ours_bpe(files):
    tokenizer = BytePairTokenizer.from_files(files["vocab"], files["merges"])
    tokenize = tf.function(tokenizer.tokenize_ragged, input_signature=[tf.TensorSpec([None], tf.string)])
    return tokenize, lambda batch: tokenize(batch).to_list()


def _rust_bpe(files):
    from tokenizers import ByteLevelBPETokenizer

    tokenizer = ByteLevelBPETokenizer(files["vocab"], files["merges"])
    tokenizer.add_special_tokens([ENDOFTEXT])
    return tokenizer._tokenizer  # the plain `tokenizers.Tokenizer`


def arm_rust_bpe(files):
    tokenizer = _rust_bpe(files)

    def tokenize(batch):
        return tokenizer.encode_batch(batch)

    return tokenize, lambda batch: [encoding.ids for encoding in tokenize(batch)]


def arm_rust_bpe_fast(files):
    tokenizer = _rust_bpe(files)

    def tokenize(batch):  # no offsets computed
        return tokenizer.encode_batch_fast(batch)

    return tokenize, lambda batch: [encoding.ids for encoding in tokenize(batch)]


def arm_rust_bpe_cold(files):
    fresh = [_rust_bpe(files)]

    def tokenize(batch):
        result = fresh[0].encode_batch(batch)
        return result

    def prepare():  # a new Tokenizer (empty cache) before each timed call, outside the timing
        fresh[0] = _rust_bpe(files)

    tokenize.prepare = prepare
    return tokenize, lambda batch: [encoding.ids for encoding in tokenize(batch)]


ARMS = {
    "ours_bpe": arm_ours_bpe,
    "rust_bpe": arm_rust_bpe,
    "rust_bpe_fast": arm_rust_bpe_fast,
    "rust_bpe_cold": arm_rust_bpe_cold,
}
TENSOR_ARMS = {"ours_bpe"}  # arms that take the batch as a string tensor


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--vocabulary-size", type=int, default=30000)
    parser.add_argument("--vocab", help="a vocab.json (e.g. GPT-2's); with --merges")
    parser.add_argument("--merges", help="a merges.txt (e.g. GPT-2's); with --vocab")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--profile", action="store_true", help="time the stages of ours_bpe too")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    texts = imdb_reviews("test", args.batch)
    print(f"batch: {len(texts)} IMDB test reviews, {sum(map(len, texts)):,} characters")
    with tempfile.TemporaryDirectory() as directory:
        files = bpe_files(args, directory)
        print(f"vocabulary: {files['source']}")
        names = args.arms.split(",")
        arms = {name: ARMS[name](files) for name in names}
        inputs = {name: tf.constant(texts) if name in TENSOR_ARMS else texts for name in names}
        reference = None
        for name, (_, ids) in arms.items():  # also the warm-up call (tracing, caches)
            result = ids(inputs[name])
            reference = reference or result
            mismatched = sum(a != b for a, b in zip(result, reference))
            print(f"  {name}: {sum(map(len, result)):,} ids, {mismatched} rows differ from {names[0]}")
        times = {name: [] for name in names}
        for repeat in range(args.repeats):
            for name in names if repeat % 2 == 0 else names[::-1]:
                tokenize = arms[name][0]
                if hasattr(tokenize, "prepare"):
                    tokenize.prepare()
                start = time.perf_counter()
                tokenize(inputs[name])
                times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, median in medians.items():
            print(f"{name:>14}: median {median * 1000:8.1f} ms  ({len(texts) / median:8.0f} reviews/s)")
        if "ours_bpe" in medians:
            for name in names:
                if name.startswith("rust"):
                    print(f"ratio ours_bpe / {name} speed: {medians[name] / medians['ours_bpe']:.2f}")
        if args.profile:
            profile(files, texts)


def profile(files, texts):
    """Median time of each stage of BytePairTokenizer.tokenize_ragged on the batch."""
    tokenizer = BytePairTokenizer.from_files(files["vocab"], files["merges"])
    strings = tf.constant(texts)
    words, _ = tokenizer._pretokenize(strings)
    distinct, _ = tf.unique(words)
    stages = {
        "transcode": (lambda s: tf.strings.unicode_transcode(s, "UTF-8", "UTF-8", errors="replace"), strings),
        "pre-tokenize": (lambda s: tokenizer._pretokenize(s)[0], strings),
        "unique": (lambda w: tf.unique(w)[0], words),
        "BPE merges": (lambda d: tokenizer._merge_words(d).flat_values, distinct),
        "all": (lambda s: tokenizer.tokenize_ragged(s).flat_values, strings),
    }
    print(f"profile: {words.shape[0]:,} words, {distinct.shape[0]:,} distinct")
    for name, (function, argument) in stages.items():
        function = tf.function(function)
        function(argument)
        values = []
        for _ in range(7):
            start = time.perf_counter()
            function(argument)
            values.append(time.perf_counter() - start)
        print(f"  {name:>14}: {statistics.median(values) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
