"""The base of decoder-only language models: generation by one cached step at a time.

    lm = kerasnets.models.gpt(vocabulary_size=65)          # a GPTCausalLM
    lm.compile(sampler="top_k")                             # or TopPSampler(p=0.9, seed=1), …
    ids = lm.generate(prompt_ids, max_new_tokens=100)       # (B, T + 100)
    ids = lm.generate(prompt_ids, 100, sampler=kerasnets.samplers.BeamSampler(num_beams=4))

A subclass is a Functional model (its `summary()` shows the layer graph)
that also says how to decode:

* `call_with_cache(token_ids, cache, index) -> (logits, cache)` runs the
  tokens `(B, T)` sitting at positions `index … index+T-1` against a cache
  of what the earlier positions left behind and returns their next-token
  logits `(B, T, V)` with the cache updated;
* `build_cache(token_ids, length) -> (cache, first_index)` prepares the
  cache for decoding into `length` positions after the right-padded
  prompts `token_ids` `(B, T)` (e.g. by running the prompts once,
  "prefill"), and says at which position the loop starts.

Every leaf of a cache is batch-major, so a beam search can tile and reorder
it. Generation itself is the sampler's loop (`kerasnets.samplers`): at
position i it asks `call_with_cache` for the logits of the token at i-1 and
writes the chosen token at i, keeping prompt tokens where a row has them.

Prompts are right-padded with 0 (the padding id, never generated); rows may
have different lengths, and each row gets its own `max_new_tokens` new tokens
right after its prompt (as in KerasHub, the batch steps through positions
together from the shortest prompt's end).
"""

import random
import weakref

import keras
import numpy as np
from keras import ops

from kerasnets import samplers as samplers_lib
from kerasnets.models.dtype_policy import DTypePolicyConfig


def static_int(value):
    """`value` as a Python int when it is one (or a NumPy integer), else None (a tensor)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return None


def as_token_ids(token_ids):
    token_ids = ops.convert_to_tensor(token_ids)
    if len(token_ids.shape) != 2:
        raise ValueError(f"Token ids must have shape (batch, length), got {tuple(token_ids.shape)}.")
    if "int" not in keras.backend.standardize_dtype(token_ids.dtype):
        raise ValueError(f"Token ids must be integers, got dtype {token_ids.dtype}.")
    return ops.cast(token_ids, "int32")


def check_max_new_tokens(max_new_tokens):
    count = static_int(max_new_tokens)
    if count is None or count < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}.")
    return count


def one_step_logits(model):
    """The sampler's `next`: logits of the token at `index - 1`, from the model's cached step."""

    def next_logits(token_ids, cache, index):
        previous = ops.expand_dims(ops.take(token_ids, index - 1, axis=1), 1)
        logits, cache = model.call_with_cache(previous, cache, index - 1)
        return logits[:, 0, :], cache

    return next_logits


class _Generates(DTypePolicyConfig):
    """`compile(sampler=…)`, and `generate` run as a `tf.function` traced once per sampler kind."""

    def compile(self, *args, sampler="greedy", **kwargs):
        """`keras.Model.compile`, plus the default `sampler` of `generate`."""
        self.sampler = samplers_lib.get(sampler)
        super().compile(*args, **kwargs)

    def get_compile_config(self):
        config = super().get_compile_config() or {}
        if getattr(self, "sampler", None) is not None:
            config["sampler"] = samplers_lib.serialize(self.sampler)
        return config

    def compile_from_config(self, config):
        """Recompiles a reloaded model (optimizer, loss, metrics and sampler) from `get_compile_config`."""
        config = keras.saving.deserialize_keras_object(dict(config))
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)  # so saved optimizer variables load

    def _sampler(self, sampler):
        if sampler is None:
            return getattr(self, "sampler", None) or samplers_lib.GreedySampler()
        return samplers_lib.get(sampler)

    def _traced(self, sampler, has_end_token, pure_generate):
        """`pure_generate(ids, max_new_tokens, sampler, end_token_id)` as a `tf.function` over
        `(ids, max_new_tokens, end_token_id, seed, start_token_id)`; a new seed does not retrace."""
        import tensorflow as tf

        config = sampler.get_config()
        seeded = "seed" in config
        key = (type(sampler), repr(sorted((k, v) for k, v in config.items() if k != "seed")), has_end_token)
        cache = self.__dict__.setdefault("_kerasnets_traced_generate", {})
        if key not in cache:
            model_ref = weakref.ref(self)
            sampler_class = type(sampler)

            @tf.function(
                input_signature=[
                    tf.TensorSpec([None, None], tf.int32),
                    tf.TensorSpec([], tf.int32),
                    tf.TensorSpec([], tf.int32),
                    tf.TensorSpec([], tf.int32),
                    tf.TensorSpec([], tf.int32),
                ]
            )
            def run(token_ids, max_new_tokens, end_token_id, seed, start_token_id):
                step_sampler = sampler_class.from_config({**config, "seed": seed} if seeded else config)
                end = end_token_id if has_end_token else None
                return pure_generate(model_ref(), token_ids, max_new_tokens, step_sampler, end, start_token_id)

            cache[key] = run
        return cache[key], seeded

    def _run_generate(self, pure_generate, token_ids, count, sampler, end_token_id, start_token_id=0):
        if keras.backend.backend() != "tensorflow":
            return pure_generate(self, token_ids, count, sampler, end_token_id, start_token_id)
        run, seeded = self._traced(sampler, end_token_id is not None, pure_generate)
        seed = sampler.get_config().get("seed") if seeded else None
        if seed is None:
            seed = random.randrange(2**31)
        end = 0 if end_token_id is None else int(end_token_id)
        result = run(token_ids, count, end, int(seed) % 2**31, int(start_token_id))
        return keras.tree.map_structure(np.asarray, result)


class CausalLM(_Generates, keras.Model):
    """A decoder-only language model; subclasses build the graph and the cached step.

    Attributes a subclass sets: `vocabulary_size`, `max_sequence_length`
    (None when unlimited, as for recurrent models).
    """

    max_sequence_length = None

    def call_with_cache(self, token_ids, cache, index):
        raise NotImplementedError

    def build_cache(self, token_ids, length):
        raise NotImplementedError

    def generate_ids(self, token_ids, max_new_tokens, sampler=None, end_token_id=None):
        """The graph-pure decoding loop: `(B, T)` right-padded prompts → `(B, T + max_new_tokens)`.

        `max_new_tokens` and `end_token_id` may be scalar tensors and the
        sampler's parameters tensors, so this traces inside a `tf.function`
        with unknown shapes (the exported `generate`/`sample` signatures).
        Nothing is written at positions ≥ `max_sequence_length`; callers
        check the context beforehand (`generate` raises, the signatures
        answer 400).
        """
        sampler = self._sampler(sampler)
        token_ids = ops.cast(token_ids, "int32")
        batch_size, width = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        total = width + max_new_tokens
        length = total if self.max_sequence_length is None else ops.minimum(total, self.max_sequence_length)
        buffer = ops.concatenate([token_ids, ops.zeros((batch_size, max_new_tokens), dtype="int32")], axis=1)
        buffer = buffer[:, :length]
        mask = ops.not_equal(buffer, 0)
        prompt_lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        cache, first_index = self.build_cache(token_ids, length)
        result = sampler(
            one_step_logits(self),
            buffer,
            cache,
            first_index,
            mask,
            end_token_id=end_token_id,
            lengths=prompt_lengths + max_new_tokens,
        )
        return _pad_to(result, total)

    def generate(self, token_ids, max_new_tokens, sampler=None, end_token_id=None):
        """Continue right-padded prompts `token_ids` `(B, T)` by `max_new_tokens` tokens.

        Args:
            token_ids: Int prompts, 0 = padding; every row needs ≥ 1 token.
            max_new_tokens: How many tokens each row gets.
            sampler: A `kerasnets.samplers.Sampler` or its name; default the
                one given to `compile(sampler=…)`, else greedy.
            end_token_id: Optional id that ends a row (kept; 0 after it).

        Returns:
            int32 NumPy ids `(B, T + max_new_tokens)`: each row's prompt, its
            new tokens right after it, then 0. A `BeamSampler(return_all_beams=True)`
            returns `(ids (B, W, T + max_new_tokens), scores (B, W))`.
        """
        count = check_max_new_tokens(max_new_tokens)
        token_ids = as_token_ids(token_ids)
        if self.max_sequence_length is not None and token_ids.shape[1] + count > self.max_sequence_length:
            raise ValueError(
                f"{token_ids.shape[1]} prompt positions + max_new_tokens={count} exceed the "
                f"max_sequence_length={self.max_sequence_length} of '{self.name}'."
            )
        if not np.all(np.count_nonzero(np.asarray(token_ids), axis=1)):
            raise ValueError("Every prompt needs at least one token (a row of padding has nothing to continue).")
        return self._run_generate(_generate_ids, token_ids, count, self._sampler(sampler), end_token_id)


def _generate_ids(model, token_ids, max_new_tokens, sampler, end_token_id, start_token_id=None):
    return model.generate_ids(token_ids, max_new_tokens, sampler, end_token_id)


def _pad_to(result, width):
    """Right-pads the id buffer(s) of a sampler's result with 0 up to `width` positions."""

    def pad(ids):
        missing = width - ops.shape(ids)[-1]
        zeros = ops.zeros(tuple(ops.shape(ids)[:-1]) + (missing,), dtype=ids.dtype)
        return ops.concatenate([ids, zeros], axis=-1)

    if isinstance(result, (tuple, list)):
        return (pad(result[0]), *result[1:])
    return pad(result)
