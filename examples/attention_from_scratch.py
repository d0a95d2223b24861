"""Attention from scratch, checked against Keras, and a causal model's promise.

    python examples/attention_from_scratch.py

1. `ScaledDotProductAttention` computes softmax(Q Kᵀ / √d_k) V; we compare it
   with the same formula in NumPy.
2. Our `MultiHeadAttention` takes the weights of `keras.layers.MultiHeadAttention`
   and gives the same outputs.
3. A GPT built from these layers never lets a later token change an earlier
   prediction.
"""

import keras
import numpy as np

from kerasnets.layers import MultiHeadAttention, ScaledDotProductAttention
from kerasnets.models import gpt

rng = np.random.default_rng(0)

# 1. The formula.
q, k, v = (rng.normal(size=(1, 4, 8)).astype("float32") for _ in range(3))
scores = q @ k.transpose(0, 2, 1) / np.sqrt(8)
weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
ours = ScaledDotProductAttention()(q, k, v)
print("attention vs NumPy, max |difference|:", float(np.abs(np.asarray(ours) - weights @ v).max()))

# 2. A drop-in for the Keras layer.
x = rng.normal(size=(2, 6, 16)).astype("float32")
theirs = keras.layers.MultiHeadAttention(num_heads=4, key_dim=4)
mine = MultiHeadAttention(num_heads=4, key_dim=4)
theirs(x, x), mine(x, x)
mine.set_weights(theirs.get_weights())
difference = np.abs(np.asarray(mine(x, x, use_causal_mask=True)) - np.asarray(theirs(x, x, use_causal_mask=True)))
print("MultiHeadAttention vs keras.layers.MultiHeadAttention, max |difference|:", float(difference.max()))

# 3. Causality, by behaviour.
model = gpt(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64, max_sequence_length=16)
tokens = rng.integers(1, 50, size=(1, 10))
changed = tokens.copy()
changed[0, 6:] = rng.integers(1, 50, size=4)  # rewrite the future
before, after = np.asarray(model(tokens)), np.asarray(model(changed))
print("GPT: change in predictions at positions 0-5 after editing tokens 6-9:", float(np.abs(before - after)[0, :6].max()))
print("GPT: change at positions 6-9:", float(np.abs(before - after)[0, 6:].max()))
