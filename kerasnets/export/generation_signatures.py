"""Generation signatures: the whole decoding loop inside the served graph.

    exported = export_model(gpt_model, "gpt", generation={"tokenizer": char_tokenizer})
    # POST /v1/models/gpt:predict
    # {"signature_name": "generate", "instances": [{"prompt": "ROMEO:", "max_new_tokens": 40}]}
    # -> {"predictions": [{"generated_text": "...", "text": "ROMEO:...", "generated_token_ids": [...]}]}

Three signatures per generative model (a `CausalLM` — `gpt`,
`rnn_language_model` — or a `Seq2SeqLM` — `transformer`, `seq2seq`), each the
model's own `generate_ids` loop with a sampler from `kerasnets.samplers`
(key/value caches for the Transformer decoders, carried states for the RNNs):

* `generate` — greedy decoding, `y_t = argmax_v p(v | y_<t, x)`.
* `sample` — top-k / temperature sampling, `y_t ~ softmax(top_k(l_t) / T)`,
  reproducible with a seed (the same seed gives the same text).
* `beam_search` — the most probable continuation found by a beam search of
  width `num_beams` (4 by default; `beam_search={"num_beams": W}` sets it).

Inputs (one value per row, so the row format `{"instances": [...]}` and the
columnar format `{"inputs": {...}}` both work):

    prompt  string (B,)   decoder-only models (`gpt`, `rnn_language_model`)
    source  string (B,)   encoder–decoder models (`transformer`, `seq2seq`)
    token_ids int32 (B, T)   instead of text when no tokenizer was given
    max_new_tokens int32 (B,)    how many tokens to add to each row
    temperature float32 (B,), top_k int32 (B,) (≤ 0: all), seed int32 (B,)   `sample` only

Limits (each an INVALID_ARGUMENT error, HTTP 400, checked before any
decoding starts, so a request's work is bounded by them):

* `1 ≤ max_new_tokens ≤ max_generation_length`, an export-time bound
  (`add_generation_signatures(max_generation_length=…)`); by default the
  decoder's context (`max_sequence_length`) or, for recurrent decoders without
  one (`rnn_language_model`, `seq2seq`), `DEFAULT_MAX_GENERATION_LENGTH` = 1024;
* a GPT prompt plus `max_new_tokens` must fit the model's context, checked as
  `max_new_tokens ≤ context − prompt length` so no sum can overflow int32;
* each `prompt`/`source` string is at most `max_text_bytes` UTF-8 bytes
  (`DEFAULT_MAX_TEXT_BYTES` = 100,000), checked before it is tokenized;
* an empty prompt/source or a temperature ≤ 0.

A Transformer source longer than its encoder's context is cut to it.

Outputs: `generated_token_ids` int32 `(B, N)`, the new tokens of each row
(N = the largest `max_new_tokens` of the request; padding after a row's own
count or its end token: 0, or for a vocabulary without a padding id such as
GPT-2's, the end token), `generated_lengths` int32 `(B,)`, how many of them
the row got (its end token included); with a tokenizer also `generated_text`
(B,) — the new tokens as text, the end token left out — and, for decoder-only
models, `text` (B,), prompt and continuation together.

Tokenizers (string → ids lookup tables) run in plain graph mode; nothing here
is `jit_compile`d, since TF Serving runs signatures without XLA.
"""

import tensorflow as tf

from kerasnets import samplers
from kerasnets.models.causal_lm import CausalLM
from kerasnets.models.seq2seq_lm import Seq2SeqLM

DEFAULT_NUM_BEAMS = 4
# Decoders without a context (RNNs) stop here unless the export says otherwise.
DEFAULT_MAX_GENERATION_LENGTH = 1024
# Longest raw-text input per row: tokenizing costs memory in proportion to it.
DEFAULT_MAX_TEXT_BYTES = 100_000


def _row_spec(name, dtype):
    return tf.TensorSpec([None], dtype, name=name)


def _special_id(tokenizer, token):
    """The id of special `token` in `tokenizer`, or None when it has none."""
    return getattr(tokenizer, "special_token_ids", {}).get(token)


def _check_lengths(lengths, what):
    """Every row needs at least one token to condition on."""
    check = tf.debugging.assert_positive(lengths, message=f"every {what} must contain at least one known token")
    with tf.control_dependencies([check]):
        return tf.identity(lengths)


def checked_texts(texts, max_text_bytes, name):
    """`texts` `(B,)`, after asserting every string has at most `max_text_bytes` bytes."""
    if max_text_bytes is None:
        return texts
    check = tf.debugging.assert_less_equal(
        tf.strings.length(texts),
        tf.constant(max_text_bytes, tf.int32),
        message=f"every {name} must be at most {max_text_bytes} bytes long (max_text_bytes, set at export)",
    )
    with tf.control_dependencies([check]):
        return tf.identity(texts)


def _tokenized(tokenizer, texts, padding_id):
    """Strings `(B,)` → `(ids (B, T) padded with padding_id, lengths (B,))`."""
    ragged = tokenizer.tokenize_ragged(texts)
    ids = tf.cast(ragged.to_tensor(default_value=tf.cast(padding_id, ragged.dtype)), tf.int32)
    return ids, tf.cast(ragged.row_lengths(), tf.int32)


def _continuations(full_ids, prompt_lengths, count):
    """The `count` positions after each row's prompt in `(B, T + count)` ids."""
    positions = prompt_lengths[:, tf.newaxis] + tf.range(count)[tf.newaxis, :]
    return tf.gather(full_ids, positions, batch_dims=1)


def _generated_lengths(new_ids, max_new_tokens, end_token_id):
    """How many of each row's new tokens it really got: its own `max_new_tokens`,
    cut after its first end token (kept)."""
    count = tf.minimum(max_new_tokens, tf.shape(new_ids)[1])
    if end_token_id is None:
        return count
    positions = tf.range(tf.shape(new_ids)[1])[tf.newaxis, :]
    is_end = tf.logical_and(new_ids == end_token_id, positions < count[:, tf.newaxis])
    first_end = tf.reduce_min(tf.where(is_end, positions, tf.shape(new_ids)[1]), axis=1)
    return tf.minimum(count, first_end + 1)


def add_generation_signatures(
    archive,
    model,
    *,
    tokenizer=None,
    source_tokenizer=None,
    target_tokenizer=None,
    start_token_id=None,
    end_token_id=None,
    num_beams=DEFAULT_NUM_BEAMS,
    max_generation_length=None,
    max_text_bytes=DEFAULT_MAX_TEXT_BYTES,
):
    """Adds `generate` (greedy), `sample` (top-k/temperature) and `beam_search` to `archive`.

    Args:
        archive: A `keras.export.ExportArchive` that already tracks `model`.
        model: A `CausalLM` (`gpt`, `rnn_language_model`) or a `Seq2SeqLM`
            (`transformer`, `seq2seq`).
        tokenizer: Decoder-only models: a tokenizer (e.g.
            `kerasnets.data.CharacterTokenizer`) with `tokenize` and
            `detokenize`; the signatures then take `prompt` strings.
        source_tokenizer, target_tokenizer: Encoder–decoder models: the
            tokenizers of the source and target languages (`tokenizer` sets
            both); the signatures then take `source` strings.
        start_token_id: The decoder's first input (encoder–decoder models);
            default: the target tokenizer's "[start]".
        end_token_id: Stops a row; default: the target tokenizer's "[end]"
            (decoder-only models: the tokenizer's `end_token_id` when it has
            one, e.g. GPT-2's "<|endoftext|>", else none).
        num_beams: Width of the `beam_search` signature's beam.
        max_generation_length: The largest `max_new_tokens` a request may ask
            for (a larger one is INVALID_ARGUMENT); default the decoder's
            context, or `DEFAULT_MAX_GENERATION_LENGTH` without one. Bounds
            every decoding loop, whatever the request.
        max_text_bytes: The longest `prompt`/`source` string, in UTF-8 bytes
            (None: no bound).

    Returns:
        The names of the signatures added: `["generate", "sample", "beam_search"]`.
    """
    if not isinstance(model, (CausalLM, Seq2SeqLM)):
        raise ValueError(
            f"Model '{model.name}' ({type(model).__name__}) cannot generate: generation signatures need a "
            "CausalLM (gpt, rnn_language_model) or a Seq2SeqLM (transformer, seq2seq)."
        )
    if not isinstance(num_beams, int) or num_beams < 1:
        raise ValueError(f"num_beams must be a positive integer, got {num_beams!r}.")
    for option, value in (("max_generation_length", max_generation_length), ("max_text_bytes", max_text_bytes)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31):
            raise ValueError(f"{option} must be a positive int32 integer or None, got {value!r}.")
    decoder_only = isinstance(model, CausalLM)
    kind = type(model).__name__
    if decoder_only:
        if source_tokenizer is not None or target_tokenizer is not None:
            raise ValueError(f"A {kind} model takes one `tokenizer`, not source/target tokenizers.")
        if start_token_id is not None:
            raise ValueError(f"start_token_id is for encoder-decoder models; '{model.name}' is a {kind} model.")
        input_tokenizer = output_tokenizer = tokenizer
        if end_token_id is None:  # e.g. GPT-2's "<|endoftext|>"
            end_token_id = getattr(tokenizer, "end_token_id", None)
            if end_token_id is None:
                end_token_id = _special_id(tokenizer, "<|endoftext|>")
    else:
        input_tokenizer = source_tokenizer or tokenizer
        output_tokenizer = target_tokenizer or tokenizer
        if (input_tokenizer is None) != (output_tokenizer is None):
            raise ValueError("Pass both a source and a target tokenizer, or neither.")
        if start_token_id is None:
            start_token_id = _special_id(output_tokenizer, "[start]")
        if end_token_id is None:
            end_token_id = _special_id(output_tokenizer, "[end]")
        if start_token_id is None:
            raise ValueError(f"A {kind} model decodes from a start token: pass start_token_id.")
    for layer in {id(t): t for t in (input_tokenizer, output_tokenizer) if t is not None}.values():
        archive.track(layer)

    text_in = input_tokenizer is not None
    text_name = "prompt" if decoder_only else "source"
    context = model.max_sequence_length
    source_limit = None if decoder_only else model.source_max_sequence_length
    if max_generation_length is None:
        max_generation_length = context if context is not None else DEFAULT_MAX_GENERATION_LENGTH
    elif context is not None and not decoder_only:
        max_generation_length = min(max_generation_length, context)

    # The id prompts are padded with: the model's padding id; a vocabulary without one (GPT-2)
    # pads with any id, since the padding mask, not the id, says where a prompt ends.
    padding_id = samplers.sampler.fill_id(getattr(model, "padding_token_id", 0), end_token_id)

    def checked_max_new_tokens(max_new_tokens):
        """`max_new_tokens`, after asserting `1 ≤ max_new_tokens ≤ max_generation_length`."""
        checks = [
            tf.debugging.assert_positive(max_new_tokens, message="max_new_tokens must be at least 1"),
            tf.debugging.assert_less_equal(
                max_new_tokens,
                tf.constant(max_generation_length, tf.int32),
                message=f"max_new_tokens must be at most {max_generation_length} "
                "(max_generation_length, set at export)",
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(max_new_tokens)

    def check_context(prompt_lengths, max_new_tokens):
        """Positions past the model's context cannot be generated: say so instead of stopping short.

        Compared as `max_new_tokens ≤ context − prompt_length`: both sides stay in
        int32 whatever the request, where `prompt_length + max_new_tokens` can wrap.
        """
        if context is None or not decoder_only:  # a decoder's context bounds max_generation_length
            return []
        message = f"prompt length + max_new_tokens must be at most {context} (the model context)"
        return [tf.debugging.assert_less_equal(max_new_tokens, context - prompt_lengths, message=message)]

    def run(inputs, sampler):
        """`sampler`: "greedy", "top_k" (parameters from the request) or "beam"."""
        # The request's own bounds come first: nothing is tokenized or decoded before they hold.
        max_new_tokens = checked_max_new_tokens(inputs["max_new_tokens"])
        if text_in:
            with tf.control_dependencies([max_new_tokens]):
                texts = checked_texts(inputs[text_name], max_text_bytes, text_name)
            token_ids, lengths = _tokenized(input_tokenizer, texts, padding_id)
        else:
            token_ids = tf.cast(inputs["token_ids"], tf.int32)
            lengths = tf.cast(tf.math.count_nonzero(token_ids, axis=1), tf.int32)
            if decoder_only and getattr(model, "padding_token_id", 0) is None:  # every position is a token
                lengths = tf.fill(tf.shape(token_ids)[:1], tf.shape(token_ids)[1])
        if source_limit is not None:
            token_ids = token_ids[:, :source_limit]
            lengths = tf.minimum(lengths, source_limit)
        lengths = _check_lengths(lengths, text_name if text_in else "row of token_ids")
        # The prompt waits for both prompt checks (lengths, context): else the prefill can run
        # first and answer with its own error (a position slice past the table) instead of theirs.
        with tf.control_dependencies([lengths, *check_context(lengths, max_new_tokens)]):
            max_new_tokens = tf.identity(max_new_tokens)
            token_ids = tf.identity(token_ids)
            lengths = tf.identity(lengths)
        count = tf.reduce_max(tf.concat([max_new_tokens, [0]], axis=0))
        if sampler == "top_k":
            check = tf.debugging.assert_positive(inputs["temperature"], message="temperature must be > 0")
            with tf.control_dependencies([check]):
                temperature = tf.identity(inputs["temperature"])
            chooser = samplers.TopKSampler(k=inputs["top_k"], temperature=temperature, seed=inputs["seed"])
        elif sampler == "beam":
            chooser = samplers.BeamSampler(num_beams=num_beams)
        else:
            chooser = samplers.GreedySampler()
        if decoder_only:
            padding_mask = tf.sequence_mask(lengths, tf.shape(token_ids)[1])
            ids = model.generate_ids(token_ids, count, chooser, end_token_id, padding_mask=padding_mask)
            new_ids = _continuations(ids, lengths, count)
        else:
            new_ids = model.generate_ids(token_ids, count, chooser, end_token_id, start_token_id)
        generated_lengths = _generated_lengths(new_ids, max_new_tokens, end_token_id)
        keep = tf.sequence_mask(generated_lengths, tf.shape(new_ids)[1])
        new_ids = tf.where(keep, new_ids, tf.fill(tf.shape(new_ids), padding_id))
        outputs = {"generated_token_ids": new_ids, "generated_lengths": generated_lengths}
        if output_tokenizer is not None:
            shown_lengths = generated_lengths
            if end_token_id is not None:  # the end token is not part of the text
                ends = tf.gather(new_ids, tf.maximum(generated_lengths - 1, 0), batch_dims=1) == end_token_id
                shown_lengths -= tf.cast(tf.logical_and(ends, generated_lengths > 0), tf.int32)
            shown = tf.RaggedTensor.from_tensor(new_ids, lengths=shown_lengths)
            outputs["generated_text"] = output_tokenizer.detokenize(shown)
            if decoder_only:
                prompt = tf.RaggedTensor.from_tensor(token_ids, lengths=lengths)
                outputs["text"] = output_tokenizer.detokenize(tf.concat([prompt, shown], axis=1))
        return outputs

    if text_in:
        spec = {text_name: _row_spec(text_name, tf.string)}
    else:
        spec = {"token_ids": tf.TensorSpec([None, None], tf.int32, name="token_ids")}
    spec["max_new_tokens"] = _row_spec("max_new_tokens", tf.int32)
    sample_spec = dict(
        spec,
        temperature=_row_spec("temperature", tf.float32),
        top_k=_row_spec("top_k", tf.int32),
        seed=_row_spec("seed", tf.int32),
    )

    # The three are the same loop with a different sampler.
    archive.add_endpoint("generate", tf.function(lambda inputs: run(inputs, "greedy"), input_signature=[spec]))
    archive.add_endpoint("sample", tf.function(lambda inputs: run(inputs, "top_k"), input_signature=[sample_spec]))
    archive.add_endpoint("beam_search", tf.function(lambda inputs: run(inputs, "beam"), input_signature=[spec]))
    return ["generate", "sample", "beam_search"]
