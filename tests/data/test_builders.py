import gzip

import pytest
import tensorflow_datasets as tfds

import kerasnets.data.builders  # noqa: F401
from kerasnets.data.builders import imdb_tsv
from tests.data import data_root_or_skip, tfds_dir


def test_imdb_unescape_restores_tabs_and_backslashes():
    assert imdb_tsv.unescape(r"a\tb\\c\\tno") == "a\tb\\c\\tno"


def test_imdb_builder_reads_a_tiny_copy(tmp_path, monkeypatch):
    rows = ["label\trating\ttext", "0\t1\t bad\\tfilm \\\\ ", "1\t9\tgood<br />film"]
    for name in ("train.tsv.gz", "test.tsv.gz"):
        with gzip.open(tmp_path / name, "wt", encoding="utf-8") as f:
            f.write("\n".join(rows) + "\n")
    monkeypatch.setattr(imdb_tsv.KerasnetsImdbReviews, "skip_checksums", True)
    builder = tfds.builder("kerasnets_imdb_reviews", data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path)))
    examples = sorted(
        (int(ex["label"]), ex["text"].decode()) for ex in builder.as_dataset(split="train").as_numpy_iterator()
    )
    assert examples == [(0, "bad\tfilm \\"), (1, "good<br />film")]
    assert builder.info.supervised_keys == ("text", "label")


def test_imdb_builder_rejects_a_wrong_copy(tmp_path):
    for name in ("train.tsv.gz", "test.tsv.gz"):
        with gzip.open(tmp_path / name, "wt") as f:
            f.write("label\trating\ttext\n")
    builder = tfds.builder("kerasnets_imdb_reviews", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(ValueError, match="SHA-256"):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path)))


def test_spa_eng_splits_are_fixed():
    data_root_or_skip("spa_eng/spa-eng.zip")
    from kerasnets import data

    builder = data.prepare("spa_eng", data_dir=tfds_dir())
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == {
        "train": 83276, "validation": 17844, "test": 17844,
    }
    assert builder.info.supervised_keys == ("en", "es")
