"""The builders' model classes: Functional models that keep their parts as attributes,
rebuild from `get_config`, reload as themselves, and share a BERT backbone between heads."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets import models
from kerasnets.export import export_model
from kerasnets.models import (
    BertBackbone,
    BertClassifier,
    BertPretrainer,
    GPTBackbone,
    GPTCausalLM,
    RNNLanguageModel,
    RNNSeq2Seq,
    TransformerSeq2Seq,
)

TINY_GPT = dict(vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)
TINY_BERT = dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=12)
BERT_INPUTS = {
    "token_ids": np.array([[2, 5, 6, 3, 0, 0], [2, 7, 3, 8, 9, 3]], "int32"),
    "segment_ids": np.array([[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]], "int32"),
    "padding_mask": np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], "int32"),
}
CASES = {
    "gpt": (lambda: models.gpt(**TINY_GPT), GPTCausalLM, np.array([[3, 4, 5]], "int32")),
    "rnn_language_model": (
        lambda: models.rnn_language_model(vocabulary_size=20, embedding_dim=8, units=8, num_layers=2),
        RNNLanguageModel,
        np.array([[3, 4, 5]], "int32"),
    ),
    "transformer": (
        lambda: models.transformer(vocabulary_size=30, target_vocabulary_size=25, **{
            k: v for k, v in TINY_GPT.items() if k != "vocabulary_size"}),
        TransformerSeq2Seq,
        {"encoder_token_ids": np.array([[3, 4, 0]], "int32"), "decoder_token_ids": np.array([[1, 6]], "int32")},
    ),
    "seq2seq": (
        lambda: models.seq2seq(source_vocabulary_size=30, target_vocabulary_size=25, embedding_dim=8, units=8),
        RNNSeq2Seq,
        {"encoder_token_ids": np.array([[3, 4, 0]], "int32"), "decoder_token_ids": np.array([[1, 6]], "int32")},
    ),
    "bert": (lambda: models.bert(**TINY_BERT), BertBackbone, BERT_INPUTS),
    "bert_classifier": (lambda: models.bert(head="classifier", num_classes=3, **TINY_BERT), BertClassifier, BERT_INPUTS),
    "bert_pretraining": (
        lambda: models.bert(head="pretraining", **TINY_BERT),
        BertPretrainer,
        dict(BERT_INPUTS, mask_positions=np.array([[1, 2], [3, 4]], "int32")),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_builders_return_their_class_which_rebuilds_and_reloads_as_itself(name, tmp_path):
    build, cls, inputs = CASES[name]
    model = build()
    assert isinstance(model, cls) and isinstance(model, keras.Model) and model.inputs
    expected = model(inputs)
    # get_config holds every constructor argument: the same architecture, weight for weight.
    rebuilt = cls.from_config(model.get_config())
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in model.weights]
    rebuilt.set_weights(model.get_weights())
    for a, b in zip(keras.tree.flatten(expected), keras.tree.flatten(rebuilt(inputs))):
        np.testing.assert_allclose(a, b, atol=1e-6)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")  # no custom_objects
    assert type(reloaded) is cls and reloaded.get_config() == model.get_config()
    for a, b in zip(keras.tree.flatten(expected), keras.tree.flatten(reloaded(inputs))):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_gpt_parts_are_attributes_and_the_head_is_tied():
    lm = models.gpt(**TINY_GPT)
    backbone = lm.backbone
    assert isinstance(backbone, GPTBackbone) and lm.lm_head is None
    assert len(backbone.transformer_layers) == 2 and lm.max_sequence_length == 16
    ids = np.array([[3, 4, 5, 6]], "int32")
    hidden = backbone(ids)
    logits = ops_matmul(hidden, backbone.token_embedding.embeddings)
    np.testing.assert_allclose(lm(ids), keras.ops.softmax(logits), atol=1e-6)
    untied = models.gpt(**TINY_GPT, tie_embeddings=False)
    assert untied.lm_head is not None and untied.count_params() == lm.count_params() + 16 * 30


def ops_matmul(hidden, table):
    return keras.ops.matmul(hidden, keras.ops.transpose(table))


def test_bert_classifier_fine_tunes_the_pretrainers_own_backbone():
    pretrainer = models.bert(head="pretraining", **TINY_BERT)
    classifier = BertClassifier(pretrainer.backbone, num_classes=2)
    assert classifier.backbone is pretrainer.backbone
    before = keras.ops.convert_to_numpy(pretrainer.backbone.pooler.kernel)
    classifier.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    classifier.fit(BERT_INPUTS, np.array([0, 1]), epochs=1, verbose=0)
    # One set of variables: training the classifier moved the pre-trainer's backbone.
    assert not np.allclose(before, keras.ops.convert_to_numpy(pretrainer.backbone.pooler.kernel))
    features = pretrainer.backbone(BERT_INPUTS)
    np.testing.assert_allclose(
        classifier.output_layer(features["pooled_output"]), classifier(BERT_INPUTS), atol=1e-6
    )


def test_a_model_assembled_by_hand_with_other_names_still_generates_and_exports(tmp_path):
    """Decoding and export read attributes, never layer names."""
    backbone = GPTBackbone(30, 1, 2, 16, 32, max_sequence_length=12, name="my_stack")
    lm = GPTCausalLM(backbone, name="my_lm")
    prompts = np.array([[3, 4, 5], [6, 0, 0]], "int32")
    expected = lm.generate(prompts, 4)
    exported = export_model(lm, "custom", base_dir=str(tmp_path), generation={}, update_config=False)
    served = tf.saved_model.load(exported.path).signatures["generate"]
    out = served(token_ids=tf.constant(prompts), max_new_tokens=tf.constant([4, 4]))["generated_token_ids"]
    np.testing.assert_array_equal(out[0], expected[0, 3:7])
    np.testing.assert_array_equal(out[1], expected[1, 1:5])
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 12"):
        served(token_ids=tf.constant(prompts), max_new_tokens=tf.constant([10, 10]))
