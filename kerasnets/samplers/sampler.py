"""The decoding loop every sampler shares, and what a sampler is asked for."""

import keras
import numpy as np
from keras import ops

from kerasnets.ops import update_along_axis


def negative_infinity_like(x):
    return ops.full_like(x, float("-inf"))


def forbid_padding(logits, padding_id=0):
    """Logits `(B, V)` with the padding id's column set to -∞: it is never generated.
    A model without a padding id (`padding_id=None`, e.g. GPT-2's vocabulary) keeps every column."""
    if padding_id is None:
        return logits
    is_padding = ops.expand_dims(ops.arange(ops.shape(logits)[-1]) == padding_id, 0)
    return ops.where(is_padding, negative_infinity_like(logits), logits)


def fill_id(padding_id, end_token_id):
    """What finished rows are filled with: the padding id, else the end token, else 0."""
    if padding_id is not None:
        return padding_id
    return 0 if end_token_id is None else end_token_id


def per_row(value, dtype):
    """A scalar stays a scalar; one value per row `(B,)` becomes `(B, 1)` to broadcast over the vocabulary."""
    value = ops.cast(value, dtype)
    return ops.expand_dims(value, -1) if len(value.shape) == 1 else value


def row_lengths(token_ids, lengths=None):
    """`lengths` as int32 `(B,)`, by default the whole buffer `(B, L)` for every row."""
    if lengths is None:
        return ops.full((ops.shape(token_ids)[0],), ops.shape(token_ids)[1], dtype="int32")
    return ops.cast(lengths, "int32")


def any_row_left(i, length, finished, lengths):
    """Whether the loop goes on at position `i`: inside the buffer, with a row neither finished nor at its length."""
    still_going = ops.logical_not(ops.all(ops.logical_or(finished, i >= lengths)))
    return ops.logical_and(i < length, still_going)


class Sampler:
    """Chooses one token per step inside a graph-pure loop over positions.

    A call fills a right-padded buffer of token ids from position `index`:

        for i in index … L-1 (while some row is unfinished):
            logits, cache = next(token_ids, cache, i)      # the next-token logits at i, (B, V)
            token_ids[:, i] = prompt token where mask[:, i], else choose(logits, i)

    A row is finished after it generates `end_token_id`, or at position
    `lengths[row]`; finished rows get the padding id (0; with `padding_id=None`,
    the end token, else 0). The loop is `keras.ops.while_loop`
    (no XLA-only op), so it traces inside a `tf.function` with unknown
    shapes and exports as a served signature.

    Subclasses implement `choose(logits, index) -> (B,) int32` on float32
    logits whose padding column is already -∞ (when there is a padding id), and `get_config`.

    Args of a call:
        next: `next(token_ids, cache, index) -> (logits (B, V), cache)`.
        token_ids: `(B, L)` int32 buffer: the prompts, then zeros.
        cache: Any structure of batch-major tensors `next` carries along.
        index: The first position to fill (a scalar).
        mask: `(B, L)` bool, True where the buffer holds a prompt token to keep.
        end_token_id: Optional id that finishes a row (it is kept).
        lengths: Optional `(B,)` int: positions ≥ `lengths[row]` are not generated.
        padding_id: The id that is never generated and fills finished rows;
            None: the vocabulary has no padding id (every id may be generated).
    """

    def __call__(self, next, token_ids, cache, index, mask, end_token_id=None, lengths=None, padding_id=0):
        token_ids = ops.cast(token_ids, "int32")
        batch_size, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        lengths = row_lengths(token_ids, lengths)
        finished = ops.zeros((batch_size,), dtype="bool")
        fill = fill_id(padding_id, end_token_id)

        def unfinished(i, ids, cache, finished):
            return any_row_left(i, length, finished, lengths)

        def step(i, ids, cache, finished):
            logits, cache = next(ids, cache, i)
            chosen = ops.cast(self.choose(forbid_padding(ops.cast(logits, "float32"), padding_id), i), "int32")
            in_prompt = ops.take(mask, i, axis=1)
            done = ops.logical_or(finished, i >= lengths)
            column = ops.where(in_prompt, ops.take(ids, i, axis=1), ops.where(done, fill, chosen))
            ids = update_along_axis(ids, ops.expand_dims(column, 1), i, axis=1)
            if end_token_id is not None:
                generated = ops.logical_not(ops.logical_or(in_prompt, done))
                finished = ops.logical_or(finished, ops.logical_and(generated, column == end_token_id))
            return i + 1, ids, cache, finished

        start = ops.cast(index, "int32")
        _, token_ids, _, _ = ops.while_loop(unfinished, step, (start, token_ids, cache, finished))
        return token_ids

    def choose(self, logits, index):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


def check_positive(name, value, *, integer=False, at_most=None):
    """Checks Python numbers (or a NumPy array / list of them, one per row) up front;
    tensors (a served request's values) pass through and are checked by the signature."""
    if keras.ops.is_tensor(value):
        return value
    values = np.asarray(value)
    if values.dtype.kind not in "iuf" or (integer and np.any(values != np.round(values))):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind} (or one per row), got {value!r}.")
    if not np.all(values > 0) or (at_most is not None and np.any(values > at_most)):
        bound = f" and at most {at_most}" if at_most is not None else ""
        raise ValueError(f"{name} must be > 0{bound}, got {value!r}.")
    if values.ndim:
        return values.astype("int32" if integer else "float32")
    return int(value) if integer else float(value)


def plain(value):
    """A config value JSON can store: per-row NumPy parameters as lists."""
    return value.tolist() if isinstance(value, np.ndarray) else value
