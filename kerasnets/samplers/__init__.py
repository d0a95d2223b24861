"""Samplers: how `generate` chooses each next token (greedy, random, top-k, top-p, beam search).

    from kerasnets import samplers
    ids = lm.generate(prompt_ids, 100, sampler=samplers.TopPSampler(p=0.9, seed=1))
    lm.compile(sampler="top_k")            # the default sampler of generate

Every sampler runs the decoding loop in the graph with `keras.ops`
(`Sampler.__call__`), so each can be exported as a served signature.
"""

from kerasnets.samplers.beam_sampler import BeamSampler
from kerasnets.samplers.greedy_sampler import GreedySampler
from kerasnets.samplers.noise import gumbel_noise, uniform_noise
from kerasnets.samplers.random_sampler import RandomSampler
from kerasnets.samplers.sampler import Sampler
from kerasnets.samplers.serialization import SAMPLERS, deserialize, get, serialize
from kerasnets.samplers.top_k_sampler import TopKSampler
from kerasnets.samplers.top_p_sampler import TopPSampler

__all__ = [
    "BeamSampler",
    "GreedySampler",
    "RandomSampler",
    "SAMPLERS",
    "Sampler",
    "TopKSampler",
    "TopPSampler",
    "deserialize",
    "get",
    "gumbel_noise",
    "serialize",
    "uniform_noise",
]
