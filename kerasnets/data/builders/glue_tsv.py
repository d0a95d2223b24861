"""`kerasnets_glue/sst2`, `kerasnets_glue/cola`: GLUE's TSV files from `manual_dir`.

tfds' `glue` builder downloads GLUE's `SST-2.zip` / `CoLA.zip`; the offline
copies are the TSV files inside them. This builder reuses tfds' `Glue`
features and row parsing (so the examples equal `glue/sst2`, `glue/cola`),
reading `train.tsv`, `dev.tsv`, `test.tsv` from `manual_dir` after checking
their SHA-256.
"""

import os

import tensorflow_datasets as tfds
from tensorflow_datasets.text.glue import Glue

from kerasnets.data.builders._checks import check_sha256

FILE_SHA256 = {
    "sst2": {
        "train.tsv": "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1",
        "dev.tsv": "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",
        "test.tsv": "69a938605609b3e6663b4487918fe1565eb293734e6e520d0366d1d412fd2a13",
    },
    "cola": {
        "train.tsv": "cb368ebeb9f27d7ad03720d27ddc95687a311bdb100781a2fe59a5f5b1bc0624",
        "dev.tsv": "8c013e21dc39957cac37378d87bebe225b694a0d5fe13eded66c2856628833fd",
        "test.tsv": "3b4df85f7a9a0633574b38d181e18090ac961a24b18fb6bcd74999ddea8ad0b8",
    },
}


class KerasnetsGlue(Glue):
    """GLUE SST-2 and CoLA read from their TSV files (see the module docstring)."""

    name = "kerasnets_glue"
    BUILDER_CONFIGS = [config for config in Glue.BUILDER_CONFIGS if config.name in ("sst2", "cola")]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put GLUE's train.tsv, dev.tsv and test.tsv of the task (from SST-2.zip or CoLA.zip) in "
        "<manual_dir>, e.g. <data root>/glue/sst2/."
    )

    def _split_generators(self, dl_manager):
        folder = os.fspath(dl_manager.manual_dir)
        files = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}
        for name in files.values():
            expected = FILE_SHA256[self.builder_config.name].get(name)
            if expected:
                check_sha256(os.path.join(folder, name), expected)
        names = {"train": tfds.Split.TRAIN, "dev": tfds.Split.VALIDATION, "test": tfds.Split.TEST}
        return [
            tfds.core.SplitGenerator(
                name=names[split],
                gen_kwargs={"data_file": os.path.join(folder, name), "split": split, "mrpc_files": None},
            )
            for split, name in files.items()
        ]
