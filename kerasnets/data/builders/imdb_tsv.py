"""`kerasnets_imdb_reviews`: the IMDB reviews from `train.tsv.gz` / `test.tsv.gz`.

The copy repackages the 50,000 labelled reviews of `aclImdb_v1.tar.gz` as
`label<TAB>rating<TAB>text` rows, with `\\` and TAB escaped as `\\\\` and
`\\t` (see shared/data/README.md). Features and split names equal tfds'
`imdb_reviews/plain_text` (`text`, `label` with names neg/pos; the text
stripped as tfds strips it); the `unsupervised` split is not in the copy.
Only the decompressed contents matter, so `manual_dir` may hold the `.tsv.gz`
files (SHA-256 checked) or the decompressed `.tsv` files.
"""

import gzip
import os
import re

import tensorflow_datasets as tfds

from kerasnets.data.builders._checks import check_sha256

FILES = {"train": "train.tsv.gz", "test": "test.tsv.gz"}
FILE_SHA256 = {
    "train.tsv.gz": "7a186232e609ceac377f93ac237c3fc903fd199301c02054786a5e48f22f2505",
    "test.tsv.gz": "a5e19ead9b1d3e7835f6463a846a5fca9c4c22a600d80c9db4806ba37c8d8453",
}
_ESCAPE = re.compile(r"\\(\\|t|n|r)")
_UNESCAPED = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def unescape(text):
    """Undo the copy's escaping: `\\\\` → `\\`, `\\t` → TAB (and `\\n`, `\\r`)."""
    return _ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], text)


class KerasnetsImdbReviews(tfds.core.GeneratorBasedBuilder):
    """IMDB Large Movie Review Dataset v1.0, labelled reviews, from TSV files."""

    name = "kerasnets_imdb_reviews"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Put train.tsv.gz and test.tsv.gz (see shared/data/README.md) in <manual_dir>."
    # When set (by tests), read these files instead of the full copy and skip the checksum.
    skip_checksums = False

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description="IMDB movie reviews (Maas et al. 2011), 25,000 train and 25,000 test, labelled neg/pos.",
            features=tfds.features.FeaturesDict(
                {"text": tfds.features.Text(), "label": tfds.features.ClassLabel(names=["neg", "pos"])}
            ),
            supervised_keys=("text", "label"),
            homepage="http://ai.stanford.edu/~amaas/data/sentiment/",
        )

    def _split_generators(self, dl_manager):
        folder = os.fspath(dl_manager.manual_dir)
        paths = {}
        for split, name in FILES.items():
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                if not self.skip_checksums:
                    check_sha256(path, FILE_SHA256[name])
            elif os.path.isfile(path[: -len(".gz")]):
                path = path[: -len(".gz")]
            else:
                raise FileNotFoundError(f"{path} not found. {self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
            paths[split] = path
        return {split: self._generate_examples(path, split) for split, path in paths.items()}

    def _generate_examples(self, path, split):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", newline="\n") as f:
            header = f.readline().rstrip("\n").split("\t")
            if header != ["label", "rating", "text"]:
                raise ValueError(f"{path}: unexpected header {header}")
            for row, line in enumerate(f):
                label, rating, text = line.rstrip("\n").split("\t", 2)
                yield f"{split}/{row}", {"text": unescape(text).strip(), "label": int(label)}
