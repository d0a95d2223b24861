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
from kerasnets.samplers.sampler import fill_id


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
                    tf.TensorSpec([None, None], tf.bool),
                ]
            )
            def run(token_ids, max_new_tokens, end_token_id, seed, start_token_id, padding_mask):
                step_sampler = sampler_class.from_config({**config, "seed": seed} if seeded else config)
                end = end_token_id if has_end_token else None
                return pure_generate(
                    model_ref(), token_ids, max_new_tokens, step_sampler, end, start_token_id, padding_mask
                )

            cache[key] = run
        return cache[key], seeded

    def _run_generate(
        self, pure_generate, token_ids, count, sampler, end_token_id, start_token_id=0, padding_mask=None
    ):
        if padding_mask is None:
            padding_mask = ops.not_equal(token_ids, 0)
        if keras.backend.backend() != "tensorflow":
            return pure_generate(self, token_ids, count, sampler, end_token_id, start_token_id, padding_mask)
        run, seeded = self._traced(sampler, end_token_id is not None, pure_generate)
        seed = sampler.get_config().get("seed") if seeded else None
        if seed is None:
            seed = random.randrange(2**31)
        end = 0 if end_token_id is None else int(end_token_id)
        result = run(token_ids, count, end, int(seed) % 2**31, int(start_token_id), ops.cast(padding_mask, "bool"))
        return keras.tree.map_structure(np.asarray, result)


class CausalLM(_Generates, keras.Model):
    """A decoder-only language model; subclasses build the graph and the cached step.

    Attributes a subclass sets: `vocabulary_size`, `max_sequence_length`
    (None when unlimited, as for recurrent models), `padding_token_id` (0;
    None for a vocabulary without a padding id, such as GPT-2's, where id 0 is
    a real token: prompts then say which positions are real with `padding_mask`).
    """

    max_sequence_length = None
    padding_token_id = 0

    def prompt_mask(self, token_ids, padding_mask=None):
        """Bool `(B, T)`, True at prompt tokens: `padding_mask` when given, else
        `token_ids != padding_token_id` (every position when there is no padding id)."""
        if padding_mask is not None:
            return ops.cast(padding_mask, "bool")
        if self.padding_token_id is None:
            return ops.ones(ops.shape(token_ids), dtype="bool")
        return ops.not_equal(token_ids, self.padding_token_id)

    def call_with_cache(self, token_ids, cache, index):
        raise NotImplementedError

    def build_cache(self, token_ids, length, padding_mask=None):
        raise NotImplementedError

    def generate_ids(self, token_ids, max_new_tokens, sampler=None, end_token_id=None, padding_mask=None):
        """The graph-pure decoding loop: `(B, T)` right-padded prompts → `(B, T + max_new_tokens)`.

        `max_new_tokens` and `end_token_id` may be scalar tensors and the
        sampler's parameters tensors, so this traces inside a `tf.function`
        with unknown shapes (the exported `generate`/`sample` signatures).
        Nothing is written at positions ≥ `max_sequence_length`; callers
        check the context beforehand (`generate` raises, the signatures
        answer 400). `padding_mask` `(B, T)` marks the prompt tokens (right-padded);
        default `prompt_mask(token_ids)`.
        """
        sampler = self._sampler(sampler)
        token_ids = ops.cast(token_ids, "int32")
        batch_size, width = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        total = width + max_new_tokens
        length = total if self.max_sequence_length is None else ops.minimum(total, self.max_sequence_length)
        buffer = ops.concatenate([token_ids, ops.zeros((batch_size, max_new_tokens), dtype="int32")], axis=1)
        buffer = buffer[:, :length]
        padding_mask = self.prompt_mask(token_ids, padding_mask)
        mask = ops.concatenate([padding_mask, ops.zeros((batch_size, max_new_tokens), dtype="bool")], axis=1)
        mask = mask[:, :length]
        prompt_lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=1)
        cache, first_index = self.build_cache(token_ids, length, padding_mask)
        result = sampler(
            one_step_logits(self),
            buffer,
            cache,
            first_index,
            mask,
            end_token_id=end_token_id,
            lengths=prompt_lengths + max_new_tokens,
            padding_id=self.padding_token_id,
        )
        return _pad_to(result, total, fill_id(self.padding_token_id, end_token_id))

    def generate(self, token_ids, max_new_tokens, sampler=None, end_token_id=None, padding_mask=None):
        """Continue right-padded prompts `token_ids` `(B, T)` by `max_new_tokens` tokens.

        Args:
            token_ids: Int prompts, right-padded (with `padding_token_id`, 0
                unless the model has none); every row needs ≥ 1 token.
            max_new_tokens: How many tokens each row gets.
            sampler: A `kerasnets.samplers.Sampler` or its name; default the
                one given to `compile(sampler=…)`, else greedy.
            end_token_id: Optional id that ends a row (kept; padding after it).
            padding_mask: Optional `(B, T)` bool/int, 1 at prompt tokens (a
                prefix of each row); needed for batches of unequal prompts when
                the model has no padding id.

        Returns:
            int32 NumPy ids `(B, T + max_new_tokens)`: each row's prompt, its
            new tokens right after it, then padding (0; with no padding id, the
            end token, else 0). A `BeamSampler(return_all_beams=True)`
            returns `(ids (B, W, T + max_new_tokens), scores (B, W))`.
        """
        count = check_max_new_tokens(max_new_tokens)
        token_ids = as_token_ids(token_ids)
        if self.max_sequence_length is not None and token_ids.shape[1] + count > self.max_sequence_length:
            raise ValueError(
                f"{token_ids.shape[1]} prompt positions + max_new_tokens={count} exceed the "
                f"max_sequence_length={self.max_sequence_length} of '{self.name}'."
            )
        mask = np.asarray(self.prompt_mask(token_ids, _as_padding_mask(padding_mask, token_ids)))
        if not np.all(mask[:, 0]):
            raise ValueError("Every prompt needs at least one token (a row of padding has nothing to continue).")
        if np.any(mask[:, 1:] & ~mask[:, :-1]):
            raise ValueError("padding_mask must mark a prefix of each row (prompts are right-padded).")
        return self._run_generate(
            _generate_ids, token_ids, count, self._sampler(sampler), end_token_id, padding_mask=mask
        )


def _as_padding_mask(padding_mask, token_ids):
    if padding_mask is None:
        return None
    padding_mask = np.asarray(padding_mask)
    if padding_mask.shape != tuple(token_ids.shape):
        raise ValueError(
            f"padding_mask must have the shape of token_ids {tuple(token_ids.shape)}, got {padding_mask.shape}."
        )
    return padding_mask.astype(bool)


def _generate_ids(model, token_ids, max_new_tokens, sampler, end_token_id, start_token_id=None, padding_mask=None):
    return model.generate_ids(token_ids, max_new_tokens, sampler, end_token_id, padding_mask)


def _pad_to(result, width, fill=0):
    """Right-pads the id buffer(s) of a sampler's result with `fill` up to `width` positions."""

    def pad(ids):
        missing = width - ops.shape(ids)[-1]
        filler = ops.full(tuple(ops.shape(ids)[:-1]) + (missing,), fill, dtype=ids.dtype)
        return ops.concatenate([ids, filler], axis=-1)

    if isinstance(result, (tuple, list)):
        return (pad(result[0]), *result[1:])
    return pad(result)
