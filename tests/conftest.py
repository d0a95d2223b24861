import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


def assert_reloads_identically(model, inputs, tmp_path, atol=1e-6):
    """Save `model` to a .keras file, load it with no custom_objects, compare outputs."""
    path = os.path.join(tmp_path, "model.keras")
    expected = model(inputs, training=False)
    model.save(path)
    reloaded = keras.saving.load_model(path)  # no custom_objects: layers must be registered
    actual = reloaded(inputs, training=False)
    for e, a in zip(keras.tree.flatten(expected), keras.tree.flatten(actual)):
        np.testing.assert_allclose(np.asarray(e), np.asarray(a), atol=atol, rtol=1e-6)
    return reloaded


def wrap_layer(layer, input_specs):
    """A Functional model around one layer, for save/load tests.

    `input_specs` maps an input name to (shape, dtype); the inputs are passed
    to the layer positionally in the given order.
    """
    inputs = [keras.Input(shape, dtype=dtype, name=name) for name, (shape, dtype) in input_specs.items()]
    outputs = layer(*inputs)
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs)


def assert_config_round_trip(layer):
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    return clone


def assert_trains(model, inputs, targets, loss="sparse_categorical_crossentropy", steps=30, learning_rate=1e-2):
    """Compile `model`, take a few `fit` steps from a tf.data pipeline, then
    overfit one toy batch and check the loss drops clearly."""
    import tensorflow as tf

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(4).repeat()
    history = model.fit(dataset, epochs=1, steps_per_epoch=2, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    batch_size = len(keras.tree.flatten(targets)[0])
    before = float(np.atleast_1d(model.evaluate(inputs, targets, batch_size=batch_size, verbose=0))[0])
    model.fit(inputs, targets, batch_size=batch_size, epochs=steps, verbose=0)
    after = float(np.atleast_1d(model.evaluate(inputs, targets, batch_size=batch_size, verbose=0))[0])
    assert after < 0.7 * before, f"loss did not go down: {before:.4f} -> {after:.4f}"
