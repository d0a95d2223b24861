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
    assert list(models.PRESETS["bert"]) == ["bert_base_uncased", "bert_tiny", "bert_mini", "bert_small", "bert_medium"]
    assert list(models.PRESETS["gpt"]) == ["gpt2"] and list(models.PRESETS["transformer"]) == ["transformer_base"]
    assert "preset" not in models.hyperparameters("bert") and "num_segments" in models.hyperparameters("bert")
