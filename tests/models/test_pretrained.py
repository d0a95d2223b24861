"""from_pretrained against the real peers: transformers (torch, CPU) and KerasHub, on tiny random checkpoints.

Nothing here downloads: checkpoints are written to tmp directories by the peers themselves.
"""

import json
import os
import shutil

import keras
import numpy as np
import pytest

from kerasnets.models import PRESETS, checkpoint_files, from_pretrained, hyperparameters, load_pretrained_weights
from tests.conftest import assert_reloads_identically

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

VOCABULARY = 300
TOLERANCE = 1e-4
# KerasHub runs the same Keras ops on the same backend: its outputs agree to float32 rounding
# (exactly, today). Tighter than 1e-4, so that the exact GELU (3e-5 away here) would fail.
KERAS_HUB_TOLERANCE = 1e-5


def _max_difference(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


# --------------------------------------------------------------------------- Hugging Face checkpoints


@pytest.fixture(scope="module")
def hf_gpt2(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=32,
        vocab_size=VOCABULARY,
        n_positions=64,
        bos_token_id=None,
        eos_token_id=None,
        initializer_range=0.2,  # large weights: logits far apart, so a wrong mapping cannot hide
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    directory = str(tmp_path_factory.mktemp("hf_gpt2"))
    model.save_pretrained(directory, safe_serialization=True)
    return model, directory


@pytest.fixture(scope="module")
def hf_bert(tmp_path_factory):
    torch.manual_seed(1)
    config = transformers.BertConfig(
        num_hidden_layers=2,
        num_attention_heads=2,
        hidden_size=32,
        intermediate_size=64,
        vocab_size=VOCABULARY,
        max_position_embeddings=64,
        initializer_range=0.2,
    )
    model = transformers.BertForPreTraining(config).eval()
    directory = str(tmp_path_factory.mktemp("hf_bert"))
    model.save_pretrained(directory, safe_serialization=True)
    return model, directory


def _token_ids(batch, length, seed):
    return np.random.RandomState(seed).randint(1, VOCABULARY, size=(batch, length)).astype("int32")


@pytest.fixture(scope="module")
def gpt2_lm(hf_gpt2):
    return from_pretrained(hf_gpt2[1], dropout=0.0)


def test_gpt2_logits_match_transformers(hf_gpt2, gpt2_lm):
    hf_model, _ = hf_gpt2
    lm = gpt2_lm
    ids = _token_ids(2, 12, seed=0)
    attention_mask = np.ones_like(ids)
    ids[1, 7:], attention_mask[1, 7:] = 0, 0  # row 1 right-padded: 7 real tokens
    ours = np.asarray(lm.logits(lm.backbone(ids)))
    with torch.no_grad():
        full = hf_model(torch.tensor(ids[:1], dtype=torch.long)).logits.numpy()
        padded = hf_model(torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(attention_mask)).logits
    differences = {
        "without padding": _max_difference(ours[0], full[0]),
        "padded row, real positions": _max_difference(ours[1, :7], padded.numpy()[1, :7]),
    }
    print("GPT-2 vs transformers, max |Δ logits|:", differences)
    assert max(differences.values()) < TOLERANCE
    assert np.std(full) > 1.0  # the comparison is not between near-zero numbers


def test_untied_gpt2_head_loads(tmp_path):
    torch.manual_seed(2)
    config = transformers.GPT2Config(
        n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=16, tie_word_embeddings=False, initializer_range=0.2
    )
    hf_model = transformers.GPT2LMHeadModel(config).eval()
    hf_model.save_pretrained(tmp_path, safe_serialization=True)
    lm = from_pretrained(str(tmp_path))
    assert lm.lm_head is not None
    ids = np.random.RandomState(3).randint(1, 50, size=(1, 9))
    with torch.no_grad():
        expected = hf_model(torch.tensor(ids, dtype=torch.long)).logits.numpy()
    assert _max_difference(lm.logits(lm.backbone(ids)), expected) < TOLERANCE


def _hf_greedy(hf_model, prompt, max_new_tokens=32):
    with torch.no_grad():
        return hf_model.generate(
            torch.tensor(prompt, dtype=torch.long),
            attention_mask=torch.ones(prompt.shape, dtype=torch.long),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=VOCABULARY - 1,
        ).numpy()


def test_gpt2_greedy_generation_matches_transformers(hf_gpt2, gpt2_lm):
    hf_model, _ = hf_gpt2
    assert gpt2_lm.padding_token_id is None  # GPT-2's id 0 is a token
    prompt = np.array([[17, 0, 99, 5, 250]], dtype="int32")  # with an id 0 inside
    expected = _hf_greedy(hf_model, prompt)
    assert expected.shape == (1, prompt.shape[1] + 32)
    np.testing.assert_array_equal(gpt2_lm.generate(prompt, 32), expected)
    # Unequal prompts in one batch, right-padded, with padding_mask: each row as transformers alone.
    batch = np.array([[17, 0, 99, 5, 250], [8, 0, 31, 0, 0]], dtype="int32")
    padding_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype="int32")
    ours = gpt2_lm.generate(batch, 32, padding_mask=padding_mask)
    np.testing.assert_array_equal(ours[0], expected[0])
    np.testing.assert_array_equal(ours[1, : 3 + 32], _hf_greedy(hf_model, batch[1:, :3])[0])


def test_gpt2_generates_id_zero(hf_gpt2, tmp_path):
    # Push every hidden state towards E[0] (final layer norm's bias), so "!" (id 0) wins every step.
    hf_model, directory = hf_gpt2
    tensors = safetensors_numpy.load_file(os.path.join(directory, "model.safetensors"))
    wte = tensors["transformer.wte.weight"]
    tensors["transformer.ln_f.bias"] = (20.0 * wte[0] / np.linalg.norm(wte[0])).astype("float32")
    path = _rewritten(directory, tmp_path / "zero", tensors)
    favouring_zero = transformers.GPT2LMHeadModel.from_pretrained(path).eval()
    prompt = np.array([[17, 42, 99]], dtype="int32")
    expected = _hf_greedy(favouring_zero, prompt, max_new_tokens=8)
    assert (expected[0, 3:] == 0).all()
    np.testing.assert_array_equal(from_pretrained(path).generate(prompt, 8), expected)


def test_bert_pretraining_heads_match_transformers(hf_bert):
    hf_model, directory = hf_bert
    pretrainer = from_pretrained(directory, head="pretraining", dropout=0.0)
    ids = _token_ids(2, 10, seed=1)
    segments = np.zeros_like(ids)
    segments[:, 5:] = 1
    padding = np.ones_like(ids)
    ids[1, 6:], padding[1, 6:], segments[1, 6:] = 0, 0, 0  # row 1 padded after 6 tokens
    positions = np.tile(np.arange(10, dtype="int32"), (2, 1))
    inputs = {"token_ids": ids, "segment_ids": segments, "padding_mask": padding}
    features = pretrainer.backbone(inputs)
    probabilities = pretrainer({**inputs, "mask_positions": positions})
    # Our logits, through our own layers (the model's outputs are softmaxed).
    transformed = pretrainer.mlm_layer_norm(pretrainer.mlm_dense(features["sequence_output"]))
    mlm_logits = np.asarray(pretrainer.mlm_bias(pretrainer.backbone.token_embedding(transformed, reverse=True)))
    nsp_logits = np.asarray(features["pooled_output"]) @ np.asarray(pretrainer.nsp_head.kernel) + np.asarray(
        pretrainer.nsp_head.bias
    )
    with torch.no_grad():
        theirs = hf_model(
            input_ids=torch.tensor(ids, dtype=torch.long),
            token_type_ids=torch.tensor(segments, dtype=torch.long),
            attention_mask=torch.tensor(padding, dtype=torch.long),
            output_hidden_states=True,
        )
    sequence = theirs.hidden_states[-1].numpy()
    pooled = hf_model.bert.pooler(theirs.hidden_states[-1]).detach().numpy()
    prediction_logits = theirs.prediction_logits.numpy()
    nsp = theirs.seq_relationship_logits.numpy()

    def log_softmax(logits):
        return torch.log_softmax(torch.tensor(logits), dim=-1).numpy()

    real = padding.astype(bool)
    differences = {
        "sequence": _max_difference(np.asarray(features["sequence_output"])[real], sequence[real]),
        "pooled": _max_difference(features["pooled_output"], pooled),
        "mlm logits": _max_difference(mlm_logits[real], prediction_logits[real]),
        "mlm log-probabilities": _max_difference(
            np.log(np.asarray(probabilities["mlm_probabilities"]))[real], log_softmax(prediction_logits)[real]
        ),
        "nsp logits": _max_difference(nsp_logits, nsp),
        "nsp log-probabilities": _max_difference(
            np.log(np.asarray(probabilities["nsp_probabilities"])), log_softmax(nsp)
        ),
    }
    print("BERT vs transformers, max |Δ|:", differences)
    assert max(differences.values()) < TOLERANCE


def test_bert_classifier_and_backbone_heads(hf_bert):
    _, directory = hf_bert
    classifier = from_pretrained(directory, head="classifier", num_classes=3, dropout=0.0)
    backbone = from_pretrained(directory)
    assert type(backbone).__name__ == "BertBackbone" and type(classifier).__name__ == "BertClassifier"
    inputs = {
        "token_ids": _token_ids(2, 6, seed=2),
        "segment_ids": np.zeros((2, 6), "int32"),
        "padding_mask": np.ones((2, 6), "int32"),
    }
    assert classifier(inputs).shape == (2, 3)
    np.testing.assert_allclose(
        classifier.backbone(inputs)["pooled_output"], backbone(inputs)["pooled_output"], atol=1e-6
    )


def test_legacy_names_and_ignorable_buffers_load(hf_bert, hf_gpt2, tmp_path):
    # BERT as TF-era checkpoints store it: no "bert." prefix, LayerNorm gamma/beta, a position_ids buffer.
    hf_model, directory = hf_bert
    tensors = safetensors_numpy.load_file(os.path.join(directory, "model.safetensors"))
    legacy = {}
    for name, value in tensors.items():
        name = name[len("bert."):] if name.startswith("bert.") else name
        name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        legacy[name] = value
    legacy["embeddings.position_ids"] = np.arange(64, dtype="int64")[None]
    legacy["cls.predictions.decoder.weight"] = tensors["bert.embeddings.word_embeddings.weight"]
    bert_dir = _rewritten(directory, tmp_path / "legacy_bert", legacy)
    a, b = from_pretrained(directory, head="pretraining"), from_pretrained(bert_dir, head="pretraining")
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)
    # GPT-2 as the published checkpoint stores it: no prefix, attention-mask buffers, a tied lm_head copy.
    _, gpt_directory = hf_gpt2
    tensors = safetensors_numpy.load_file(os.path.join(gpt_directory, "model.safetensors"))
    published = {name[len("transformer."):]: value for name, value in tensors.items()}
    for index in range(2):
        published[f"h.{index}.attn.bias"] = np.tril(np.ones((1, 1, 64, 64), "float32"))
        published[f"h.{index}.attn.masked_bias"] = np.array(-1e4, "float32")
    published["lm_head.weight"] = published["wte.weight"]
    gpt_dir = _rewritten(gpt_directory, tmp_path / "published_gpt2", published)
    for x, y in zip(from_pretrained(gpt_directory).get_weights(), from_pretrained(gpt_dir).get_weights()):
        np.testing.assert_array_equal(x, y)


def _rewritten(source, target, tensors, config_changes=None):
    """A copy of checkpoint directory `source` at `target` with other tensors (and config changes)."""
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(source, "config.json")) as handle:
        config = json.load(handle)
    config.update(config_changes or {})
    with open(os.path.join(target, "config.json"), "w") as handle:
        json.dump(config, handle)
    if tensors is not None:
        contiguous = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
        safetensors_numpy.save_file(contiguous, os.path.join(target, "model.safetensors"))
    else:
        shutil.copy(os.path.join(source, "model.safetensors"), target)
    return str(target)


# --------------------------------------------------------------------------- errors


def test_missing_tensor_names_key_and_file(hf_gpt2, tmp_path):
    _, directory = hf_gpt2
    tensors = safetensors_numpy.load_file(os.path.join(directory, "model.safetensors"))
    del tensors["transformer.h.1.mlp.c_fc.bias"]
    broken = _rewritten(directory, tmp_path / "missing", tensors)
    expected = r"Missing tensor 'transformer\.h\.1\.mlp\.c_fc\.bias' in .*missing.*model\.safetensors"
    with pytest.raises(ValueError, match=expected):
        from_pretrained(broken)


def test_wrong_shape_is_one_line_with_both_shapes(hf_bert, tmp_path):
    _, directory = hf_bert
    tensors = safetensors_numpy.load_file(os.path.join(directory, "model.safetensors"))
    tensors["bert.encoder.layer.1.intermediate.dense.weight"] = np.zeros((65, 32), "float32")
    broken = _rewritten(directory, tmp_path / "shape", tensors)
    with pytest.raises(ValueError) as error:
        from_pretrained(broken)
    message = str(error.value)
    assert "\n" not in message
    assert "bert.encoder.layer.1.intermediate.dense.weight" in message
    assert "expected (64, 32), found (65, 32)" in message


def test_unexpected_tensor_is_an_error(hf_gpt2, tmp_path):
    _, directory = hf_gpt2
    tensors = safetensors_numpy.load_file(os.path.join(directory, "model.safetensors"))
    tensors["transformer.h.2.ln_1.weight"] = np.ones(32, "float32")  # a third block the config does not have
    broken = _rewritten(directory, tmp_path / "extra", tensors)
    with pytest.raises(ValueError, match=r"Unexpected tensor 'transformer\.h\.2\.ln_1\.weight'"):
        from_pretrained(broken)


@pytest.mark.parametrize(
    "checkpoint, changes, message",
    [
        ("gpt2", {"model_type": "llama"}, "model_type 'llama' is not supported"),
        ("gpt2", {"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx"),
        ("gpt2", {"add_cross_attention": True}, "add_cross_attention"),
        ("gpt2", {"activation_function": "silu"}, "activation_function='silu'"),
        ("bert", {"position_embedding_type": "relative_key"}, "position_embedding_type='relative_key'"),
        ("bert", {"hidden_act": "silu"}, "hidden_act='silu'"),
    ],
)
def test_unrepresentable_configs_are_rejected(hf_gpt2, hf_bert, tmp_path, checkpoint, changes, message):
    directory = (hf_gpt2 if checkpoint == "gpt2" else hf_bert)[1]
    with pytest.raises(ValueError, match=message):
        from_pretrained(_rewritten(directory, tmp_path / "config", None, changes))


def test_pretraining_head_needs_the_heads(hf_bert, tmp_path):
    _, directory = hf_bert
    tensors = safetensors_numpy.load_file(os.path.join(directory, "model.safetensors"))
    encoder_only = {k: v for k, v in tensors.items() if not k.startswith("cls.")}
    path = _rewritten(directory, tmp_path / "encoder", encoder_only)
    from_pretrained(path)  # the backbone alone loads
    with pytest.raises(ValueError, match="head='pretraining' needs .*cls.predictions.bias"):
        from_pretrained(path, head="pretraining")


def test_failed_load_into_existing_model_changes_nothing(hf_gpt2, tmp_path):
    _, directory = hf_gpt2
    tensors = safetensors_numpy.load_file(os.path.join(directory, "model.safetensors"))
    tensors["transformer.ln_f.bias"] = np.zeros(31, "float32")  # the last tensor read is wrong
    broken = _rewritten(directory, tmp_path / "late", tensors)
    lm = from_pretrained(directory)
    lm.backbone.token_embedding.embeddings.assign(np.zeros((VOCABULARY, 32), "float32"))
    before = [np.array(w) for w in lm.get_weights()]
    with pytest.raises(ValueError, match="ln_f.bias"):
        load_pretrained_weights(lm, broken)
    for x, y in zip(before, lm.get_weights()):
        np.testing.assert_array_equal(x, y)
    load_pretrained_weights(lm, directory)  # and the good checkpoint loads into it
    np.testing.assert_array_equal(lm.backbone.token_embedding.embeddings, tensors["transformer.wte.weight"])


def test_architecture_comes_from_the_checkpoint(hf_gpt2):
    with pytest.raises(ValueError, match="num_layers comes from the checkpoint"):
        from_pretrained(hf_gpt2[1], num_layers=3)
    with pytest.raises(ValueError, match="Unknown argument colour"):
        from_pretrained(hf_gpt2[1], colour="blue")
    with pytest.raises(ValueError, match="head='classifier' is for BERT"):
        from_pretrained(hf_gpt2[1], head="classifier")


def test_names_offline_say_where_they_looked(tmp_path, monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setattr(hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    with pytest.raises(ValueError) as error:
        from_pretrained("gpt2", download=False)
    message = str(error.value)
    assert str(tmp_path / "empty_cache") in message and "openai-community/gpt2" in message
    assert "config.json + model.safetensors" in message and "downloads are off" in message
    monkeypatch.setenv("KERASNETS_OFFLINE", "1")
    with pytest.raises(ValueError, match="downloads are off"):
        from_pretrained("google/bert_uncased_L-2_H-128_A-2")


def test_gelu_approximate_is_transformers_gelu_new():
    from transformers.activations import ACT2FN

    from kerasnets.layers.activations import get

    x = np.linspace(-6, 6, 1201, dtype="float32")
    ours = np.asarray(get("gelu_approximate")(keras.ops.convert_to_tensor(x)))
    with torch.no_grad():
        new = ACT2FN["gelu_new"](torch.tensor(x)).numpy()
        exact = ACT2FN["gelu"](torch.tensor(x)).numpy()
    assert _max_difference(ours, new) < 1e-6
    assert _max_difference(ours, exact) > 1e-4  # the two GELUs are told apart


def test_keras_file_round_trip_needs_no_custom_objects(gpt2_lm, tmp_path):
    assert gpt2_lm.backbone.get_config()["activation"] == "gelu_approximate"
    reloaded = assert_reloads_identically(gpt2_lm, _token_ids(2, 8, seed=3), tmp_path, atol=1e-5)
    assert reloaded.backbone.activation == "gelu_approximate"
    assert reloaded.padding_token_id is None


# --------------------------------------------------------------------------- configs and files


@pytest.mark.parametrize(
    "preset, config",
    [
        ("bert_tiny", dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512)),
        ("bert_mini", dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024)),
        ("bert_small", dict(num_hidden_layers=4, hidden_size=512, num_attention_heads=8, intermediate_size=2048)),
        ("bert_medium", dict(num_hidden_layers=8, hidden_size=512, num_attention_heads=8, intermediate_size=2048)),
        ("bert_base_uncased", dict()),
        (
            "bert_large_uncased",
            dict(num_hidden_layers=24, hidden_size=1024, num_attention_heads=16, intermediate_size=4096),
        ),
    ],
)
def test_published_bert_configs_map_to_presets(tmp_path, preset, config):
    transformers.BertConfig(**config).save_pretrained(tmp_path)  # the sizes of the Hub's config.json
    architecture = checkpoint_files(tmp_path)["architecture"]
    assert {k: v for k, v in architecture.items() if k in PRESETS["bert"][preset]} == PRESETS["bert"][preset]
    assert set(architecture) <= set(hyperparameters("bert"))  # and nothing the builder does not take


@pytest.mark.parametrize(
    "preset, config",
    [("gpt2", dict()), ("gpt2_medium", dict(n_layer=24, n_head=16, n_embd=1024))],
)
def test_published_gpt2_configs_map_to_presets(tmp_path, preset, config):
    transformers.GPT2Config(**config).save_pretrained(tmp_path)
    architecture = checkpoint_files(tmp_path)["architecture"]
    assert {k: v for k, v in architecture.items() if k in PRESETS["gpt"][preset]} == PRESETS["gpt"][preset]
    assert architecture["activation"] == "gelu_approximate"
    assert set(architecture) <= set(hyperparameters("gpt"))


def test_checkpoint_files_finds_tokenizer_assets(hf_gpt2, hf_bert, tmp_path):
    gpt_dir = _rewritten(hf_gpt2[1], tmp_path / "gpt2", None)
    assert checkpoint_files(gpt_dir)["tokenizer"] is None
    for name in ("vocab.json", "merges.txt"):
        (tmp_path / "gpt2" / name).write_text("{}" if name.endswith("json") else "#version: 0.2\n")
    files = checkpoint_files(gpt_dir)
    assert files["format"] == "huggingface" and files["model_type"] == "gpt2"
    assert files["tokenizer"] == {
        "kind": "byte_pair",
        "vocabulary": os.path.join(gpt_dir, "vocab.json"),
        "merges": os.path.join(gpt_dir, "merges.txt"),
    }
    bert_dir = _rewritten(hf_bert[1], tmp_path / "bert", None)
    (tmp_path / "bert" / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    assert checkpoint_files(bert_dir)["tokenizer"]["lowercase"] is True  # BertTokenizer's default
    (tmp_path / "bert" / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    assert checkpoint_files(bert_dir)["tokenizer"] == {
        "kind": "word_piece",
        "vocabulary": os.path.join(bert_dir, "vocab.txt"),
        "lowercase": False,
    }


# --------------------------------------------------------------------------- KerasHub presets


@pytest.fixture(scope="module")
def keras_hub():
    return pytest.importorskip("keras_hub")


KERAS_HUB_TINY = dict(
    vocabulary_size=VOCABULARY,
    num_layers=2,
    num_heads=2,
    hidden_dim=32,
    intermediate_dim=64,
    max_sequence_length=64,
    dropout=0.0,
)


def _randomize(model, seed, scale=0.3):
    rng = np.random.RandomState(seed)
    model.set_weights([rng.normal(0, scale, w.shape).astype(w.dtype) for w in model.get_weights()])


def test_gpt2_matches_keras_hub(keras_hub, tmp_path):
    theirs = keras_hub.models.GPT2Backbone(**KERAS_HUB_TINY)
    _randomize(theirs, seed=4)
    # A task preset: config.json is the backbone's, task.json the task's.
    keras_hub.models.GPT2CausalLM(backbone=theirs, preprocessor=None).save_to_preset(str(tmp_path / "preset"))
    lm = from_pretrained(str(tmp_path / "preset"))
    assert checkpoint_files(tmp_path / "preset")["format"] == "keras_hub"
    # A config.json naming the task class (its config holds the backbone's) reads the same.
    shutil.copytree(tmp_path / "preset", tmp_path / "task_config")
    shutil.copy(tmp_path / "preset" / "task.json", tmp_path / "task_config" / "config.json")
    task_config = checkpoint_files(tmp_path / "task_config")
    assert task_config["architecture"] == checkpoint_files(tmp_path / "preset")["architecture"]
    ids = _token_ids(2, 12, seed=5)
    padding = np.ones_like(ids)
    ids[1, 8:], padding[1, 8:] = 0, 0
    expected = np.asarray(theirs({"token_ids": ids, "padding_mask": padding}))
    ours = np.asarray(lm.backbone(ids))
    difference = max(_max_difference(ours[0], expected[0]), _max_difference(ours[1, :8], expected[1, :8]))
    print("GPT-2 vs KerasHub, max |Δ hidden states|:", difference)
    assert difference < KERAS_HUB_TOLERANCE


def test_bert_matches_keras_hub(keras_hub, tmp_path):
    theirs = keras_hub.models.BertBackbone(**KERAS_HUB_TINY)
    _randomize(theirs, seed=6, scale=0.2)
    theirs.save_to_preset(str(tmp_path / "preset"))
    ours = from_pretrained(str(tmp_path / "preset"))
    ids = _token_ids(2, 10, seed=7)
    segments = np.zeros_like(ids)
    segments[:, 4:] = 1
    padding = np.ones_like(ids)
    ids[1, 7:], padding[1, 7:], segments[1, 7:] = 0, 0, 0
    inputs = {"token_ids": ids, "segment_ids": segments, "padding_mask": padding}
    expected, actual = theirs(inputs), ours(inputs)
    real = padding.astype(bool)
    differences = {
        "sequence": _max_difference(
            np.asarray(actual["sequence_output"])[real], np.asarray(expected["sequence_output"])[real]
        ),
        "pooled": _max_difference(actual["pooled_output"], expected["pooled_output"]),
    }
    print("BERT vs KerasHub, max |Δ|:", differences)
    assert max(differences.values()) < KERAS_HUB_TOLERANCE
    with pytest.raises(ValueError, match="KerasHub's BERT presets have none"):
        from_pretrained(str(tmp_path / "preset"), head="pretraining")
