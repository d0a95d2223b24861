import keras
from keras import ops

from kerasnets.samplers.random_sampler import RandomSampler
from kerasnets.samplers.sampler import check_positive, negative_infinity_like, per_row, plain
from kerasnets.samplers.top_k_sampler import keep_top_k


def keep_nucleus(logits, p):
    """`logits` `(B, V)` with everything outside the row's nucleus set to -∞.

    The nucleus is the smallest set of most likely tokens whose probability
    under `softmax(logits)` reaches `p`: sorted descending, token j is kept
    while the probability before it, `Σ_{i<j} π_i`, is below `p` (so the
    most likely token always is). `p` is a scalar or one per row.
    """
    sorted_logits = ops.flip(ops.sort(logits, axis=-1), axis=-1)
    sorted_probabilities = ops.softmax(sorted_logits, axis=-1)
    before = ops.cumsum(sorted_probabilities, axis=-1) - sorted_probabilities
    kept = ops.sum(ops.cast(before < per_row(p, "float32"), "int32"), axis=-1, keepdims=True)
    threshold = ops.take_along_axis(sorted_logits, ops.maximum(kept, 1) - 1, axis=-1)
    return ops.where(logits >= threshold, logits, negative_infinity_like(logits))


@keras.saving.register_keras_serializable(package="kerasnets")
class TopPSampler(RandomSampler):
    """Nucleus sampling (Holtzman et al., 2020): a draw from `softmax(l / T)` over the smallest set of
    most likely tokens whose probability reaches `p`; with `k`, over the `k` largest logits first.

    Args:
        p: In (0, 1]; p → 0 is greedy, p = 1 samples the whole distribution.
            A scalar or one per row.
        temperature: `T` > 0, applied before the nucleus is chosen.
        seed: An int (or one per row); None draws a fresh seed per `generate` call.
        k: Optional cap on the candidates before the nucleus is taken.

    >>> ids = lm.generate(prompt_ids, 20, sampler=TopPSampler(p=0.9, seed=1))
    """

    def __init__(self, p=0.9, temperature=1.0, seed=None, k=None):
        super().__init__(temperature=temperature, seed=seed)
        self.p = check_positive("p", p, at_most=1.0)
        self.k = None if k is None else check_positive("k", k, integer=True)

    def filter_logits(self, logits):
        logits = super().filter_logits(logits)
        if self.k is not None:
            logits = keep_top_k(logits, self.k)
        return keep_nucleus(logits, self.p)

    def get_config(self):
        return {"p": plain(self.p), **super().get_config(), "k": plain(self.k)}
