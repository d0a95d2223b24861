import keras
from keras import ops

from kerasnets.samplers.sampler import Sampler


@keras.saving.register_keras_serializable(package="kerasnets")
class GreedySampler(Sampler):
    """The most likely token: `argmax_v l_v` (ties: the lowest id; never the padding id 0).

    >>> ids = lm.generate(prompt_ids, 20, sampler=GreedySampler())
    """

    def choose(self, logits, index):
        return ops.argmax(logits, axis=-1)
