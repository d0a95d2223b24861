"""Tensor helpers shared by the layers and the decoding loops, built on `keras.ops`.

* `masked_softmax`: the one softmax over allowed positions used by every
  attention layer (scaled dot-product, Bahdanau, Luong).
* `causal_mask`: which keys each query may see when decoding left to right.
* `update_along_axis`: write a slice into a tensor without XLA-only ops.
* `write_along_axis`: the same for a slice inside the tensor, in place on
  TensorFlow (a key/value cache's decoding step).
* `layer_norm`: a `LayerNormalization` layer's function in fewer ops.
"""

import keras
from keras import ops


def large_negative(dtype):
    """A score that `exp()` sends to 0 without overflowing `dtype` (float16 tops out at 65504)."""
    return -6.0e4 if keras.backend.standardize_dtype(dtype) == "float16" else -1.0e9


def masked_softmax(scores, mask=None, axis=-1):
    """Softmax of `scores` along `axis` over the positions where `mask` is True.

        weights_i = exp(s_i) / Σ_{j : m_j} exp(s_j)    where m_i is True
        weights_i = 0                                   where m_i is False

    A row in which every position is masked has nothing to attend to: its
    weights are all zeros (never NaN, never a uniform average). `mask` is
    boolean (or 0/1) and broadcastable to `scores`; None is a plain softmax.
    The output has the broadcast shape of `scores` and `mask`.

    Masked scores are replaced by a large negative number (see
    `large_negative`) before the softmax, so they get exactly zero weight
    whenever the row has an allowed position; the final `where` zeroes the
    rows that have none.

    Example:

    >>> scores = keras.ops.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    >>> mask = keras.ops.array([[True, True, False], [False, False, False]])
    >>> masked_softmax(scores, mask)      # [[0.269, 0.731, 0.], [0., 0., 0.]]
    """
    if mask is None:
        return ops.softmax(scores, axis=axis)
    mask = ops.cast(mask, "bool")
    scores = ops.where(mask, scores, ops.cast(large_negative(scores.dtype), scores.dtype))
    weights = ops.softmax(scores, axis=axis)
    return ops.where(mask, weights, ops.zeros_like(weights))


def causal_mask(query_length, key_length, query_start=0):
    """Boolean `(1, T_q, T_k)` mask: query i (at position `query_start + i`)
    may attend to keys j ≤ query_start + i.

        mask[0, i, j] = (query_start + i ≥ j)

    `query_start` may be a scalar tensor (the cache index while decoding).
    """
    rows = ops.expand_dims(ops.arange(query_length) + ops.cast(query_start, "int32"), -1)
    cols = ops.expand_dims(ops.arange(key_length), 0)
    return ops.expand_dims(rows >= cols, 0)


def update_along_axis(inputs, updates, start, axis):
    """`inputs` with `updates` written over positions `[start, start + U)` of `axis`.

        output[..., p, ...] = updates[..., p - start, ...]   if start ≤ p < start + U
                            = inputs[..., p, ...]            otherwise

    The same as `keras.ops.slice_update` along one axis, built from `take` and
    `where` only: on TensorFlow `slice_update` is the XLA op
    `XlaDynamicUpdateSlice`, which TensorFlow Serving cannot run without XLA.
    `start` may be a tensor. Costs one pass over `inputs`.
    """
    axis = axis % len(inputs.shape)
    length = ops.shape(inputs)[axis]
    offsets = ops.arange(length) - ops.cast(start, "int32")
    if updates.shape[axis] != 1:  # a single position just broadcasts
        update_length = ops.shape(updates)[axis]
        updates = ops.take(updates, ops.clip(offsets, 0, update_length - 1), axis=axis)
        inside = (offsets >= 0) & (offsets < update_length)
    else:
        inside = ops.equal(offsets, 0)
    inside = ops.reshape(inside, [-1 if i == axis else 1 for i in range(len(inputs.shape))])
    return ops.where(inside, ops.cast(updates, inputs.dtype), inputs)


def write_along_axis(inputs, updates, start, axis):
    """`inputs` with `updates` written over positions `[start, start + U)` of `axis`,
    a window that must lie inside `inputs` (unlike `update_along_axis`, nothing is dropped).

        output[..., p, ...] = updates[..., p - start, ...]   if start ≤ p < start + U
                            = inputs[..., p, ...]            otherwise

    On TensorFlow this is one `TensorStridedSliceUpdate`, a stock kernel (no
    XLA) that writes into the input's buffer when nothing else holds it, so a
    decoding step costs O(U) instead of a pass over a whole key/value cache;
    on other backends, and inside an XLA-compiled TensorFlow function (whose
    strided slices need constant bounds), `keras.ops.slice_update`. `start`
    may be a tensor.
    """
    rank = len(inputs.shape)
    axis = axis % rank
    if keras.backend.backend() != "tensorflow" or _in_xla_context():
        starts = [0] * rank
        starts[axis] = start
        return ops.slice_update(inputs, starts, ops.cast(updates, inputs.dtype))
    import tensorflow as tf

    start = tf.cast(start, "int32")
    width = updates.shape[axis]
    width = tf.shape(updates)[axis] if width is None else width
    at_axis = tf.one_hot(axis, rank, dtype="int32")
    begin = at_axis * start
    others = sum(1 << i for i in range(rank) if i != axis)  # whole extent on every other axis
    return tf.raw_ops.TensorStridedSliceUpdate(
        input=inputs,
        begin=begin,
        end=begin + at_axis * width,
        strides=tf.ones([rank], "int32"),
        value=tf.cast(updates, inputs.dtype),
        begin_mask=others,
        end_mask=others,
    )


def _in_xla_context():
    """Whether TensorFlow is tracing a function for XLA (`jit_compile=True`)."""
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util

    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def layer_norm(x, layer):
    """`layer(x)` for a `keras.layers.LayerNormalization` over the last axis, in fewer ops.

        y = (x - μ) · γ / √(σ² + ε) + β        μ, σ² over the last axis

    The operations of Keras's `ops.layer_normalization`, in its order (the
    same float32 results), without the reshapes of γ and β it adds: a
    decoding step normalises a dozen times, and there each op counts. Any
    other configuration (other axes, no γ or β, RMS scaling, another dtype)
    calls `layer`.
    """
    axes = [layer.axis] if isinstance(layer.axis, int) else list(layer.axis)
    rank = len(x.shape)
    plain = (
        [a % rank for a in axes] == [rank - 1]
        and layer.center
        and layer.scale
        and not getattr(layer, "rms_scaling", False)
        and keras.backend.standardize_dtype(x.dtype) == "float32"
        and layer.compute_dtype == "float32"
    )
    if not plain:
        return layer(x)
    mean = ops.mean(x, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    scale = ops.rsqrt(variance + layer.epsilon) * layer.gamma
    return x * scale + (layer.beta - mean * scale)
