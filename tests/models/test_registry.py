import keras
import pytest

from kerasnets import models


def test_every_architecture_builds_an_uncompiled_functional_model():
    assert set(models.ARCHITECTURES) == set(models.BUILDERS)
    for name in ("mlp", "lenet5", "simple_cnn"):
        model = models.build(name)
        assert isinstance(model, keras.Model) and model.__class__.__name__ == "Functional"
        assert not model.compiled
        assert model.output_names == ["probabilities"]


def test_build_checks_names():
    with pytest.raises(ValueError, match="Unknown architecture 'alexnet'"):
        models.build("alexnet")
    with pytest.raises(ValueError, match="Unknown hyperparameters foo, zap for lenet5"):
        models.build("lenet5", foo=1, zap=2)
    with pytest.raises(ValueError, match="has no presets"):
        models.build("mlp", preset="big")


def test_presets_are_listed():
    assert list(models.PRESETS["bert"]) == [
        "bert_base_uncased",
        "bert_tiny",
        "bert_mini",
        "bert_small",
        "bert_medium",
        "bert_large_uncased",
    ]
    assert list(models.PRESETS["gpt"]) == ["gpt2", "gpt2_medium"] and list(models.PRESETS["transformer"]) == ["transformer_base"]
    assert "preset" not in models.hyperparameters("bert") and "num_segments" in models.hyperparameters("bert")


@pytest.fixture
def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_outputs_stay_float32_under_mixed_precision(mixed_precision):
    import numpy as np

    tiny = dict(vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=8)
    tokens = np.array([[3, 4, 5, 0]])
    outputs = [
        models.gpt(**tiny)(tokens),
        models.transformer(**tiny)({"encoder_token_ids": tokens, "decoder_token_ids": tokens}),
        models.bert(**tiny, head="classifier")(
            {"token_ids": tokens, "segment_ids": 0 * tokens, "padding_mask": (tokens > 0).astype("int32")}
        ),
        models.lenet5()(np.zeros((1, 28, 28, 1))),
    ]
    for output in outputs:
        assert output.dtype == "float32"
        assert np.all(np.isfinite(np.asarray(output)))
