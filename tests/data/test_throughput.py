import keras
import numpy as np
import tensorflow as tf

from kerasnets import data


def test_measure_input_pipeline_smoke():
    x = np.random.rand(64, 4).astype("float32")
    y = np.random.randint(0, 2, 64)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a * 2.0, b)).batch(8)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    result = data.measure_input_pipeline(model, dataset, steps=5, warmup=2)
    assert set(result) == {"pipeline_steps_per_second", "cached_steps_per_second", "ratio"}
    assert result["pipeline_steps_per_second"] > 0 and result["cached_steps_per_second"] > 0
    assert np.isclose(result["ratio"], result["pipeline_steps_per_second"] / result["cached_steps_per_second"])
