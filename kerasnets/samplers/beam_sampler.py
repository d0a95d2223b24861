import keras
from keras import ops

from kerasnets.ops import update_along_axis
from kerasnets.samplers.sampler import Sampler, any_row_left, check_positive, fill_id, forbid_padding, row_lengths


def _tile_rows(x, times):
    """`(B, …)` → `(B·times, …)`, each row repeated `times` times in a row (row b, beam w at b·times + w)."""
    return ops.repeat(x, times, axis=0)


@keras.saving.register_keras_serializable(package="kerasnets")
class BeamSampler(Sampler):
    """Beam search: keeps the `num_beams` partial sequences of highest summed log-probability.

    At each position every kept beam b (score s_b) is extended by every token v:

        s_{b,v} = s_b + log softmax(l_b)_v       (v ≠ 0: padding is never generated)

    and the `num_beams` best (b, v) of the row are kept; the cache is
    reordered with them (every cache leaf is batch-major, tiled to
    `B · num_beams` rows). A prompt position or a finished beam has one
    continuation of log-probability 0 (its prompt token, or the fill id), so only
    generated tokens score. At the end beams are ranked by
    `s / n^length_penalty` (n = the beam's generated tokens; 0 ranks by the sum).

    Args:
        num_beams: Beams kept per row (1 = greedy).
        return_all_beams: Also return every beam and its score, best first:
            `(ids (B, num_beams, L), scores (B, num_beams))`; otherwise the
            best beam's ids `(B, L)`.
        length_penalty: Exponent α of the length normalisation.

    >>> ids = translator.generate(source_ids, 40, start_token_id=1, sampler=BeamSampler(num_beams=4))
    """

    def __init__(self, num_beams=4, return_all_beams=False, length_penalty=0.0):
        self.num_beams = check_positive("num_beams", num_beams, integer=True)
        if keras.ops.is_tensor(self.num_beams):
            raise ValueError("num_beams must be a Python int (it fixes the shapes of the search).")
        self.return_all_beams = bool(return_all_beams)
        self.length_penalty = float(length_penalty)

    def __call__(self, next, token_ids, cache, index, mask, end_token_id=None, lengths=None, padding_id=0):
        width = self.num_beams
        token_ids = ops.cast(token_ids, "int32")
        batch_size, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        ids = _tile_rows(token_ids, width)
        mask = _tile_rows(mask, width)
        lengths = _tile_rows(row_lengths(token_ids, lengths), width)
        cache = keras.tree.map_structure(lambda leaf: _tile_rows(leaf, width), cache)
        # Only beam 0 is alive at first, so the first expansion does not repeat one hypothesis W times.
        first_beam = ops.expand_dims(ops.arange(width) == 0, 0)
        scores = ops.where(first_beam, 0.0, float("-inf")) * ops.ones((batch_size, 1))
        finished = ops.zeros((batch_size * width,), dtype="bool")
        row_offsets = ops.expand_dims(ops.arange(batch_size) * width, 1)
        fill = fill_id(padding_id, end_token_id)

        def unfinished(i, ids, cache, scores, finished):
            return any_row_left(i, length, finished, lengths)

        def step(i, ids, cache, scores, finished):
            logits, cache = next(ids, cache, i)
            log_probabilities = forbid_padding(ops.log_softmax(ops.cast(logits, "float32"), axis=-1), padding_id)
            vocabulary_size = ops.shape(log_probabilities)[-1]
            in_prompt = ops.take(mask, i, axis=1)
            done = ops.logical_or(finished, i >= lengths)
            # A prompt position or a finished beam continues one way, at no cost.
            forced = ops.logical_or(in_prompt, done)
            forced_token = ops.where(in_prompt, ops.take(ids, i, axis=1), fill)
            only_forced = ops.where(
                ops.expand_dims(forced_token, 1) == ops.expand_dims(ops.arange(vocabulary_size), 0),
                0.0,
                float("-inf"),
            )
            log_probabilities = ops.where(ops.expand_dims(forced, 1), only_forced, log_probabilities)
            candidates = ops.reshape(ops.reshape(scores, (-1, 1)) + log_probabilities, (batch_size, -1))
            scores, best = ops.top_k(candidates, width, sorted=True)
            parents = ops.reshape(best // vocabulary_size + row_offsets, (-1,))
            tokens = ops.cast(ops.reshape(best % vocabulary_size, (-1,)), "int32")
            ids, cache = ops.take(ids, parents, axis=0), keras.tree.map_structure(
                lambda leaf: ops.take(leaf, parents, axis=0), cache
            )
            finished, done, in_prompt = (ops.take(x, parents, axis=0) for x in (finished, done, in_prompt))
            ids = update_along_axis(ids, ops.expand_dims(tokens, 1), i, axis=1)
            if end_token_id is not None:
                generated = ops.logical_not(ops.logical_or(in_prompt, done))
                finished = ops.logical_or(finished, ops.logical_and(generated, tokens == end_token_id))
            return i + 1, ids, cache, scores, finished

        start = ops.cast(index, "int32")
        _, ids, _, scores, _ = ops.while_loop(unfinished, step, (start, ids, cache, scores, finished))
        ids = ops.reshape(ids, (batch_size, width, length))
        if self.length_penalty:
            generated = ops.logical_and(
                ops.not_equal(ids, fill), ops.logical_not(ops.reshape(mask, (batch_size, width, length)))
            )
            counts = ops.maximum(ops.sum(ops.cast(generated, "float32"), axis=-1), 1.0)
            scores = scores / ops.power(counts, self.length_penalty)
            scores, order = ops.top_k(scores, width, sorted=True)
            ids = ops.take_along_axis(ids, ops.expand_dims(order, -1), axis=1)
        if self.return_all_beams:
            return ids, scores
        return ids[:, 0, :]

    def get_config(self):
        return {
            "num_beams": self.num_beams,
            "return_all_beams": self.return_all_beams,
            "length_penalty": self.length_penalty,
        }
