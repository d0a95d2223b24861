"""BytePairTokenizer against Hugging Face (GPT2TokenizerFast and `tokenizers`' ByteLevel BPE) on real text.

The vocabulary is trained here, once per module, with `tokenizers`' own
ByteLevelBPETokenizer on IMDB and Tiny Shakespeare, and saved in the HF file
formats; both peers and our tokenizer then load the same two files.
"""

import gzip
import itertools
import json
import os
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets.data.locations import data_root
from kerasnets.export.graph_ops import concrete_function_op_types, ops_outside_core, saved_model_op_types
from kerasnets.tokenizers import BytePairTokenizer, train_bpe
from tests.conftest import assert_config_round_trip
from tests.tokenizers.texts import TEXTS

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

ENDOFTEXT = "<|endoftext|>"
PARITY_LINES = 5000
HAND_WRITTEN = [
    *TEXTS,
    "",
    " ",
    "   ",
    "\t",
    "\n",
    "\n\n\n",
    "trailing spaces   ",
    "  leading spaces",
    "tabs\tin\t\tbetween\t \tand \t mixed",
    "new\nlines\n\nand\r\nwindows\r\n",
    "many     spaces    before words",
    "It's, we'll, you're, they've, I'm, he'd, can't; IT'S 'LL 'll 's' 'S",
    "He said 'sorry' and 'llamas' '' ''s",
    "Digits 1234567890, 3.14159, 1e10, ٣٤٥ (Arabic-Indic), ½ ⅔",
    "Accents: café, naïve, coöperate, Ångström, São Paulo, e\u0301 (combining)",
    "Emoji 😀👍🏽👨‍👩‍👧‍👦 🇫🇷 and ❤️ hearts",
    "CJK 中文字符 日本語のテキスト 한국어 텍스트",
    "Mixed scripts: Ελληνικά Русский עברית العربية हिन्दी",
    "Special <|endoftext|> in the middle",
    "<|endoftext|>at the start, and at the end<|endoftext|>",
    "two<|endoftext|><|endoftext|>in a row, and  <|endoftext|>  spaced",
    "almost special <|endoftext| <endoftext|> <|ENDOFTEXT|>",
    "Unicode spaces:\u00a0nbsp,\u3000ideographic,\u2009thin, \u2028line sep\u2029para",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "Control \x00\x01\x1f\x7f chars",
    "Symbols: @#$%^&*()_+-=[]{}|\\;:'\",.<>/?`~ «»¿¡ §¶•…",
    "URLs http://www.example.com/path?query=1&x=y#frag and e-mail a.b@c.org",
    "<br /><br />HTML tags like IMDB's",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "!!!!!!!!!!!!!!!??????......------======",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "New letters of Unicode 16: \U000105c0\U000105c1 and digits \U00016d70\U00016d71",
]


def _imdb_reviews(split, skip, count):
    path = data_root() / "imdb" / f"{split}.tsv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as file:
        rows = itertools.islice(file, 1 + skip, 1 + skip + count)  # line 1 is the header
        return [row.rstrip("\n").split("\t", 1)[1] for row in rows]


@pytest.fixture(scope="module")
def corpus():
    root = data_root()
    if root is None or not (root / "imdb" / "train.tsv.gz").is_file():
        pytest.skip("shared/data/imdb/train.tsv.gz is not available")
    if not (root / "tiny_shakespeare" / "input.txt").is_file():
        pytest.skip("shared/data/tiny_shakespeare/input.txt is not available")
    shakespeare = (root / "tiny_shakespeare" / "input.txt").read_text(encoding="utf-8").splitlines()
    training = _imdb_reviews("train", 0, 4000) + shakespeare[:20000]
    imdb = _imdb_reviews("test", 0, 2000)
    lines = imdb + shakespeare[20000:]
    lines = HAND_WRITTEN + lines[: PARITY_LINES - len(HAND_WRITTEN)]
    assert len(lines) == PARITY_LINES
    return {"training": training, "lines": lines}


@pytest.fixture(scope="module")
def files(corpus, tmp_path_factory):
    directory = tmp_path_factory.mktemp("bpe")
    trainer = tokenizers.ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        corpus["training"], vocab_size=3000, min_frequency=2, special_tokens=[ENDOFTEXT], show_progress=False
    )
    trainer.save_model(str(directory))
    return {
        "directory": str(directory),
        "vocab": str(directory / "vocab.json"),
        "merges": str(directory / "merges.txt"),
    }


@pytest.fixture(scope="module")
def tokenizer(files):
    return BytePairTokenizer.from_files(files["vocab"], files["merges"])


@pytest.fixture(scope="module")
def gpt2_fast(files):
    return transformers.GPT2TokenizerFast.from_pretrained(files["directory"])


def rust_bpe(files, add_prefix_space=False):
    peer = tokenizers.ByteLevelBPETokenizer(files["vocab"], files["merges"], add_prefix_space=add_prefix_space)
    peer.add_special_tokens([ENDOFTEXT])
    return peer


def fuzz_lines(count, seed=0):
    """Short random strings from the pieces where GPT-2's regex is subtle."""
    pieces = [" ", " ", " ", "\t", "\n", "\r", "\x0b", "\xa0", "\u3000", "\u2009", "\x85", "a", "b", "s", "ll",
              "1", "23", "'", "'s", "'ll", "'LL", "!", ".", "é", "中", "😀", ENDOFTEXT, "<|", "\u0301", "\x1c",
              "\u200b", "\U000105c0"]  # fmt: skip
    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(count)]


def mismatches(ours, theirs, lines):
    bad = [(line, a, b) for line, a, b in zip(lines, ours, theirs) if a != b]
    print(f"mismatches: {len(bad)}/{len(lines)}")
    return bad


def test_ids_match_gpt2_tokenizer_fast_and_tokenizers(corpus, tokenizer, gpt2_fast, files):
    lines = corpus["lines"]
    ours = tf.function(tokenizer.tokenize_ragged)(tf.constant(lines)).to_list()
    expected = gpt2_fast(lines)["input_ids"]
    assert mismatches(ours, expected, lines)[:3] == []
    rust = [encoding.ids for encoding in rust_bpe(files).encode_batch(lines)]
    assert mismatches(ours, rust, lines)[:3] == []
    assert sum(map(len, ours)) > 500_000  # real work: about a million tokens


@pytest.mark.parametrize("add_prefix_space", [False, True])
def test_ids_match_on_tricky_whitespace_contractions_and_special_tokens(files, add_prefix_space):
    lines = fuzz_lines(2000) + HAND_WRITTEN
    ours = BytePairTokenizer.from_files(files["vocab"], files["merges"], add_prefix_space=add_prefix_space)
    ids = ours.tokenize_ragged(lines).to_list()
    expected = [encoding.ids for encoding in rust_bpe(files, add_prefix_space).encode_batch(lines)]
    assert mismatches(ids, expected, lines)[:3] == []


def test_character_classes_match_tokenizers_across_unicode(files):
    """Letters, numbers, whitespace and the rest, as `tokenizers`' Oniguruma regex sees them."""
    whitespace = "\t\n\x0b\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    whitespace += "".join(map(chr, range(0x2000, 0x200B)))
    near_misses = "\x1c\x1d\x1e\x1f\u180e\u200b\u2060\ufeff"
    sampled = [chr(code) for code in range(0xA0, 0x30000, 61) if not 0xD800 <= code <= 0xDFFF]
    unicode_16 = [chr(code) for code in (0x1C89, 0xA7CB, 0x105C0, 0x10D4A, 0x13460, 0x1E5F0, 0x10D40, 0x1CCF0)]
    characters = [*whitespace, *near_misses, *unicode_16, *sampled]
    lines = [f"x{c}1{c} {c}{c}!{c}  {c}a" for c in characters]
    ours = BytePairTokenizer.from_files(files["vocab"], files["merges"]).tokenize_ragged(lines).to_list()
    expected = [encoding.ids for encoding in rust_bpe(files).encode_batch(lines)]
    assert mismatches(ours, expected, lines)[:3] == []


def test_one_long_word_among_many_short_ones_costs_linear_memory(corpus, tokenizer, files):
    # TF's RaggedTensor.value_rowids() allocates rows × longest row: 5,000 distinct words × a
    # 100,000-byte word would be 2 GB; the tokenizer keeps its own O(n) row indices.
    rng = random.Random(2)
    long_word = "a" * 60000 + "".join(rng.choice("bcdéü") for _ in range(40000))
    lines = corpus["lines"][:300] + [long_word, " " * 5000 + "x" + "\n" * 3000, ENDOFTEXT * 2000]
    ids = tf.function(tokenizer.tokenize_ragged)(tf.constant(lines))
    expected = [encoding.ids for encoding in rust_bpe(files).encode_batch(lines)]
    assert mismatches(ids.to_list(), expected, lines)[:3] == []
    assert [text.decode("utf-8") for text in tokenizer.detokenize(ids).numpy()] == lines


def test_detokenize_gives_back_the_text_and_decodes_like_hugging_face(corpus, tokenizer, gpt2_fast):
    lines = corpus["lines"] + fuzz_lines(500, seed=1)
    ragged = tokenizer.tokenize_ragged(lines)
    assert [text.decode("utf-8") for text in tokenizer.detokenize(ragged).numpy()] == lines
    # Dense: the right padding is dropped (texts that end in the padding token itself are ambiguous).
    plain = [line for line in lines[:300] if not line.endswith(ENDOFTEXT)]
    dense = tokenizer.tokenize(plain)
    assert [text.decode("utf-8") for text in tokenizer.detokenize(dense).numpy()] == plain
    # Arbitrary id sequences, cut inside multi-byte characters: invalid UTF-8 becomes U+FFFD like HF decode.
    rng = np.random.default_rng(0)
    pieces = [row[start : start + length] for row in ragged.to_list()[:400] if row
              for start, length in [(int(rng.integers(len(row))), int(rng.integers(1, 6)))]]  # fmt: skip
    pieces += [rng.integers(0, tokenizer.vocabulary_size(), 7).tolist() for _ in range(200)]
    decoded = [text.decode("utf-8") for text in tokenizer.detokenize(tf.ragged.constant(pieces)).numpy()]
    expected = [gpt2_fast.decode(piece, clean_up_tokenization_spaces=False) for piece in pieces]
    assert mismatches(decoded, expected, pieces)[:3] == []
    assert "\ufffd" in "".join(decoded)


def test_tokenize_pads_truncates_and_keeps_shapes(tokenizer):
    pad = tokenizer.token_to_id(ENDOFTEXT)
    assert tokenizer.padding_id == pad
    ragged = tokenizer.tokenize_ragged(["Hello world, it's me.", "a"])
    dense = tokenizer.tokenize(["Hello world, it's me.", "a"]).numpy()
    assert dense.dtype == np.int32 and ragged.dtype == tf.int32
    assert dense.tolist() == ragged.to_tensor(default_value=pad).numpy().tolist()
    fixed = tokenizer.tokenize(["Hello world, it's me.", "a"], sequence_length=3).numpy()
    assert fixed.tolist() == [ragged[0][:3].numpy().tolist(), [ragged[1][0].numpy(), pad, pad]]
    scalar = tokenizer.tokenize_ragged("Hello world")
    assert scalar.shape.rank == 1
    assert scalar.numpy().tolist() == tokenizer.tokenize_ragged(["Hello world"])[0].numpy().tolist()
    assert tokenizer.tokenize("a", sequence_length=4).numpy().tolist() == [ragged[1][0].numpy(), pad, pad, pad]
    assert tokenizer.detokenize(tokenizer.tokenize("Hello world")).numpy() == b"Hello world"
    column = tokenizer(tf.constant([["Hello"], ["a"]]))  # (B, 1) string inputs, as a Keras model gives
    assert column.shape[0] == 2
    assert tokenizer.detokenize(tf.constant([[ragged[1][0].numpy(), pad, pad]]), strip_padding=False).numpy()[0] == (
        b"a" + 2 * ENDOFTEXT.encode()
    )
    empty = tokenizer.tokenize_ragged(["", "", ""])
    assert empty.to_list() == [[], [], []]
    assert tokenizer.detokenize(empty).numpy().tolist() == [b"", b"", b""]


def test_invalid_utf8_and_odd_input_never_crash(tokenizer, files):
    raw = [b"\xff\xfe abc \xc3", b"\xe4\xb8", b"ok \xed\xa0\x80 surrogate", b"\x00", b"\xf0\x9f\x98\x80"]
    ids = tokenizer.tokenize_ragged(tf.constant(raw)).to_list()
    replaced = [text.decode("utf-8", errors="replace") for text in raw]
    assert ids == [encoding.ids for encoding in rust_bpe(files).encode_batch(replaced)]
    assert tokenizer.detokenize(tf.constant([[-5, 10**6, 2**40]])).numpy().tolist() == [b""]  # no token: nothing


def test_vocabulary_lookups(tokenizer, files):
    with open(files["vocab"], encoding="utf-8") as file:
        vocabulary = json.load(file)
    assert tokenizer.vocabulary_size() == len(vocabulary) == 3000
    assert tokenizer.get_vocabulary() == sorted(vocabulary, key=vocabulary.get)
    assert tokenizer.token_to_id("Ġthe") == vocabulary["Ġthe"]
    assert tokenizer.id_to_token(vocabulary["Ġthe"]) == "Ġthe"
    assert tokenizer.token_to_id("never a token") is None and tokenizer.id_to_token(10**6) is None
    assert tokenizer.special_token_ids == {ENDOFTEXT: vocabulary[ENDOFTEXT]}
    without = BytePairTokenizer({"a": 0, "b": 1, "ab": 2}, ["a b"], special_tokens=())
    assert without.padding_id == 0 and without.tokenize_ragged(["abab", "ba"]).to_list() == [[2, 2], [1, 0]]


def test_bytes_without_a_token_are_skipped_as_in_tokenizers():
    vocabulary = {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4, "Ġa": 5}
    merges = [("a", "b"), ("Ġ", "a"), ("Ġa", "b")]
    peer = tokenizers.Tokenizer(tokenizers.models.BPE(vocab=vocabulary, merges=merges))
    peer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    ours = BytePairTokenizer(vocabulary, merges, special_tokens=())
    lines = ["abc ab", "cab", "a\u00e9b  ab", "ccc", "ab", "", "b a"]
    assert ours.tokenize_ragged(lines).to_list() == [encoding.ids for encoding in peer.encode_batch(lines)]


def test_bad_files_raise_one_value_error_naming_file_and_line(tmp_path, files):
    with open(files["vocab"], encoding="utf-8") as file:
        vocabulary = json.load(file)

    def write(name, text):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    good_vocab, good_merges = files["vocab"], files["merges"]
    broken = write("broken.json", '{\n"a": 1,\n"b" 2\n}')
    with pytest.raises(ValueError, match=r"broken\.json: line 3"):
        BytePairTokenizer.from_files(broken, good_merges)
    with pytest.raises(ValueError, match=r"list\.json.*JSON object"):
        BytePairTokenizer.from_files(write("list.json", '["a", "b"]'), good_merges)
    with pytest.raises(ValueError, match=r"ids\.json: line 3.*'b'.*non-negative integer"):
        BytePairTokenizer.from_files(write("ids.json", '{\n"a": 0,\n"b": "one"\n}'), good_merges)
    with pytest.raises(ValueError, match=r"three\.txt: line 3: a merge is two tokens"):
        BytePairTokenizer.from_files(good_vocab, write("three.txt", "#version: 0.2\nĠ t\nĠ t h\n"))
    with pytest.raises(ValueError, match=r"unknown\.txt: line 2.*'zzzq'.*not in the vocabulary"):
        BytePairTokenizer.from_files(good_vocab, write("unknown.txt", "#version: 0.2\nzzzq t\n"))
    assert "ĠtĠt" not in vocabulary
    with pytest.raises(ValueError, match=r"result\.txt: line 2.*'ĠtĠt'.*not in the vocabulary"):
        BytePairTokenizer.from_files(good_vocab, write("result.txt", "#version: 0.2\nĠt Ġt\n"))


def test_config_and_keras_file_round_trip(tokenizer, tmp_path):
    clone = assert_config_round_trip(tokenizer)
    lines = HAND_WRITTEN
    assert clone.tokenize_ragged(lines).to_list() == tokenizer.tokenize_ragged(lines).to_list()
    inputs = keras.Input((), dtype="string")
    model = keras.Model(inputs, BytePairTokenizer.from_config(tokenizer.get_config())(inputs))
    path = str(tmp_path / "tokenizer.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)  # no custom_objects
    np.testing.assert_array_equal(reloaded(tf.constant(lines)), tokenizer.tokenize(lines))


def test_saved_model_runs_core_ops_only_and_reloads(tokenizer, tmp_path):
    class Served(tf.Module):
        def __init__(self, tokenizer):
            super().__init__()
            self.tokenizer = tokenizer

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def tokenize(self, texts):
            ids = self.tokenizer.tokenize_ragged(texts)
            text = self.tokenizer.detokenize(ids)
            return {"ids": self.tokenizer.tokenize(texts), "lengths": ids.row_lengths(), "text": text}

    served = Served(tokenizer)
    assert ops_outside_core(concrete_function_op_types(served.tokenize.get_concrete_function())) == []
    path = str(tmp_path / "saved_model")
    tf.saved_model.save(served, path, signatures={"serving_default": served.tokenize})
    assert ops_outside_core(saved_model_op_types(path)) == []
    assert {"While", "LookupTableFindV2", "StaticRegexReplace"} <= saved_model_op_types(path)
    del served
    signature = tf.saved_model.load(path).signatures["serving_default"]
    outputs = signature(tf.constant(HAND_WRITTEN))
    np.testing.assert_array_equal(outputs["ids"], tokenizer.tokenize(HAND_WRITTEN))
    assert [text.decode("utf-8") for text in outputs["text"].numpy()] == HAND_WRITTEN


def test_runs_inside_tf_data(tokenizer):
    dataset = tf.data.Dataset.from_tensor_slices(HAND_WRITTEN).batch(8).map(lambda texts: tokenizer(texts, 16))
    batches = list(dataset.as_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate(batches), tokenizer.tokenize(HAND_WRITTEN, sequence_length=16))


def test_train_bpe_writes_files_hugging_face_reads_identically(corpus, tmp_path):
    texts = corpus["training"][:2000]
    directory = tmp_path / "trained"
    dataset = tf.data.Dataset.from_tensor_slices(texts)
    trained = train_bpe(dataset, vocabulary_size=1000, directory=str(directory), sequence_length=32)
    assert sorted(os.listdir(directory)) == ["merges.txt", "vocab.json"]
    assert trained.vocabulary_size() == 1000 and trained.sequence_length == 32
    again = train_bpe(texts, vocabulary_size=1000, name=trained.name).get_config()
    assert trained.get_config() == again | {"sequence_length": 32}
    peer = transformers.GPT2TokenizerFast.from_pretrained(str(directory))
    lines = corpus["lines"][:300]
    assert mismatches(trained.tokenize_ragged(lines).to_list(), peer(lines)["input_ids"], lines)[:3] == []
    reread = BytePairTokenizer.from_files(directory / "vocab.json", directory / "merges.txt")
    assert reread.get_config()["merges"] == trained.get_config()["merges"]
    with pytest.raises(ValueError, match="dataset of strings"):
        train_bpe(tf.data.Dataset.from_tensor_slices(([b"a"], [1])), vocabulary_size=300)
