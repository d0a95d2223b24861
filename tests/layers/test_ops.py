import keras
import numpy as np
import pytest

import kerasnets.ops
from kerasnets.layers import BahdanauAttention, LuongAttention, ScaledDotProductAttention
from kerasnets.ops import causal_mask, masked_softmax, update_along_axis, write_along_axis

RNG = np.random.default_rng(0)


def reference_masked_softmax(scores, mask):
    """exp(s_i) / Σ_{j allowed} exp(s_j) on allowed positions, 0 elsewhere; all-masked rows are 0."""
    mask = np.broadcast_to(mask, np.broadcast_shapes(scores.shape, mask.shape))
    exponentials = np.where(mask, np.exp(scores - scores.max(axis=-1, keepdims=True)), 0.0)
    totals = exponentials.sum(axis=-1, keepdims=True)
    return np.divide(exponentials, totals, out=np.zeros_like(exponentials), where=totals > 0)


def test_masked_softmax_matches_numpy_and_broadcasts():
    scores = RNG.normal(size=(2, 3, 4, 6)).astype("float32")
    mask = RNG.random((2, 1, 4, 6)) > 0.4
    mask[0, 0, 1] = False  # one row with nothing to attend to
    mask[1, 0, 2] = True
    weights = np.asarray(masked_softmax(scores, mask))
    np.testing.assert_allclose(weights, reference_masked_softmax(scores, mask), atol=1e-6)
    assert np.all(np.isfinite(weights))
    np.testing.assert_array_equal(weights[0, :, 1], 0.0)
    np.testing.assert_allclose(weights[1, :, 2].sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(masked_softmax(scores, None), keras.ops.softmax(scores), atol=1e-7)
    # Along another axis, with a 0/1 mask.
    along_first = np.asarray(masked_softmax(scores, mask.astype("int32"), axis=2))
    np.testing.assert_allclose(
        np.moveaxis(along_first, 2, -1),
        reference_masked_softmax(np.moveaxis(scores, 2, -1), np.moveaxis(mask, 2, -1)),
        atol=1e-6,
    )


def test_masked_softmax_in_float16_is_finite():
    scores = RNG.normal(size=(2, 5)).astype("float16")
    mask = np.array([[True, True, False, False, True], [False] * 5])
    weights = np.asarray(masked_softmax(scores, mask))
    assert weights.dtype == np.float16 and np.all(np.isfinite(weights))
    np.testing.assert_allclose(weights, reference_masked_softmax(scores.astype("float32"), mask), atol=2e-3)


def test_attention_layers_share_the_one_masked_softmax(monkeypatch):
    calls = []

    def recording(scores, mask=None, axis=-1):
        calls.append(mask is not None)
        return masked_softmax(scores, mask, axis)

    for module in ("scaled_dot_product_attention", "bahdanau_attention"):  # Luong uses Bahdanau's `attend`
        monkeypatch.setattr(f"kerasnets.layers.{module}.masked_softmax", recording)
    query, value = RNG.normal(size=(2, 3, 4)).astype("float32"), RNG.normal(size=(2, 5, 4)).astype("float32")
    key_mask = np.array([[True] * 5, [False] * 5])  # the second example has no key at all
    for layer in (BahdanauAttention(4), LuongAttention()):
        context, weights = layer(query, value, mask=key_mask, return_attention_scores=True)
        np.testing.assert_array_equal(np.asarray(weights)[1], 0.0)
        np.testing.assert_array_equal(np.asarray(context)[1], 0.0)
    ScaledDotProductAttention()(query, value, value, mask=key_mask[:, None, :])
    assert calls == [True, True, True]
    assert kerasnets.ops.masked_softmax is masked_softmax


@pytest.mark.parametrize("start", [0, 2, keras.ops.convert_to_tensor(3)])
def test_causal_mask_is_a_shifted_lower_triangle(start):
    mask = np.asarray(causal_mask(3, 6, start))
    assert mask.shape == (1, 3, 6)
    np.testing.assert_array_equal(mask[0], np.tri(3, 6, k=int(start), dtype=bool))


def test_update_along_axis_writes_a_slice_like_numpy():
    inputs = RNG.normal(size=(2, 6, 3)).astype("float32")
    updates = RNG.normal(size=(2, 2, 3)).astype("float32")
    expected = inputs.copy()
    expected[:, 3:5] = updates
    np.testing.assert_array_equal(update_along_axis(inputs, updates, 3, axis=1), expected)
    expected = inputs.copy()
    expected[:, 1:2] = updates[:, :1]
    start = keras.ops.convert_to_tensor(1)
    np.testing.assert_array_equal(update_along_axis(inputs, updates[:, :1], start, axis=1), expected)
    expected = inputs.copy()
    expected[:, 5] = updates[:, 0]  # what would fall past the end is dropped
    np.testing.assert_array_equal(update_along_axis(inputs, updates, 5, axis=-2), expected)


def test_write_along_axis_writes_a_slice_like_numpy():
    inputs = RNG.normal(size=(2, 2, 6, 3)).astype("float32")
    updates = RNG.normal(size=(2, 2, 3, 3)).astype("float32")
    expected = inputs.copy()
    expected[:, :, 2:5] = updates
    np.testing.assert_array_equal(write_along_axis(inputs, updates, 2, axis=2), expected)
    expected = inputs.copy()
    expected[:, :, 5] = updates[:, :, 0]
    start = keras.ops.convert_to_tensor(5)
    np.testing.assert_array_equal(write_along_axis(inputs, updates[:, :, :1], start, axis=-2), expected)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow graphs")
@pytest.mark.parametrize("jit_compile", [False, True])
def test_write_along_axis_traces_with_unknown_shapes_and_no_xla_op_unless_compiled(jit_compile):
    import tensorflow as tf

    spec = tf.TensorSpec([None, 2, None, 3], tf.float32)
    write = tf.function(
        lambda x, u, i: write_along_axis(x, u, i, axis=2),
        input_signature=[spec, spec, tf.TensorSpec([], tf.int32)],
        jit_compile=jit_compile,
    )
    inputs = RNG.normal(size=(2, 2, 6, 3)).astype("float32")
    updates = RNG.normal(size=(2, 2, 1, 3)).astype("float32")
    expected = inputs.copy()
    expected[:, :, 4:5] = updates
    np.testing.assert_array_equal(write(inputs, updates, 4), expected)
    ops = {op.type for op in write.get_concrete_function().graph.get_operations()}
    if jit_compile:
        assert "XlaDynamicUpdateSlice" in ops  # strided-slice updates need constant bounds in XLA
    else:
        assert "TensorStridedSliceUpdate" in ops and not any(op.startswith("Xla") for op in ops)


def test_layer_norm_is_the_keras_layer_in_fewer_ops():
    x = RNG.normal(size=(2, 3, 8)).astype("float32") * 3 + 1
    layer = keras.layers.LayerNormalization(epsilon=1e-5)
    layer.build(x.shape)
    layer.gamma.assign(RNG.normal(size=8).astype("float32"))
    layer.beta.assign(RNG.normal(size=8).astype("float32"))
    np.testing.assert_array_equal(kerasnets.ops.layer_norm(x, layer), layer(x))  # bit for bit
    mean, std = x.mean(-1, keepdims=True), np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(kerasnets.ops.layer_norm(x, layer), (x - mean) / std * layer.gamma + layer.beta, atol=1e-5)
    other = keras.layers.LayerNormalization(axis=1, center=False)  # not the plain case: the layer itself
    other.build(x.shape)
    np.testing.assert_array_equal(kerasnets.ops.layer_norm(x, other), other(x))
