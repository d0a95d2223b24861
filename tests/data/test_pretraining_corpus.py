"""The pre-training corpus: training splits only, one segment per line, every source in it."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnets import data
from tests.data import data_root_or_skip, tfds_dir


def _documents(split, **kwargs):
    return [d.decode() for d in data.load_pretraining_corpus(split, data_dir=tfds_dir(), **kwargs).as_numpy_iterator()]


def test_glue_sentences_are_one_line_documents_and_evaluation_text_stays_out():
    data_root_or_skip("glue")
    documents = _documents("train", sources=("glue/sst2", "glue/cola"))
    expected = {
        name: [s.decode() for s in data.load_texts(name, "train", data_dir=tfds_dir()).as_numpy_iterator()]
        for name in ("glue/sst2", "glue/cola")
    }
    assert sorted(documents) == sorted(s for sentences in expected.values() for s in sentences if s)
    assert all("\n" not in d for d in documents)
    validation = {s.decode() for s in data.load_texts("glue/sst2", "validation", data_dir=tfds_dir()).as_numpy_iterator()}
    assert not validation & set(documents)
    # Shuffled together (seeded): both sources appear within the first thousand documents, the same each time.
    cola = set(expected["glue/cola"])
    head = documents[:1000]
    assert 0 < sum(d in cola for d in head) < 1000
    assert _documents("train", sources=("glue/sst2", "glue/cola"))[:50] == documents[:50]


def test_held_out_documents_have_several_segments_and_unknown_sources_fail():
    data_root_or_skip("imdb")
    data_root_or_skip("tiny_shakespeare/input.txt")
    held_out = _documents("held_out")
    shakespeare_validation = [d for d in held_out if "\n" in d and d.split("\n")[0].split(" ")[0].endswith(":")]
    assert len(held_out) > data.pretraining_corpus.HELD_OUT_IMDB_REVIEWS and shakespeare_validation
    lines = np.array([d.count("\n") + 1 for d in held_out])
    assert np.median(lines) >= 2  # NSP needs neighbouring segments
    shakespeare = _documents("train", sources=("tiny_shakespeare",))
    assert all(d.count("\n") < data.pretraining_corpus.SHAKESPEARE_SEGMENTS_PER_DOCUMENT for d in shakespeare)
    assert "First Citizen:" in shakespeare[0] or any("First Citizen:" in d for d in shakespeare)
    with pytest.raises(ValueError, match="Unknown corpus sources"):
        data.load_pretraining_corpus("train", sources=("wikipedia",))
    with pytest.raises(ValueError, match="'train' or 'held_out'"):
        data.load_pretraining_corpus("test")
    assert isinstance(data.load_pretraining_corpus("held_out", data_dir=tfds_dir()), tf.data.Dataset)
