"""The base of encoder–decoder models: translate by one cached decoder step at a time.

    model = kerasnets.models.transformer(vocabulary_size=8000)     # a TransformerSeq2Seq
    new_ids = model.generate(source_ids, max_new_tokens=40, start_token_id=START, end_token_id=END)

A subclass is a Functional model `{encoder_token_ids, decoder_token_ids} →
probabilities` (teacher forcing) that also says how to decode:

* `build_cache(source_ids, length) -> cache`: encodes the source once and
  returns everything the decoder steps need (self-attention caches or
  recurrent states, projected encoder keys/values or encoder outputs, the
  source padding mask), every leaf batch-major so a beam search can tile
  and reorder it;
* `call_with_cache(decoder_token_ids, cache, index) -> (logits, cache)`:
  decoder tokens at positions `index …` against that cache.

Decoding fills a buffer `[start, y_1, …, y_N]` with the sampler's loop from
position 1 (the same loop as the decoder-only models, whose prompt here is
the start token) and returns `y_1 … y_N`.
"""

import keras
from keras import ops

from kerasnets.models.causal_lm import _Generates, as_token_ids, check_max_new_tokens, one_step_logits


class Seq2SeqLM(_Generates, keras.Model):
    """An encoder–decoder model; subclasses build the graph and the cached step.

    Attributes a subclass sets: `source_vocabulary_size`,
    `target_vocabulary_size`, `max_sequence_length` (the decoder's, None
    when unlimited) and `source_max_sequence_length` (None when unlimited).
    """

    max_sequence_length = None
    source_max_sequence_length = None

    def call_with_cache(self, token_ids, cache, index):
        raise NotImplementedError

    def build_cache(self, source_ids, length):
        raise NotImplementedError

    def generate_ids(self, source_ids, max_new_tokens, sampler=None, end_token_id=None, start_token_id=None):
        """The graph-pure decoding loop: source `(B, S)` → new tokens `(B, max_new_tokens)`.

        `max_new_tokens`, `start_token_id` and `end_token_id` may be scalar
        tensors (the exported signatures); positions beyond the decoder's
        `max_sequence_length` stay 0 (callers check beforehand).
        """
        if start_token_id is None:
            raise ValueError(f"'{self.name}' decodes from a start token: pass start_token_id.")
        sampler = self._sampler(sampler)
        source_ids = ops.cast(source_ids, "int32")
        batch_size = ops.shape(source_ids)[0]
        steps = max_new_tokens if self.max_sequence_length is None else ops.minimum(
            max_new_tokens, self.max_sequence_length
        )
        start = ops.full((batch_size, 1), ops.cast(start_token_id, "int32"), dtype="int32")
        buffer = ops.concatenate([start, ops.zeros((batch_size, steps), dtype="int32")], axis=1)
        mask = ops.concatenate(
            [ops.ones((batch_size, 1), dtype="bool"), ops.zeros((batch_size, steps), dtype="bool")], axis=1
        )
        cache = self.build_cache(source_ids, steps)
        result = sampler(one_step_logits(self), buffer, cache, 1, mask, end_token_id=end_token_id)

        def new_tokens(ids):
            ids = ids[..., 1:]
            missing = max_new_tokens - steps
            zeros = ops.zeros(tuple(ops.shape(ids)[:-1]) + (missing,), dtype=ids.dtype)
            return ops.concatenate([ids, zeros], axis=-1)

        if isinstance(result, (tuple, list)):
            return (new_tokens(result[0]), *result[1:])
        return new_tokens(result)

    def generate(self, source_ids, max_new_tokens, start_token_id, end_token_id=None, sampler=None):
        """Decode `max_new_tokens` target tokens for each source row.

        Args:
            source_ids: Int `(B, S)`, right-padded with 0.
            max_new_tokens: How many target tokens to produce.
            start_token_id: The decoder's first input.
            end_token_id: Optional id that ends a row (kept; 0 after it).
            sampler: A `kerasnets.samplers.Sampler` or its name; default the
                one given to `compile(sampler=…)`, else greedy.

        Returns:
            int32 NumPy `(B, max_new_tokens)`: the new tokens, 0 after a row's
            end (a `BeamSampler(return_all_beams=True)` gives `(ids (B, W, N), scores (B, W))`).
        """
        count = check_max_new_tokens(max_new_tokens)
        source_ids = as_token_ids(source_ids)
        if start_token_id is None:
            raise ValueError(f"'{self.name}' decodes from a start token: pass start_token_id.")
        if self.max_sequence_length is not None and count > self.max_sequence_length:
            raise ValueError(
                f"max_new_tokens={count} exceeds the max_sequence_length={self.max_sequence_length} "
                f"of '{self.name}''s decoder."
            )
        limit = self.source_max_sequence_length
        if limit is not None and source_ids.shape[1] > limit:
            raise ValueError(f"The sources have {source_ids.shape[1]} positions; '{self.name}' takes at most {limit}.")
        return self._run_generate(
            _generate_ids, source_ids, count, self._sampler(sampler), end_token_id, int(start_token_id)
        )


def _generate_ids(model, source_ids, max_new_tokens, sampler, end_token_id, start_token_id, padding_mask=None):
    return model.generate_ids(source_ids, max_new_tokens, sampler, end_token_id, start_token_id)
