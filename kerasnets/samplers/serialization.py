import keras

from kerasnets.samplers.beam_sampler import BeamSampler
from kerasnets.samplers.greedy_sampler import GreedySampler
from kerasnets.samplers.random_sampler import RandomSampler
from kerasnets.samplers.sampler import Sampler
from kerasnets.samplers.top_k_sampler import TopKSampler
from kerasnets.samplers.top_p_sampler import TopPSampler

SAMPLERS = {
    "greedy": GreedySampler,
    "random": RandomSampler,
    "top_k": TopKSampler,
    "top_p": TopPSampler,
    "beam": BeamSampler,
}


def serialize(sampler):
    """A sampler as Keras' serialized dict (`{"module", "class_name", "config", "registered_name"}`)."""
    return keras.saving.serialize_keras_object(sampler)


def deserialize(config):
    try:
        sampler = keras.saving.deserialize_keras_object(config)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"Not a sampler configuration: {config!r} ({error.__class__.__name__}).") from None
    if not isinstance(sampler, Sampler):
        raise ValueError(f"Not a sampler configuration: {config!r}.")
    return sampler


def get(identifier):
    """A sampler from a name (`"greedy"`, `"random"`, `"top_k"`, `"top_p"`, `"beam"`, with default
    arguments), a serialized dict, or a `Sampler` (returned as is); None gives None.

    >>> get("top_p")
    TopPSampler(p=0.9, temperature=1.0, seed=None, k=None)
    """
    if identifier is None or isinstance(identifier, Sampler):
        return identifier
    if isinstance(identifier, str):
        if identifier not in SAMPLERS:
            raise ValueError(f"Unknown sampler '{identifier}'. Valid samplers: {', '.join(SAMPLERS)}.")
        return SAMPLERS[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"A sampler is a name ({', '.join(SAMPLERS)}), a config dict or a Sampler; got {identifier!r}.")
