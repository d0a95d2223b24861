"""Autoregressive generation for the four generative builders.

    from kerasnets.models.generation import generate

    model = kerasnets.models.gpt(...)                              # trained
    ids = generate(model, prompt_ids, max_new_tokens=64, sampler="top_k", top_k=10, temperature=0.8, seed=1)

    model = kerasnets.models.transformer(...)                      # or seq2seq(...)
    ids = generate(model, source_ids, max_new_tokens=40, start_token_id=BOS, end_token_id=EOS)

Every step feeds the token chosen last and computes one position, carrying
what the earlier positions left behind instead of re-running the sequence:

* `gpt` — the prompt is run once through every decoder block (prefill),
  filling a key/value cache `(B, 2, S_max, H, head_dim)` per block; each
  step then embeds one token at its position, attends over the cache and
  writes its own keys and values into it.
* `rnn_language_model` — the recurrent state (h, or h and c) of every
  layer is carried; each step is one cell step per layer, from position 0.
* `transformer` — the source is encoded once; each decoder block projects
  the encoder output into cross-attention keys and values once, and keeps a
  self-attention cache as GPT does.
* `seq2seq` — the source is encoded once; each step is one decoder cell
  step from the carried state (started from the encoder's final state),
  then attention over the encoder outputs with the source padding mask.

Inputs and outputs (token id 0 is padding everywhere):

* Decoder-only kinds (`gpt`, `rnn_language_model`): `token_ids` `(B, T)`
  holds prompts right-padded with 0 (rows may have different lengths; each
  needs at least one token, e.g. a start token). The result is `(B, T +
  max_new_tokens)` int32: each row's prompt followed by its own
  `max_new_tokens` new tokens, written right after that row's prompt end,
  then 0. As in KerasHub, the batch steps through positions together, from
  the shortest prompt's end, and a row keeps its prompt token wherever it
  has one; so a batch gives each row exactly what it would get alone.
* Encoder–decoder kinds (`transformer`, `seq2seq`): `token_ids` is the
  source `(B, S)`, right-padded with 0; decoding starts from
  `start_token_id`. The result is `(B, max_new_tokens)` int32: the new
  tokens only (not the start token), 0 after the end.
* With `end_token_id`, a row stops after producing it (the end token is
  kept) and is 0 from there on; once every row has stopped the loop ends
  early. A row's length is `count_nonzero(row)`, since 0 is never generated.

Limits: GPT and the Transformer decoder have `max_sequence_length`
positions. `generate` raises a ValueError when the prompt width `T` plus
`max_new_tokens` (GPT) or `max_new_tokens` (Transformer) exceeds it; the
pure functions below do the same when those are known when tracing, and
otherwise clamp: nothing is generated at positions ≥ `max_sequence_length`
(those stay 0). Prompts wider than `max_sequence_length` are an error
either way (when tracing if the width is known, else when running).

Choosing the next token from the logits `l` of the last position (the
padding id 0 is never chosen):

* `sampler="greedy"`: `argmax_v l_v`.
* `sampler="top_k"`: keep the `top_k` largest logits (`top_k` None or ≤ 0
  keeps all; logits tied with the k-th are kept too), then draw from
  `softmax(l / temperature)` by the Gumbel-max trick, `argmax_v (l_v /
  temperature + g_v)` with `g_v = -log(-log u_v)`. The uniforms `u` come
  from a counter-based hash of (seed, position, row, token id), so a seed
  always gives the same tokens, eagerly or in a graph, with no random
  state; `top_k=1` is greedy.

The pure functions `generate_gpt`, `generate_rnn_language_model`,
`generate_transformer` and `generate_seq2seq` use `keras.ops` only (the
loop is `keras.ops.while_loop`, no XLA-only op), so they trace inside a
`tf.function` with a fixed input signature, where `token_ids` may have
unknown dimensions and `max_new_tokens`, `temperature`, `top_k`, `seed`,
`start_token_id` and `end_token_id` may be scalar tensors; `sampler` and
whether `top_k`/`end_token_id` are given are Python choices fixed at
tracing. `generate` picks the function for the model, checks its
arguments and, on TensorFlow, runs it as a `tf.function` traced once per
model and sampler.
"""

import random
import weakref

import keras
import numpy as np
from keras import ops

from kerasnets.ops import update_along_axis

KINDS = ("gpt", "rnn_language_model", "transformer", "seq2seq")
ENCODER_DECODER_KINDS = ("transformer", "seq2seq")
SAMPLERS = ("greedy", "top_k")


# ---------------------------------------------------------------------------
# Choosing the next token
# ---------------------------------------------------------------------------


def _hash32(x):
    """A bijective mix of uint32 values (Wellons' "lowbias32"): every input bit
    flips about half of the output bits."""
    x = ops.bitwise_xor(x, ops.right_shift(x, 16))
    x = ops.multiply(x, ops.convert_to_tensor(0x7FEB352D, dtype="uint32"))
    x = ops.bitwise_xor(x, ops.right_shift(x, 15))
    x = ops.multiply(x, ops.convert_to_tensor(0x846CA68B, dtype="uint32"))
    return ops.bitwise_xor(x, ops.right_shift(x, 16))


def uniform_noise(seed, step, batch_size, vocabulary_size):
    """Uniforms in (0, 1), shape `(batch_size, vocabulary_size)`, a pure function of
    (seed, step, row, column): u = (hash(hash(hash(hash(seed) + step) + row) + column) >> 8 + ½) / 2²⁴."""

    def as_uint32(x):
        return ops.cast(ops.cast(x, "int32"), "uint32")

    key = _hash32(_hash32(as_uint32(seed)) + as_uint32(step))
    rows = _hash32(key + as_uint32(ops.arange(batch_size)))
    bits = _hash32(ops.expand_dims(rows, 1) + ops.expand_dims(as_uint32(ops.arange(vocabulary_size)), 0))
    top_24_bits = ops.cast(ops.right_shift(bits, 8), "int32")  # exact in float32
    return (ops.cast(top_24_bits, "float32") + 0.5) / float(2**24)


# A k known only at run time reads the k-th largest logit off `top_k` of this many
# ids when it can (for 50k ids about 20× faster than sorting the whole row).
_TOP_K_CAP = 128


def _top_k_threshold(logits, top_k):
    """The k-th largest logit of each row, `(B, 1)`, or None to keep every id
    (k ≤ 0 or k ≥ V). `top_k` may be a scalar tensor."""
    vocabulary_size = logits.shape[-1]
    static_k = _static_int(top_k)
    if static_k is not None:
        if 0 < static_k < (vocabulary_size or static_k + 1):
            return ops.top_k(logits, static_k, sorted=True)[0][:, -1:]
        return None
    k = ops.cast(top_k, "int32")
    per_row = len(k.shape) == 1  # one k per row
    if vocabulary_size is None:
        vocabulary_size = ops.shape(logits)[-1]
    k = ops.where(k <= 0, vocabulary_size, ops.minimum(k, vocabulary_size))

    def kth_largest(values):  # values sorted in descending order
        if per_row:
            return ops.take_along_axis(values, ops.reshape(k - 1, (-1, 1)), axis=-1)
        return ops.take(values, ops.reshape(k - 1, (1,)), axis=-1)

    def from_sort():
        return kth_largest(ops.flip(ops.sort(logits, axis=-1), axis=-1))

    if logits.shape[-1] is None:
        return from_sort()
    cap = min(_TOP_K_CAP, logits.shape[-1])
    return ops.cond(ops.max(k) <= cap, lambda: kth_largest(ops.top_k(logits, cap, sorted=True)[0]), from_sort)


def sample_next_token(logits, *, sampler="greedy", temperature=1.0, top_k=None, seed=0, step=0):
    """The next token id of every row, `(B,)` int32, from logits `(B, V)`.

    Greedy: `argmax_v l_v`. Top-k: `argmax_v (l'_v / temperature + g_v)`,
    where `l'` keeps the `top_k` largest logits (None or ≤ 0: all) and sets
    the rest to -∞, and `g_v = -log(-log u_v)` are Gumbel variables from
    `uniform_noise(seed, step, …)`: a draw from `softmax(l' / temperature)`
    (the Gumbel-max trick). The padding id 0 is never chosen. `temperature`,
    `top_k`, `seed` and `step` may be scalar tensors; `temperature`, `top_k`
    and `seed` may also be `(B,)` tensors, one value per row (as a served
    signature receives them).
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"Unknown sampler '{sampler}'. Valid samplers: {', '.join(SAMPLERS)}.")
    logits = ops.cast(logits, "float32")
    vocabulary = ops.arange(ops.shape(logits)[-1])
    negative_infinity = ops.full_like(logits, float("-inf"))
    logits = ops.where(ops.expand_dims(vocabulary == 0, 0), negative_infinity, logits)
    if sampler == "top_k":
        threshold = None if top_k is None else _top_k_threshold(logits, top_k)
        if threshold is not None:
            logits = ops.where(logits >= threshold, logits, negative_infinity)
        noise = uniform_noise(seed, step, ops.shape(logits)[0], ops.shape(logits)[-1])
        temperature = ops.cast(temperature, "float32")
        if len(temperature.shape) == 1:  # one temperature per row
            temperature = ops.expand_dims(temperature, -1)
        logits = logits / temperature - ops.log(-ops.log(noise))
    return ops.cast(ops.argmax(logits, axis=-1), "int32")


# ---------------------------------------------------------------------------
# The layers of each kind of model
# ---------------------------------------------------------------------------


def model_kind(model):
    """"gpt", "rnn_language_model", "transformer" or "seq2seq", from the layer
    names the builders give."""
    names = {layer.name for layer in model.layers}
    per_step_outputs = len(model.outputs) == 1 and len(model.outputs[0].shape) == 3  # not a classifier
    if "token_ids" in names and "decoder_block_0" in names:
        return "gpt"
    if "token_ids" in names and "token_embedding" in names and _recurrent_layers(model) and per_step_outputs:
        return "rnn_language_model"
    if "encoder_token_ids" in names and "decoder_block_0" in names:
        return "transformer"
    if "encoder_token_ids" in names and {"encoder", "decoder"} <= names:
        return "seq2seq"
    raise ValueError(
        f"Model '{model.name}' is not one of the generative builders' models ({', '.join(KINDS)}): "
        "generation finds their layers by the names the builders give them."
    )


def _numbered_layers(model, prefix):
    layers = []
    while any(layer.name == f"{prefix}{len(layers)}" for layer in model.layers):
        layers.append(model.get_layer(f"{prefix}{len(layers)}"))
    return layers


def _optional_layer(model, name):
    return next((layer for layer in model.layers if layer.name == name), None)


def transformer_embeddings(model):
    """`(source embedding, target embedding)` of a `transformer` model: the same
    layer when the builder tied them (`shared_embedding`)."""
    shared = _optional_layer(model, "shared_embedding")
    if shared is not None:
        return shared, shared
    return model.get_layer("encoder_embedding"), model.get_layer("decoder_embedding")


def _recurrent_layers(model):
    return [layer for layer in model.layers if hasattr(layer, "cell")]


def _dense_logits(dense, x):
    """The pre-softmax output of a Dense layer with a softmax activation."""
    dtype = dense.compute_dtype
    logits = ops.matmul(ops.cast(x, dtype), ops.cast(dense.kernel, dtype))
    if dense.use_bias:
        logits = logits + ops.cast(dense.bias, dtype)
    return logits


def _vocabulary_projection(model, embedding, untied_name):
    """hidden states (B, T, d) -> logits (B, T, V): the tied embedding, or the untied layer."""
    untied = _optional_layer(model, untied_name)
    if untied is not None:
        return untied
    return lambda x: embedding(x, reverse=True)


# ---------------------------------------------------------------------------
# The two decoding loops
# ---------------------------------------------------------------------------


def _write_column(ids, position, column):
    return update_along_axis(ids, ops.expand_dims(column, 1), position, axis=1)


def _continue_prompts(step, state, token_ids, max_new_tokens, first_position, max_length, choose, end_token_id):
    """The loop of the decoder-only kinds.

    At loop index i (from `first_position` on) the token at position i-1
    goes through `step(tokens, position, state) -> (logits, state)`;
    `choose(logits, i)` picks a token for position i, which a row keeps only
    past its own prompt, for `max_new_tokens` positions and not after its
    end token. Nothing is written at or beyond `max_length` (None: no limit).
    """
    batch_size = ops.shape(token_ids)[0]
    ids = ops.concatenate([token_ids, ops.zeros((batch_size, max_new_tokens), dtype="int32")], axis=1)
    prompt_lengths = ops.sum(ops.cast(ops.not_equal(token_ids, 0), "int32"), axis=1)
    row_ends = prompt_lengths + max_new_tokens
    end_position = ops.max(row_ends) if max_length is None else ops.minimum(ops.max(row_ends), max_length)
    finished = ops.zeros((batch_size,), dtype="bool")

    def keep_going(position, ids, state, finished):
        return ops.logical_and(position < end_position, ops.logical_not(ops.all(finished)))

    def advance(position, ids, state, finished):
        logits, state = step(ops.take(ids, position - 1, axis=1), position - 1, state)
        done = ops.logical_or(finished, position >= row_ends)
        chosen = ops.where(done, 0, choose(logits, position))
        in_prompt = position < prompt_lengths
        ids = _write_column(ids, position, ops.where(in_prompt, ops.take(ids, position, axis=1), chosen))
        if end_token_id is not None:
            ended = ops.logical_and(ops.logical_not(in_prompt), ops.equal(chosen, end_token_id))
            finished = ops.logical_or(finished, ended)
        return position + 1, ids, state, finished

    first_position = ops.cast(first_position, "int32")
    _, ids, _, _ = ops.while_loop(keep_going, advance, (first_position, ids, state, finished))
    return ids


def _decode(step, state, batch_size, max_new_tokens, num_steps, start_token_id, choose, end_token_id):
    """The loop of the encoder–decoder kinds: from `start_token_id`, feed each
    chosen token back for `num_steps` steps; returns `(B, max_new_tokens)`."""
    ids = ops.zeros((batch_size, max_new_tokens), dtype="int32")
    previous = ops.full((batch_size,), ops.cast(start_token_id, "int32"), dtype="int32")
    finished = ops.zeros((batch_size,), dtype="bool")

    def keep_going(position, previous, ids, state, finished):
        return ops.logical_and(position < num_steps, ops.logical_not(ops.all(finished)))

    def advance(position, previous, ids, state, finished):
        logits, state = step(previous, position, state)
        chosen = ops.where(finished, 0, choose(logits, position))
        ids = _write_column(ids, position, chosen)
        if end_token_id is not None:
            finished = ops.logical_or(finished, ops.equal(chosen, end_token_id))
        return position + 1, chosen, ids, state, finished

    position = ops.convert_to_tensor(0, dtype="int32")
    _, _, ids, _, _ = ops.while_loop(keep_going, advance, (position, previous, ids, state, finished))
    return ids


def _chooser(sampler, temperature, top_k, seed):
    if sampler not in SAMPLERS:
        raise ValueError(f"Unknown sampler '{sampler}'. Valid samplers: {', '.join(SAMPLERS)}.")

    def choose(logits, position):
        return sample_next_token(
            logits, sampler=sampler, temperature=temperature, top_k=top_k, seed=seed, step=position
        )

    return choose


def _static_int(value):
    """`value` as a Python int when it is one (or a NumPy integer), else None (a tensor)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return None


def _check_max_new_tokens(max_new_tokens):
    count = _static_int(max_new_tokens)
    if count is not None and count < 0:
        raise ValueError(f"max_new_tokens must be at least 0, got {count}.")


def _as_ids(token_ids):
    token_ids = ops.convert_to_tensor(token_ids)
    if len(token_ids.shape) != 2:
        raise ValueError(f"Token ids must have shape (batch, length), got {tuple(token_ids.shape)}.")
    return ops.cast(token_ids, "int32")


# ---------------------------------------------------------------------------
# The four kinds
# ---------------------------------------------------------------------------


def generate_gpt(
    model, token_ids, max_new_tokens, *, sampler="greedy", temperature=1.0, top_k=None, seed=0, end_token_id=None
):
    """Continue right-padded prompts `(B, T)` with a `gpt` model, using key/value caches.

    Prefill: the prompts go through every block once, written at index 0
    into an empty cache of `S_max = min(longest prompt + max_new_tokens,
    max_sequence_length)` positions. Loop, for i from the shortest prompt's
    length: the token at position i-1 is embedded at position i-1, every
    block attends over its cache (positions ≤ i-1) and writes its keys and
    values at i-1, and the logits of that position choose the token for
    position i.

    Returns `(B, T + max_new_tokens)` int32 ids (see the module docstring).
    """
    _check_max_new_tokens(max_new_tokens)
    token_ids = _as_ids(token_ids)
    embedding = model.get_layer("embeddings")
    blocks = _numbered_layers(model, "decoder_block_")
    final_norm = model.get_layer("final_layer_norm")
    to_logits = _vocabulary_projection(model, embedding, "lm_head")
    max_length = embedding.sequence_length
    prompt_width, count = token_ids.shape[1], _static_int(max_new_tokens)
    if prompt_width is not None and prompt_width > max_length:
        raise ValueError(f"The prompts have {prompt_width} positions; '{model.name}' takes at most {max_length}.")
    if prompt_width is not None and count is not None and prompt_width + count > max_length:
        raise ValueError(
            f"{prompt_width} prompt positions + max_new_tokens={count} exceed the "
            f"max_sequence_length={max_length} of '{model.name}'."
        )

    batch_size = ops.shape(token_ids)[0]
    prompt_lengths = ops.sum(ops.cast(ops.not_equal(token_ids, 0), "int32"), axis=1)
    cache_length = ops.minimum(ops.max(prompt_lengths) + max_new_tokens, max_length)
    x = embedding(token_ids)
    caches = []
    for block in blocks:
        x, cache = block(
            x,
            self_attention_cache=block.self_attention.empty_cache(batch_size, cache_length),
            self_attention_cache_update_index=0,
            training=False,
        )
        caches.append(cache)

    def step(tokens, position, caches):
        x = embedding(ops.expand_dims(tokens, 1), start_index=position)
        new_caches = []
        for block, cache in zip(blocks, caches):
            x, cache = block(
                x, self_attention_cache=cache, self_attention_cache_update_index=position, training=False
            )
            new_caches.append(cache)
        return to_logits(final_norm(x))[:, 0, :], new_caches

    first_position = ops.maximum(ops.min(prompt_lengths), 1)
    return _continue_prompts(
        step,
        caches,
        token_ids,
        max_new_tokens,
        first_position,
        max_length,
        _chooser(sampler, temperature, top_k, seed),
        end_token_id,
    )


def generate_rnn_language_model(
    model, token_ids, max_new_tokens, *, sampler="greedy", temperature=1.0, top_k=None, seed=0, end_token_id=None
):
    """Continue right-padded prompts `(B, T)` with an `rnn_language_model`.

    Each step runs one token through the embedding and one cell step of
    every recurrent layer, `(h_t, state_t) = cell(x_t, state_{t-1})` from
    zero states at position 0, carrying the states; the output layer's
    logits at position i-1 choose the token for position i.

    Returns `(B, T + max_new_tokens)` int32 ids (see the module docstring).
    """
    _check_max_new_tokens(max_new_tokens)
    token_ids = _as_ids(token_ids)
    embedding = model.get_layer("token_embedding")
    cells = [layer.cell for layer in _recurrent_layers(model)]
    head = model.get_layer("probabilities")
    batch_size = ops.shape(token_ids)[0]
    states = [list(cell.get_initial_state(batch_size)) for cell in cells]

    def step(tokens, position, states):
        x = embedding(tokens)
        new_states = []
        for cell, state in zip(cells, states):
            x, state = cell(x, state)
            new_states.append(list(state))
        return _dense_logits(head, x), new_states

    return _continue_prompts(
        step,
        states,
        token_ids,
        max_new_tokens,
        1,  # the state must see every prompt token
        None,
        _chooser(sampler, temperature, top_k, seed),
        end_token_id,
    )


def generate_transformer(
    model,
    token_ids,
    max_new_tokens,
    *,
    start_token_id,
    end_token_id=None,
    sampler="greedy",
    temperature=1.0,
    top_k=None,
    seed=0,
):
    """Translate source ids `(B, S)` with a `transformer`, using key/value caches.

    The source is encoded once (padding masked); every decoder block
    projects the encoder output into its cross-attention keys and values
    once. Step i embeds the previous token at position i, attends causally
    over the block's self-attention cache (writing position i) and over the
    cached encoder keys and values, and chooses the next token.

    Returns `(B, max_new_tokens)` int32 new tokens (see the module docstring).
    """
    _check_max_new_tokens(max_new_tokens)
    token_ids = _as_ids(token_ids)
    source_embedding, target_embedding = transformer_embeddings(model)
    encoder_blocks = _numbered_layers(model, "encoder_block_")
    decoder_blocks = _numbered_layers(model, "decoder_block_")
    to_logits = _vocabulary_projection(model, target_embedding, "output_projection")
    max_length = target_embedding.sequence_length
    count = _static_int(max_new_tokens)
    if count is not None and count > max_length:
        raise ValueError(
            f"max_new_tokens={count} exceeds the max_sequence_length={max_length} of '{model.name}''s decoder."
        )

    source_mask = ops.not_equal(token_ids, 0)
    x = source_embedding(token_ids)
    for block in encoder_blocks:
        x = block(x, padding_mask=source_mask, training=False)
    batch_size = ops.shape(token_ids)[0]
    num_steps = ops.minimum(max_new_tokens, max_length)
    self_caches = [block.self_attention.empty_cache(batch_size, num_steps) for block in decoder_blocks]
    cross_caches = [block.compute_cross_attention_cache(x) for block in decoder_blocks]

    def step(tokens, position, self_caches):
        y = target_embedding(ops.expand_dims(tokens, 1), start_index=position)
        new_caches = []
        for block, self_cache, cross_cache in zip(decoder_blocks, self_caches, cross_caches):
            y, self_cache, _ = block(
                y,
                encoder_padding_mask=source_mask,
                self_attention_cache=self_cache,
                self_attention_cache_update_index=position,
                cross_attention_cache=cross_cache,
                training=False,
            )
            new_caches.append(self_cache)
        return to_logits(y)[:, 0, :], new_caches

    return _decode(
        step,
        self_caches,
        batch_size,
        max_new_tokens,
        num_steps,
        start_token_id,
        _chooser(sampler, temperature, top_k, seed),
        end_token_id,
    )


def generate_seq2seq(
    model,
    token_ids,
    max_new_tokens,
    *,
    start_token_id,
    end_token_id=None,
    sampler="greedy",
    temperature=1.0,
    top_k=None,
    seed=0,
):
    """Translate source ids `(B, S)` with a `seq2seq` model.

    The encoder runs once over the source (padded steps skipped) and hands
    its final state to the decoder. Each step: `(h_t, state_t) =
    cell(E[y_{t-1}], state_{t-1})`; with attention, `c_t =
    Attention(h_t, encoder outputs)` over the real source positions and
    `h̃_t = tanh([c_t; h_t] W_c + b_c)`; the output layer's logits of `h̃_t`
    choose `y_t`.

    Returns `(B, max_new_tokens)` int32 new tokens (see the module docstring).
    """
    _check_max_new_tokens(max_new_tokens)
    token_ids = _as_ids(token_ids)
    source_embedding = model.get_layer("encoder_embedding")
    encoder = model.get_layer("encoder")
    target_embedding = model.get_layer("decoder_embedding")
    cell = model.get_layer("decoder").cell
    attention = _optional_layer(model, "attention")
    attentional_hidden = None if attention is None else model.get_layer("attentional_hidden")
    head = model.get_layer("probabilities")

    source_mask = ops.not_equal(token_ids, 0)
    encoder_outputs, *states = encoder(source_embedding(token_ids), mask=source_mask, training=False)

    def step(tokens, position, states):
        # `.call`: the Keras mask of `mask_zero` means nothing to a single cell step.
        h, states = cell(target_embedding.call(tokens), states)
        if attention is not None:
            context = attention(ops.expand_dims(h, 1), encoder_outputs, mask=source_mask)[:, 0, :]
            h = attentional_hidden(ops.concatenate([context, h], axis=-1))
        return _dense_logits(head, h), list(states)

    return _decode(
        step,
        list(states),
        ops.shape(token_ids)[0],
        max_new_tokens,
        max_new_tokens,
        start_token_id,
        _chooser(sampler, temperature, top_k, seed),
        end_token_id,
    )


GENERATORS = {
    "gpt": generate_gpt,
    "rnn_language_model": generate_rnn_language_model,
    "transformer": generate_transformer,
    "seq2seq": generate_seq2seq,
}


# ---------------------------------------------------------------------------
# The public entry point
# ---------------------------------------------------------------------------

# id(model) -> (weak reference to the model, {options: tf.function}); an entry
# goes when its model does, and the functions hold the model only weakly.
_TRACED = {}


def _traced_generator(model, kind, sampler, has_top_k, has_end_token):
    """`GENERATORS[kind]` as a `tf.function` over scalar tensors, traced once per options."""
    import tensorflow as tf

    key = id(model)
    entry = _TRACED.get(key)
    if entry is None or entry[0]() is not model:
        entry = _TRACED[key] = (weakref.ref(model, lambda _, key=key: _TRACED.pop(key, None)), {})
    options = (kind, sampler, has_top_k, has_end_token)
    if options not in entry[1]:
        model_ref = entry[0]
        scalar = lambda dtype: tf.TensorSpec([], dtype)  # noqa: E731

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None], tf.int32),
                scalar(tf.int32),  # max_new_tokens
                scalar(tf.float32),  # temperature
                scalar(tf.int32),  # top_k
                scalar(tf.int32),  # seed
                scalar(tf.int32),  # start_token_id
                scalar(tf.int32),  # end_token_id
            ]
        )
        def run(token_ids, max_new_tokens, temperature, top_k, seed, start_token_id, end_token_id):
            kwargs = dict(
                sampler=sampler,
                temperature=temperature,
                top_k=top_k if has_top_k else None,
                seed=seed,
                end_token_id=end_token_id if has_end_token else None,
            )
            if kind in ENCODER_DECODER_KINDS:
                kwargs["start_token_id"] = start_token_id
            return GENERATORS[kind](model_ref(), token_ids, max_new_tokens, **kwargs)

        entry[1][options] = run
    return entry[1][options]


def generate(
    model,
    token_ids,
    max_new_tokens,
    *,
    sampler="greedy",
    temperature=1.0,
    top_k=None,
    seed=None,
    start_token_id=None,
    end_token_id=None,
):
    """Generate with any of the four generative builders' models.

    Args:
        model: A model built by `gpt`, `rnn_language_model`, `transformer`
            or `seq2seq` (found by its layer names, see `model_kind`).
        token_ids: Int `(B, T)`, 0 = padding: right-padded prompts
            (decoder-only kinds) or source sequences (encoder–decoder kinds).
        max_new_tokens: How many tokens to add.
        sampler: "greedy" or "top_k".
        temperature: Softmax temperature of "top_k" (> 0).
        top_k: How many of the largest logits "top_k" samples from; None
            for all.
        seed: Integer seed of "top_k": the same seed gives the same tokens.
            None draws a fresh one.
        start_token_id: The decoder's first input (encoder–decoder kinds only,
            required there).
        end_token_id: Optional id that ends a row.

    Returns:
        int32 ids: `(B, T + max_new_tokens)`, prompts and continuations, for
        `gpt` and `rnn_language_model`; `(B, max_new_tokens)`, the new tokens,
        for `transformer` and `seq2seq`; 0 after a row's end.
    """
    kind = model_kind(model)
    if sampler not in SAMPLERS:
        raise ValueError(f"Unknown sampler '{sampler}'. Valid samplers: {', '.join(SAMPLERS)}.")
    count = _static_int(max_new_tokens)
    if count is None or count < 0:
        raise ValueError(f"max_new_tokens must be an integer ≥ 0, got {max_new_tokens!r}.")
    if kind in ENCODER_DECODER_KINDS and start_token_id is None:
        raise ValueError(f"A {kind} model decodes from a start token: pass start_token_id.")
    if kind not in ENCODER_DECODER_KINDS and start_token_id is not None:
        raise ValueError(f"start_token_id is for encoder-decoder models; '{model.name}' is a {kind} model.")
    if sampler == "top_k" and not float(temperature) > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}.")
    if seed is None:
        seed = random.randrange(2**31)
    token_ids = _as_ids(token_ids)
    if kind == "gpt":
        max_length = model.get_layer("embeddings").sequence_length
        if token_ids.shape[1] + count > max_length:
            raise ValueError(
                f"{token_ids.shape[1]} prompt positions + max_new_tokens={count} exceed the "
                f"max_sequence_length={max_length} of '{model.name}'."
            )
    if kind == "transformer":
        embedding = transformer_embeddings(model)[1]
        if count > embedding.sequence_length:
            raise ValueError(
                f"max_new_tokens={count} exceeds the max_sequence_length={embedding.sequence_length} "
                f"of '{model.name}''s decoder."
            )

    if keras.backend.backend() != "tensorflow":
        kwargs = dict(sampler=sampler, temperature=temperature, top_k=top_k, seed=seed, end_token_id=end_token_id)
        if kind in ENCODER_DECODER_KINDS:
            kwargs["start_token_id"] = start_token_id
        return GENERATORS[kind](model, token_ids, count, **kwargs)
    run = _traced_generator(model, kind, sampler, top_k is not None, end_token_id is not None)
    return run(
        token_ids,
        count,
        float(temperature),
        0 if top_k is None else int(top_k),
        int(seed) % 2**31,
        0 if start_token_id is None else int(start_token_id),
        0 if end_token_id is None else int(end_token_id),
    )
