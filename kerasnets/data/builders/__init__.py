"""The project's tfds builders, for offline copies tfds' own builders cannot read.

Importing this package registers them with tfds:

* `kerasnets_spa_eng`: the English–Spanish pairs of `spa-eng.zip` (no tfds
  builder exists); downloads from the Keras / TF tutorials' URL, or reads
  `<manual_dir>/spa-eng.zip`; SHA-256 checked either way.
* `kerasnets_glue/sst2`, `kerasnets_glue/cola`: GLUE's TSV files from
  `manual_dir` (tfds' `glue` only reads GLUE's zips); same features and splits
  as tfds' `glue/sst2`, `glue/cola`, and the same row parsing (tfds' code).
* `kerasnets_imdb_reviews`: the 50,000 labelled reviews repackaged as
  `train.tsv.gz` / `test.tsv.gz`; same features as tfds' `imdb_reviews`
  (train and test splits; the unlabelled split is not in the copy).
"""

from kerasnets.data.builders.glue_tsv import KerasnetsGlue  # noqa: F401
from kerasnets.data.builders.imdb_tsv import KerasnetsImdbReviews  # noqa: F401
from kerasnets.data.builders.spa_eng import KerasnetsSpaEng  # noqa: F401
