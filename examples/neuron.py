"""From one neuron to a tiny network: the 26-parameter MLP, trained with fit().

    python examples/neuron.py

A neuron computes y = σ(x·w + b). Five ReLU neurons feeding one sigmoid
neuron learn a rule no single neuron can: "is the point inside the circle?".
"""

import keras
import numpy as np

import kerasnets

rng = np.random.default_rng(0)
features = rng.uniform(-1, 1, size=(2000, 3)).astype("float32")
labels = (np.sum(features[:, :2] ** 2, axis=1) < 0.5).astype("float32")  # inside a circle (3rd feature is noise)

model = kerasnets.models.mlp()  # 3 → Dense(5, ReLU) → Dense(1, sigmoid)
model.summary()

model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(features[:1600], labels[:1600], validation_split=0.1, epochs=100, batch_size=32, verbose=2)
loss, accuracy = model.evaluate(features[1600:], labels[1600:], verbose=0)
print(f"held-out accuracy: {accuracy:.3f} (always guessing 'outside' would give {1 - labels[1600:].mean():.3f})")

# The weights are the whole model: W (3×5), b (5), w (5×1), b (1) = 26 numbers.
for weight in model.weights:
    print(weight.path, tuple(weight.shape))
