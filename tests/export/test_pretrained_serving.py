"""Raw text in, text (or labels) out: a Hugging Face GPT-2 and BERT checkpoint, loaded with
`from_pretrained`, exported, served by `kerasnets serve` and queried over REST.

The checkpoints are tiny and random (transformers on PyTorch's CPU wheel), with
vocabularies trained here with Hugging Face `tokenizers` on Tiny Shakespeare; the
served answers are checked against transformers' own tokenizer and `generate`.
"""

import base64
import os

import keras
import numpy as np
import pytest
import requests
import tensorflow as tf

from kerasnets import models, tokenizers
from kerasnets.data.locations import data_root
from kerasnets.export import export_model
from kerasnets.export.graph_ops import ops_outside_core, saved_model_op_types

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
hf_tokenizers = pytest.importorskip("tokenizers")

END_OF_TEXT = "<|endoftext|>"


def _shakespeare_lines(count=3000):
    root = data_root()
    path = None if root is None else root / "tiny_shakespeare" / "input.txt"
    if path is None or not path.is_file():
        pytest.skip("Tiny Shakespeare is not in the data root")
    with open(path, encoding="utf-8") as file:
        return [line for line in file.read().splitlines() if line.strip()][:count]


@pytest.fixture(scope="module")
def gpt2_checkpoint(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("gpt2_checkpoint"))
    bpe = hf_tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(_shakespeare_lines(), vocab_size=400, min_frequency=2, special_tokens=[END_OF_TEXT])
    bpe.save_model(directory)
    end = bpe.token_to_id(END_OF_TEXT)
    config = transformers.GPT2Config(
        vocab_size=bpe.get_vocab_size(), n_positions=64, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=end, eos_token_id=end, initializer_range=0.2,
    )  # fmt: skip
    torch.manual_seed(0)
    reference = transformers.GPT2LMHeadModel(config).eval()
    reference.save_pretrained(directory, safe_serialization=True)
    hf_tokenizer = transformers.GPT2TokenizerFast.from_pretrained(directory)  # reads vocab.json + merges.txt
    assert hf_tokenizer.vocab_size == bpe.get_vocab_size()
    return directory, reference, hf_tokenizer, end


@pytest.fixture(scope="module")
def bert_checkpoint(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("bert_checkpoint"))
    wordpiece = hf_tokenizers.BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(_shakespeare_lines(), vocab_size=500, min_frequency=2)
    wordpiece.save_model(directory)
    config = transformers.BertConfig(
        vocab_size=wordpiece.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, initializer_range=0.2,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.BertForPreTraining(config).eval().save_pretrained(directory, safe_serialization=True)
    hf_tokenizer = transformers.BertTokenizerFast(vocab=os.path.join(directory, "vocab.txt"), do_lower_case=True)
    assert hf_tokenizer.vocab_size == wordpiece.get_vocab_size()  # transformers 5 ignores `vocab_file=`
    return directory, hf_tokenizer


def _serve(base_dir, name):
    from kerasnets.serving import ModelServer, single_model_config

    return ModelServer(single_model_config(name, os.path.join(base_dir, name)), port=0).start()


def _predict(server, name, body):
    return requests.post(f"{server.url}/v1/models/{name}:predict", json=body, timeout=120)


def test_gpt2_checkpoint_served_from_prompt_strings_to_text(gpt2_checkpoint, tmp_path):
    directory, reference, hf_tokenizer, end = gpt2_checkpoint
    lm = models.from_pretrained(directory)
    tokenizer = tokenizers.from_pretrained(directory)
    base_dir = str(tmp_path / "saved_models")
    exported = export_model(lm, "gpt2", base_dir=base_dir, generation={"tokenizer": tokenizer})
    assert {"generate", "sample", "beam_search"} <= set(exported.signatures)
    assert ops_outside_core(saved_model_op_types(exported.path)) == []

    prompts = ["ROMEO:", "First Citizen:\nBefore we proceed any further, hear me"]
    expected = []
    for prompt in prompts:
        ids = hf_tokenizer(prompt, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            out = reference.generate(ids, max_new_tokens=12, do_sample=False, eos_token_id=end, pad_token_id=end)
        new = out[0, ids.shape[1] :].tolist()
        expected.append((new, hf_tokenizer.decode([t for t in new if t != end])))

    server = _serve(base_dir, "gpt2")
    try:
        # Both prompts in one request (unequal lengths): each row gets what it gets alone.
        answer = _predict(server, "gpt2", {
            "signature_name": "generate",
            "instances": [{"prompt": p, "max_new_tokens": 12} for p in prompts],
        })  # fmt: skip
        assert answer.status_code == 200, answer.text
        for row, prompt, (new_ids, text) in zip(answer.json()["predictions"], prompts, expected):
            assert row["generated_token_ids"][: row["generated_lengths"]] == new_ids
            assert row["generated_text"] == text
            assert row["text"] == prompt + text

        too_long = _predict(server, "gpt2", {
            "signature_name": "generate", "instances": [{"prompt": "ROMEO: " * 30, "max_new_tokens": 20}],
        })  # fmt: skip
        assert too_long.status_code == 400 and "model context" in too_long.json()["error"]

        invalid_utf8 = base64.b64encode(b"caf\xc3 \xff\xfe ok").decode()
        odd = _predict(server, "gpt2", {
            "signature_name": "generate",
            "instances": [{"prompt": {"b64": invalid_utf8}, "max_new_tokens": 3}, {"prompt": "😀 東京", "max_new_tokens": 3}],
        })  # fmt: skip
        assert odd.status_code == 200, odd.text
        assert [row["generated_lengths"] for row in odd.json()["predictions"]] == [3, 3]
    finally:
        server.stop()


def _hf_inputs(hf_tokenizer, first, second=None, length=32):
    encoded = hf_tokenizer(first, second, truncation=True, max_length=length, padding="max_length", return_tensors="np")
    return {
        "token_ids": encoded["input_ids"].astype("int32"),
        "segment_ids": encoded["token_type_ids"].astype("int32"),
        "padding_mask": encoded["attention_mask"].astype("int32"),
    }


def test_fine_tuned_bert_classifier_served_from_strings_and_string_pairs(bert_checkpoint, tmp_path):
    directory, hf_tokenizer = bert_checkpoint
    classifier = models.from_pretrained(directory, head="classifier", num_classes=2, dropout=0.0)
    tokenizer = tokenizers.from_pretrained(directory)
    sentences = ["a fine and moving play", "dull , tedious and far too long", "the king is dead", "O happy dagger!"]
    labels = np.array([1, 0, 0, 1])
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    classifier.fit(_hf_inputs(hf_tokenizer, sentences), labels, epochs=2, verbose=0)

    base_dir = str(tmp_path / "saved_models")
    exported = export_model(
        classifier, "bert", base_dir=base_dir, tokenizer=tokenizer, sequence_length=32,
        class_names=("negative", "positive"),
    )  # fmt: skip
    assert {"serving_default", "classify_text", "classify_text_pair"} <= set(exported.signatures)
    assert ops_outside_core(saved_model_op_types(exported.path)) == []

    firsts = ["Thou art a villain, and a most  foul one", "Café déjà vu — naïve!"]
    seconds = ["What, art thou mad?", "东京 and 😀 " + "long " * 40]
    single_expected = np.asarray(classifier(_hf_inputs(hf_tokenizer, firsts)))
    pair_expected = np.asarray(classifier(_hf_inputs(hf_tokenizer, firsts, seconds)))

    server = _serve(base_dir, "bert")
    try:
        single = _predict(server, "bert", {"instances": [{"text": t} for t in firsts]})
        assert single.status_code == 200, single.text
        rows = single.json()["predictions"]
        np.testing.assert_allclose([row["probabilities"] for row in rows], single_expected, atol=1e-5)
        assert [row["label"] for row in rows] == [("negative", "positive")[i] for i in single_expected.argmax(-1)]

        pair = _predict(server, "bert", {
            "signature_name": "classify_text_pair",
            "instances": [{"text": a, "text_pair": b} for a, b in zip(firsts, seconds)],
        })  # fmt: skip
        assert pair.status_code == 200, pair.text
        np.testing.assert_allclose([row["probabilities"] for row in pair.json()["predictions"]], pair_expected, atol=1e-5)

        invalid = _predict(server, "bert", {"instances": [{"text": {"b64": base64.b64encode(b"\xff\xfe\x00ok").decode()}}]})
        assert invalid.status_code == 200, invalid.text
    finally:
        server.stop()


def test_cli_exports_a_checkpoint_directory_with_its_tokenizer(gpt2_checkpoint, bert_checkpoint, tmp_path, capsys):
    from kerasnets import cli

    base_dir = str(tmp_path / "saved_models")
    assert cli.main(["export", gpt2_checkpoint[0], "--name", "gpt2", "--base-dir", base_dir]) in (0, None)
    assert "generate, sample, beam_search" in capsys.readouterr().out
    served = tf.saved_model.load(os.path.join(base_dir, "gpt2", "1"))
    out = served.signatures["generate"](prompt=tf.constant(["ROMEO:"]), max_new_tokens=tf.constant([4]))
    assert out["text"].numpy()[0].decode().startswith("ROMEO:")

    assert cli.main(["export", bert_checkpoint[0], "--name", "bert", "--base-dir", base_dir]) in (0, None)
    served = tf.saved_model.load(os.path.join(base_dir, "bert", "1"))
    out = served.signatures["serving_default"](text=tf.constant(["hello there"]))
    assert out["pooled_output"].shape == (1, 32)


def test_recipes_fine_tune_from_a_checkpoint_with_its_tokenizer(gpt2_checkpoint, bert_checkpoint, tmp_path):
    from kerasnets.export.artifacts import load_for_export
    from kerasnets.training import train
    from kerasnets.training.errors import ConfigurationError

    gpt2_dir, reference = gpt2_checkpoint[0], gpt2_checkpoint[1]
    settings = dict(checkpoint=gpt2_dir, sequence_length=32, batch_size=8, steps_per_epoch=3, learning_rate=1e-9)
    _, metrics = train("gpt-tiny_shakespeare", steps=3, overrides=settings, output=str(tmp_path / "gpt"), verbose=0)
    model, options = load_for_export(str(tmp_path / "gpt"))
    assert type(options["generation"]["tokenizer"]).__name__ == "BytePairTokenizer"
    # Started from the checkpoint's weights (a vanishing learning rate keeps them).
    wte = reference.transformer.wte.weight.detach().numpy()
    np.testing.assert_allclose(np.asarray(model.backbone.token_embedding.token_embedding.embeddings), wte, atol=1e-5)
    assert np.isfinite(metrics["loss"])

    bert_dir = bert_checkpoint[0]
    settings = dict(checkpoint=bert_dir, sequence_length=32, batch_size=8, steps_per_epoch=3)
    _, metrics = train("bert-mrpc", steps=3, overrides=settings, output=str(tmp_path / "bert"), verbose=0)
    assert 0.0 <= metrics["accuracy"] <= 1.0
    model, options = load_for_export(str(tmp_path / "bert"))
    assert type(options["tokenizer"]).__name__ == "WordPieceTokenizer" and options["text_pair"] is True

    with pytest.raises(ConfigurationError, match="holds a bert model"):
        train("gpt-tiny_shakespeare", steps=1, overrides={"checkpoint": bert_dir}, output=str(tmp_path / "x"), verbose=0)
    with pytest.raises(ConfigurationError, match="starts bert and gpt recipes only"):
        train("text_cnn-sst2", steps=1, overrides={"checkpoint": bert_dir}, output=str(tmp_path / "y"), verbose=0)
