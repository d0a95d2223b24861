"""`kerasnets_spa_eng`: English–Spanish sentence pairs (the Tatoeba/Anki file of
the Keras and TensorFlow translation tutorials)."""

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import checksums

URL = "http://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip"
FILENAME = "spa-eng.zip"
SIZE = 2_638_744
SHA256 = "0c4fd7825d3d872488d38c157f784e035edab4f2ff0df25a2a208790ecb5b58f"
VALIDATION_FRACTION = TEST_FRACTION = 0.15
SPLIT_SEED = 0


class KerasnetsSpaEng(tfds.core.GeneratorBasedBuilder):
    """English–Spanish pairs from `spa-eng.zip` (118,964 pairs).

    Features `en`, `es` (text); supervised keys `("en", "es")`. The file is
    sorted by length, so the pairs are permuted with a fixed seed and split
    70 / 15 / 15 % into train / validation / test, as in the keras-io
    tutorial (83,276 / 17,844 / 17,844).
    """

    name = "kerasnets_spa_eng"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    # Registered checksum: tfds verifies the download, and uses
    # `<manual_dir>/spa-eng.zip` instead of downloading when it is there.
    url_infos = {URL: checksums.UrlInfo(size=SIZE, checksum=SHA256, filename=FILENAME)}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description="English–Spanish sentence pairs (Tatoeba via manythings.org/anki).",
            features=tfds.features.FeaturesDict({"en": tfds.features.Text(), "es": tfds.features.Text()}),
            supervised_keys=("en", "es"),
            homepage="https://www.manythings.org/anki/",
        )

    def _split_generators(self, dl_manager):
        path = dl_manager.download_and_extract(URL) / "spa-eng" / "spa.txt"
        pairs = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    en, es = line.split("\t")[:2]
                    pairs.append((en, es))
        order = np.random.RandomState(SPLIT_SEED).permutation(len(pairs))
        n_val = int(VALIDATION_FRACTION * len(pairs))
        n_test = int(TEST_FRACTION * len(pairs))
        n_train = len(pairs) - n_val - n_test
        parts = {
            "train": order[:n_train],
            "validation": order[n_train : n_train + n_val],
            "test": order[n_train + n_val :],
        }
        return {split: self._generate_examples(pairs, indices) for split, indices in parts.items()}

    def _generate_examples(self, pairs, indices):
        for i in indices:
            en, es = pairs[i]
            yield int(i), {"en": en, "es": es}
