import json

import keras
import pytest

from kerasnets import samplers

EXAMPLES = [
    samplers.GreedySampler(),
    samplers.RandomSampler(temperature=0.7, seed=3),
    samplers.TopKSampler(k=7, temperature=1.2, seed=None),
    samplers.TopPSampler(p=0.8, temperature=0.9, seed=5, k=40),
    samplers.BeamSampler(num_beams=3, return_all_beams=True, length_penalty=0.6),
]


@pytest.mark.parametrize("sampler", EXAMPLES, ids=lambda s: type(s).__name__)
def test_serialize_then_get_gives_the_same_sampler(sampler):
    config = json.loads(json.dumps(samplers.serialize(sampler)))  # what a .keras file stores
    assert config["registered_name"] == f"kerasnets>{type(sampler).__name__}"
    restored = samplers.get(config)
    assert type(restored) is type(sampler) and restored.get_config() == sampler.get_config()
    assert type(keras.saving.deserialize_keras_object(config)) is type(sampler)


def test_names_give_default_samplers_and_instances_pass_through():
    for name, cls in samplers.SAMPLERS.items():
        assert type(samplers.get(name)) is cls
    assert samplers.get(EXAMPLES[1]) is EXAMPLES[1]
    assert samplers.get(None) is None
    assert repr(samplers.get("top_k")) == "TopKSampler(k=5, temperature=1.0, seed=None)"


@pytest.mark.parametrize("identifier", ["nucleus", 3, {"class_name": "Dense", "config": {"units": 2}}])
def test_what_is_not_a_sampler_is_refused_by_name(identifier):
    with pytest.raises(ValueError, match="(?i)sampler"):
        samplers.get(identifier)
