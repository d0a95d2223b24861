"""Serving signatures: the functions a SavedModel offers TensorFlow Serving.

A signature maps named input tensors to named output tensors. TF Serving's
REST API addresses them by `signature_name` (default `serving_default`) and
uses the names as JSON keys, so every function here takes a dict of named
inputs and returns a dict of named outputs. Two traps are handled here:

* a plain tensor returned from a signature is exported as `output_0`, so the
  outputs are always a dict keyed by the model's output names;
* an output left in bfloat16/float16 (mixed precision) cannot be written as
  REST JSON, so floating outputs are cast to float32.

String and lookup-table ops (tokenizers) run here in plain graph mode, never
under `jit_compile`: TF Serving runs signatures without XLA.
"""

import tensorflow as tf


def input_specs(model):
    """`{input name: tf.TensorSpec}` for a Functional model: batch dimension None."""
    specs = {}
    for tensor in model.inputs:
        name = tensor.name.split(":")[0]
        specs[name] = tf.TensorSpec(tuple(tensor.shape), tf.as_dtype(tensor.dtype), name=name)
    return specs


def call_model(model, inputs):
    """Calls `model` on a `{name: tensor}` dict, in the input structure it was built with."""
    if isinstance(model.input, dict):
        return model(inputs, training=False)
    if isinstance(model.input, (list, tuple)):
        return model([inputs[name] for name in input_specs(model)], training=False)
    (tensor,) = inputs.values()
    return model(tensor, training=False)


def output_names(model):
    """The names of the model's outputs (a Sequential model's: its last layer's)."""
    return list(getattr(model, "output_names", None) or [model.layers[-1].name])


def named_outputs(model, outputs):
    """The model's outputs as a `{name: float32-or-integer tensor}` dict."""
    if isinstance(outputs, dict):
        named = dict(outputs)
    elif isinstance(outputs, (list, tuple)):
        named = dict(zip(output_names(model), outputs))
    else:
        named = {output_names(model)[0]: outputs}
    return {
        name: tf.cast(value, tf.float32) if value.dtype.is_floating else value
        for name, value in named.items()
    }


def classification_outputs(probabilities, class_names=None):
    """`class_id`, `score` (and `label` when names are known) from a probability tensor.

    `(B, C)` softmax: class_id = argmax_c p_c, score = max_c p_c.
    `(B, 1)` sigmoid: class_id = [p ≥ 0.5], score = the probability of that class.
    """
    if probabilities.shape[-1] == 1:
        positive = probabilities[:, 0]
        class_id = tf.cast(positive >= 0.5, tf.int64)
        score = tf.where(class_id == 1, positive, 1.0 - positive)
    else:
        class_id = tf.argmax(probabilities, axis=-1)
        score = tf.reduce_max(probabilities, axis=-1)
    outputs = {"class_id": class_id, "score": score}
    if class_names is not None:
        outputs["label"] = tf.gather(tf.constant(list(class_names), tf.string), class_id)
    return outputs


def fit_length(token_ids, sequence_length=None, minimum_length=1, truncation_side="right"):
    """Right-pads with 0 and/or truncates `(B, T)` ids to exactly `sequence_length`.

    Without a `sequence_length` the batch is only padded up to `minimum_length`
    (e.g. the widest convolution of a text CNN). `truncation_side="left"` keeps
    each row's last `sequence_length` tokens (its non-zero ids), as the
    training pipeline's `truncation_side` does.
    """
    token_ids = tf.cast(token_ids, tf.int32)
    if truncation_side == "left" and sequence_length is not None:
        lengths = tf.reduce_sum(tf.cast(token_ids != 0, tf.int32), axis=1)
        kept = tf.RaggedTensor.from_tensor(token_ids, lengths=lengths)[:, -sequence_length:]
        return kept.to_tensor(default_value=0, shape=[None, sequence_length])
    current = tf.shape(token_ids)[1]
    target = sequence_length if sequence_length is not None else tf.maximum(current, minimum_length)
    token_ids = token_ids[:, :target]
    padding = target - tf.shape(token_ids)[1]
    return tf.pad(token_ids, [[0, 0], [0, padding]])


def token_inputs(model, token_ids):
    """The model's inputs derived from token ids alone (padding mask, segment 0)."""
    names = set(input_specs(model))
    inputs = {"token_ids": token_ids}
    if "padding_mask" in names:
        inputs["padding_mask"] = tf.cast(token_ids != 0, tf.int32)
    if "segment_ids" in names:
        inputs["segment_ids"] = tf.zeros_like(token_ids)
    unknown = names - set(inputs)
    if unknown:
        raise ValueError(
            f"Cannot feed inputs {sorted(unknown)} of model '{model.name}' from text alone."
        )
    return inputs


def minimum_text_length(model):
    """The shortest sequence the model accepts: the widest Conv1D kernel, else 1."""
    widths = [
        layer.kernel_size[0]
        for layer in model._flatten_layers(include_self=False)
        if layer.__class__.__name__ == "Conv1D"
    ]
    return max(widths, default=1)
