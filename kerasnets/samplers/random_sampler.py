import random

import keras
import numpy as np
from keras import ops

from kerasnets.samplers.noise import gumbel_noise
from kerasnets.samplers.sampler import Sampler, check_positive, per_row, plain


@keras.saving.register_keras_serializable(package="kerasnets")
class RandomSampler(Sampler):
    """A draw from `softmax(l / T)` over the whole vocabulary, by the Gumbel-max trick:

        token = argmax_v (l'_v / T + g_v),   g_v = -log(-log u_v)

    where `l'` is `filter_logits(l)` (all of `l` here; the top-k / top-p
    subclasses set the excluded logits to -∞) and `u` is
    `uniform_noise(seed, position, row, v)`, so a seed gives the same tokens
    eagerly, in a `tf.function` and in a served SavedModel.

    Args:
        temperature: `T` > 0; lower is closer to greedy. A scalar or one per row.
        seed: An int (or one per row); None draws a fresh seed per `generate` call.

    >>> ids = lm.generate(prompt_ids, 20, sampler=RandomSampler(temperature=0.8, seed=1))
    """

    def __init__(self, temperature=1.0, seed=None):
        self.temperature = check_positive("temperature", temperature)
        self.seed = np.asarray(seed, "int32") if isinstance(seed, (list, tuple, np.ndarray)) else seed

    def filter_logits(self, logits):
        """Logits `(B, V)` scaled by the temperature, -∞ where a token is excluded."""
        return logits / per_row(self.temperature, "float32")

    def choose(self, logits, index):
        seed = self.seed if self.seed is not None else random.randrange(2**31)
        logits = self.filter_logits(logits)
        noise = gumbel_noise(seed, index, ops.shape(logits)[0], ops.shape(logits)[-1])
        return ops.argmax(logits + noise, axis=-1)

    def get_config(self):
        return {"temperature": plain(self.temperature), "seed": plain(self.seed)}
