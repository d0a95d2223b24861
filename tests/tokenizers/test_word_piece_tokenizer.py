"""WordPieceTokenizer against Hugging Face `BertTokenizerFast` / `tokenizers` on real text."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets.export.graph_ops import concrete_function_op_types, ops_outside_core, saved_model_op_types
from kerasnets.tokenizers import BertPacker, WordPieceTokenizer, train_wordpiece
from kerasnets.tokenizers import bert_text_tables
from tests.tokenizers.wordpiece_corpus import HAND_WRITTEN, corpus_lines, hugging_face, trained_vocabulary


@pytest.fixture(scope="module")
def vocabulary_path(tmp_path_factory):
    return trained_vocabulary(tmp_path_factory.mktemp("uncased"), lowercase=True)


@pytest.fixture(scope="module")
def cased_vocabulary_path(tmp_path_factory):
    return trained_vocabulary(tmp_path_factory.mktemp("cased"), lowercase=False, vocabulary_size=6000)


@pytest.fixture(scope="module")
def tokenizer(vocabulary_path):
    return WordPieceTokenizer.from_vocabulary_file(vocabulary_path)


def mismatches(ours, theirs):
    return [index for index, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]


def test_ids_equal_bert_tokenizer_fast_on_5000_lines(tokenizer, vocabulary_path):
    lines = corpus_lines()
    reference = hugging_face(vocabulary_path, do_lower_case=True)(lines, add_special_tokens=False)["input_ids"]
    ours = tokenizer.tokenize_ragged(tf.constant(lines)).to_list()
    bad = mismatches(ours, reference)
    assert not bad, f"{len(bad)}/{len(lines)} lines differ, e.g. {lines[bad[0]][:200]!r}"
    assert sum(map(len, reference)) > 500_000


@pytest.mark.parametrize("lowercase,strip_accents", [(False, None), (False, True), (True, False)])
def test_cased_and_accent_options_equal_hugging_face(cased_vocabulary_path, lowercase, strip_accents):
    lines = corpus_lines()[::5] + HAND_WRITTEN
    reference = hugging_face(cased_vocabulary_path, do_lower_case=lowercase, strip_accents=strip_accents)
    expected = reference(lines, add_special_tokens=False)["input_ids"]
    options = dict(lowercase=lowercase, strip_accents=strip_accents)
    ours = WordPieceTokenizer.from_vocabulary_file(cased_vocabulary_path, **options)
    bad = mismatches(ours.tokenize_ragged(tf.constant(lines)).to_list(), expected)
    assert not bad, f"{len(bad)}/{len(lines)} lines differ, e.g. {lines[bad[0]][:200]!r}"


@pytest.mark.parametrize("lowercase,strip_accents", [(True, True), (False, False), (True, False), (False, True)])
def test_normalizer_and_pre_tokenizer_equal_tokenizers_on_every_code_point(vocabulary_path, lowercase, strip_accents):
    from tokenizers import normalizers, pre_tokenizers

    every = "".join(chr(cp) + "\u2603" for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)
    hf = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=strip_accents, lowercase=lowercase
    )
    ours = WordPieceTokenizer.from_vocabulary_file(vocabulary_path, lowercase=lowercase, strip_accents=strip_accents)
    expected = hf.normalize_str(every)
    actual = ours.normalize(tf.constant([every]))[0].numpy().decode("utf-8")
    if actual != expected:
        first = next(i for i, (a, b) in enumerate(zip(actual, expected)) if a != b)
        pytest.fail(f"normalization differs near {expected[max(first - 20, 0) : first + 20]!r}")
    if lowercase == strip_accents:  # classes of the normalized code points; the other two add nothing
        words = [word for word, _ in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(expected)]
        ours_words = [word.decode("utf-8") for word in ours.split(tf.constant([every]))[0].numpy()]
        assert ours_words == words


def test_detokenize_equals_hugging_face_decode(tokenizer, vocabulary_path):
    lines = corpus_lines()
    reference = hugging_face(vocabulary_path)
    ids = reference(lines, truncation=True, max_length=64, padding="max_length")["input_ids"]  # with [CLS], [PAD], …
    ids[0] = ids[0] + [len(tokenizer.get_vocabulary()) + 5]  # an id outside the vocabulary is skipped
    expected = reference.batch_decode(ids, skip_special_tokens=True)
    ours = [text.decode("utf-8") for text in tokenizer.detokenize(tf.ragged.constant(ids)).numpy()]
    bad = mismatches(ours, expected)
    assert not bad, f"{len(bad)}/{len(lines)} differ: {ours[bad[0]]!r} vs {expected[bad[0]]!r}"
    assert tokenizer.detokenize(np.asarray(ids[1])).numpy().decode() == expected[1]


def test_tokenize_pads_with_the_padding_id_and_handles_scalars(tokenizer):
    dense = tokenizer.tokenize(["a b c", "hello there"], sequence_length=6).numpy()
    ragged = tokenizer.tokenize_ragged(["a b c", "hello there"]).to_list()
    pad = tokenizer.token_to_id("[PAD]")
    assert dense.shape == (2, 6) and dense.dtype == np.int32
    assert dense[0].tolist() == ragged[0] + [pad] * (6 - len(ragged[0]))
    assert tokenizer.tokenize_ragged("hello there").numpy().tolist() == ragged[1]
    assert tokenizer(tf.constant([["a b c"]])).shape == (1, len(ragged[0]))
    assert tokenizer.tokenize_ragged(tf.constant([], tf.string)).to_list() == []
    assert tokenizer.id_to_token(tokenizer.token_to_id("the")) == "the"
    assert tokenizer.token_to_id("no-such-token") == tokenizer.special_token_ids["[UNK]"]
    assert tokenizer.vocabulary_size() == len(tokenizer.get_vocabulary()) == 8000


def test_invalid_utf8_is_replaced_not_fatal(tokenizer, vocabulary_path):
    raw = [b"ok \xff\xfe then \xc3 broken \xe2\x82 end", b"\x80", b"caf\xc3\xa9 \xed\xa0\x80 surrogate"]
    ours = tokenizer.tokenize_ragged(tf.constant(raw)).to_list()
    texts = [line.decode("utf-8", errors="replace") for line in raw]  # U+FFFD: dropped by the normalizer
    assert ours == hugging_face(vocabulary_path)(texts, add_special_tokens=False)["input_ids"]


def test_bad_vocabulary_files_name_file_and_line(tmp_path):
    cases = {
        "empty.txt": ("", "empty"),
        "repeated.txt": ("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\nhello\n", "line 8"),
        "no_unk.txt": ("[PAD]\n[CLS]\n[SEP]\n[MASK]\nhello\n", "[UNK]"),
        "no_sep.txt": ("[PAD]\n[UNK]\n[CLS]\n[MASK]\nhello\n", "[SEP]"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match="line|empty") as error:  # "line N" or "lines"
            WordPieceTokenizer.from_vocabulary_file(path)
        assert str(path) in str(error.value) and expected in str(error.value), str(error.value)
    (tmp_path / "binary.txt").write_bytes(b"[PAD]\n\xff\n")
    with pytest.raises(ValueError, match="binary.txt"):
        WordPieceTokenizer.from_vocabulary_file(tmp_path / "binary.txt")


def test_config_and_keras_file_round_trip(tokenizer, tmp_path):
    lines = tf.constant(HAND_WRITTEN)
    clone = WordPieceTokenizer.from_config(tokenizer.get_config())
    assert clone.tokenize_ragged(lines).to_list() == tokenizer.tokenize_ragged(lines).to_list()

    text = keras.Input(shape=(), dtype="string")
    model = keras.Model(text, WordPieceTokenizer(tokenizer.get_vocabulary(), sequence_length=24)(text))
    path = os.path.join(tmp_path, "tokenizer.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)  # no custom_objects
    np.testing.assert_array_equal(reloaded(lines), model(lines))
    assert reloaded(lines).shape == (len(HAND_WRITTEN), 24)


def test_saved_model_runs_core_ops_only(tokenizer, tmp_path):
    packer = BertPacker(32, tokenizer.cls_id, tokenizer.sep_id, tokenizer.padding_id)
    module = tf.Module()
    module.tokenizer, module.packer = tokenizer, packer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def single(text):
        return packer(tokenizer.tokenize_ragged(text))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string)])
    def pair(first, second):
        return packer(tokenizer.tokenize_ragged(first), tokenizer.tokenize_ragged(second))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def detokenize(ids):
        return tokenizer.detokenize(ids)

    module.single, module.pair, module.detokenize = single, pair, detokenize
    assert ops_outside_core(concrete_function_op_types(single.get_concrete_function())) == []
    directory = str(tmp_path / "served")
    signatures = {"serving_default": single, "pair": pair, "detokenize": detokenize}
    tf.saved_model.save(module, directory, signatures=signatures)
    op_types = saved_model_op_types(directory)
    assert ops_outside_core(op_types) == [] and "WordpieceTokenizeWithOffsets" not in op_types

    reloaded = tf.saved_model.load(directory)
    first, second = tf.constant(HAND_WRITTEN), tf.constant(HAND_WRITTEN[::-1])
    for name, args in (("single", (first,)), ("pair", (first, second))):
        expected, got = getattr(module, name)(*args), getattr(reloaded, name)(*args)
        for key in ("token_ids", "segment_ids", "padding_mask"):
            np.testing.assert_array_equal(got[key], expected[key])
        served = reloaded.signatures["serving_default" if name == "single" else name]
        keywords = dict(zip(["text"] if name == "single" else ["first", "second"], args))
        np.testing.assert_array_equal(served(**keywords)["token_ids"], expected["token_ids"])
    ids = single(first)["token_ids"]
    np.testing.assert_array_equal(reloaded.detokenize(ids), detokenize(ids))


def test_runs_in_tf_data(tokenizer):
    dataset = tf.data.Dataset.from_tensor_slices(HAND_WRITTEN).batch(4).map(tokenizer.tokenize_ragged)
    rows = [row for batch in dataset for row in batch.to_list()]
    assert rows == tokenizer.tokenize_ragged(tf.constant(HAND_WRITTEN)).to_list()


def test_tables_cover_what_they_claim():
    starts, slots, classes = bert_text_tables.normalization_runs(True, True)
    assert starts[0] == 0 and np.all(np.diff(starts) > 0) and slots.shape == classes.shape
    assert bert_text_tables.normalize_code_point(ord("İ"), True, True) == "i"  # İ → i + U+0307 → i
    assert bert_text_tables.normalize_code_point(ord("İ"), True, False) == "i\u0307"
    assert bert_text_tables.normalize_code_point(0x4E2D, True, True) == " \u4e2d "


def test_train_wordpiece_from_list_and_dataset(tmp_path, vocabulary_path):
    lines = corpus_lines()[:600]
    trained = train_wordpiece(lines, vocabulary_size=900, directory=str(tmp_path))
    assert trained.get_vocabulary()[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert 300 < trained.vocabulary_size() <= 900
    from_file = WordPieceTokenizer.from_vocabulary_file(tmp_path / "vocab.txt")
    assert from_file.get_vocabulary() == trained.get_vocabulary()
    expected = hugging_face(str(tmp_path / "vocab.txt"))(lines[:50], add_special_tokens=False)["input_ids"]
    assert trained.tokenize_ragged(tf.constant(lines[:50])).to_list() == expected
    # tokenizers' trainer breaks ties in hash order: the same data need not give the same vocabulary twice
    from_dataset = train_wordpiece(tf.data.Dataset.from_tensor_slices(lines), vocabulary_size=900, sequence_length=16)
    assert from_dataset.vocabulary_size() == trained.vocabulary_size() and from_dataset.sequence_length == 16
    assert from_dataset.tokenize(lines[:3]).shape == (3, 16)
    with pytest.raises(ValueError, match="dataset of strings"):
        train_wordpiece(tf.data.Dataset.from_tensor_slices(([1], [2])), vocabulary_size=100)
