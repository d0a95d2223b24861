"""save_pretrained writes what transformers and our own reader load, with the same outputs."""

import os

import numpy as np
import pytest

from kerasnets import models
from kerasnets.models import from_pretrained
from kerasnets.models.save_pretrained import save_pretrained
from kerasnets.tokenizers import WordPieceTokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", "a", "dog", ".",
              "ran", "##ning", "to", "it"]  # fmt: skip
TOLERANCE = 1e-4


def _random_pretrainer(seed=0, vocabulary_size=len(VOCABULARY)):
    model = models.bert(
        head="pretraining", vocabulary_size=vocabulary_size, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=24, dropout=0.0,
    )  # fmt: skip
    random = np.random.RandomState(seed)
    for variable in model.weights:  # large weights, so that a wrong mapping cannot hide
        noise = random.normal(0.0, 0.3, size=variable.shape).astype("float32")
        variable.assign(1.0 + noise if variable.path.endswith("gamma") else noise)
    return model


def _inputs():
    ids = np.array([[2, 5, 6, 7, 8, 5, 9, 3, 11, 12, 14, 3], [2, 11, 12, 15, 3, 17, 7, 3, 0, 0, 0, 0]], "int32")
    segments = np.array([[0] * 8 + [1] * 4, [0] * 5 + [1] * 3 + [0] * 4], "int32")
    padding = (ids != 0).astype("int32")
    positions = np.array([[1, 4, 9], [2, 6, 0]], "int32")
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": padding, "mask_positions": positions}


def _max_difference(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = _random_pretrainer()
    tokenizer = WordPieceTokenizer(VOCABULARY, lowercase=True)
    directory = save_pretrained(model, str(tmp_path_factory.mktemp("bert") / "checkpoint"), tokenizer=tokenizer)
    return model, tokenizer, directory


def test_transformers_loads_it_with_the_same_outputs(saved):
    model, _, directory = saved
    theirs = transformers.BertForPreTraining.from_pretrained(directory).eval()
    inputs = _inputs()
    ours = model(inputs)
    with torch.no_grad():
        out = theirs(
            input_ids=torch.tensor(inputs["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(inputs["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(inputs["padding_mask"], dtype=torch.long),
            output_hidden_states=True,
        )
    features = model.backbone({key: inputs[key] for key in ("token_ids", "segment_ids", "padding_mask")})
    real = inputs["padding_mask"].astype(bool)
    sequence = np.asarray(features["sequence_output"])[real]
    assert _max_difference(sequence, out.hidden_states[-1].numpy()[real]) < TOLERANCE
    rows = np.arange(2)[:, None]
    their_mlm = torch.softmax(out.prediction_logits, -1).numpy()[rows, inputs["mask_positions"]]
    their_nsp = torch.softmax(out.seq_relationship_logits, -1).numpy()
    assert _max_difference(ours["mlm_probabilities"], their_mlm) < TOLERANCE
    assert _max_difference(ours["nsp_probabilities"], their_nsp) < TOLERANCE
    # Not vacuous: the predictions differ between positions.
    assert _max_difference(their_mlm[0, 0], their_mlm[0, 1]) > 1e-2
    assert _max_difference(sequence[0], sequence[1]) > 0.1


def test_transformers_tokenizer_reads_the_vocabulary(saved):
    _, tokenizer, directory = saved
    theirs = transformers.BertTokenizer.from_pretrained(directory)
    text = "The cats sat on a mat. The dog ran to it!"
    assert theirs(text, add_special_tokens=False)["input_ids"] == tokenizer.tokenize_ragged([text])[0].numpy().tolist()
    assert theirs.mask_token_id == tokenizer.special_token_ids["[MASK]"]


def test_our_reader_round_trips_exactly(saved):
    model, tokenizer, directory = saved
    inputs = _inputs()
    reloaded = from_pretrained(directory, head="pretraining", dropout=0.0)
    for name, expected in model(inputs).items():
        np.testing.assert_array_equal(np.asarray(reloaded(inputs)[name]), np.asarray(expected))
    backbone = from_pretrained(directory)  # the encoder alone, pre-training heads ignored
    features = {key: inputs[key] for key in ("token_ids", "segment_ids", "padding_mask")}
    np.testing.assert_array_equal(
        np.asarray(backbone(features)["pooled_output"]), np.asarray(model.backbone(features)["pooled_output"])
    )
    found = models.checkpoint_files(directory)
    assert found["model_type"] == "bert"
    from kerasnets import tokenizers

    read = tokenizers.from_pretrained(directory, download=False)
    assert read.get_vocabulary() == tokenizer.get_vocabulary()


def test_replaces_the_previous_directory_whole_and_a_failure_keeps_it(saved, tmp_path, monkeypatch):
    model, tokenizer, _ = saved
    target = tmp_path / "checkpoint"
    save_pretrained(model, str(target), tokenizer=tokenizer)
    (target / "stale.txt").write_text("from an earlier run")
    other = _random_pretrainer(seed=1)
    save_pretrained(other, str(target))  # replaced as a whole: no stale file, no vocabulary left behind
    assert sorted(os.listdir(target)) == ["config.json", "model.safetensors"]
    before = (target / "model.safetensors").read_bytes()

    import safetensors.numpy

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save_pretrained(model, str(target))
    assert (target / "model.safetensors").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["checkpoint"]  # no staging directory left


def test_refuses_what_it_cannot_write(saved, tmp_path):
    model, _, _ = saved
    classifier = models.BertClassifier(model.backbone, num_classes=2)
    with pytest.raises(ValueError, match="save its .backbone"):
        save_pretrained(classifier, str(tmp_path / "c"))
    with pytest.raises(ValueError, match="tokens, the model"):
        save_pretrained(model, str(tmp_path / "c"), tokenizer=WordPieceTokenizer(VOCABULARY[:10]))
    assert not os.path.exists(tmp_path / "c")
