"""One initializer per weight.

A Keras random initializer is stateless: an instance created without a seed
picks one seed when it is constructed and then draws the *same* numbers at
every call. Passed to several weights (W_Q, W_K, W_V of an attention layer,
both kernels of a feed-forward layer, the token and position tables), it
would start them all equal, or as reshaped copies or prefixes of one
another. Every layer here therefore draws each weight from its own copy,
`clone_initializer(initializer, weight_name)`, as Keras' own
`MultiHeadAttention` clones its initializer for each sub-layer.
"""

import zlib

import keras


def clone_initializer(initializer, name):
    """A copy of `initializer` that draws values of its own, for the weight `name`.

    * unseeded (`seed=None`): a copy with a fresh default seed, which
      `keras.utils.set_random_seed` makes reproducible;
    * seeded with an int: a copy seeded with `(seed + crc32(name)) mod 2³¹`,
      so a seeded layer stays reproducible yet its weights differ (weights
      of the same name in two layers given the same seeded initializer
      repeat one another, as two Keras layers would);
    * seeded with a `keras.random.SeedGenerator`, or without randomness
      (zeros, ones, constants), or a plain function: returned as it is,
      since every call already draws anew or nothing is random.
    """
    if not isinstance(initializer, keras.initializers.Initializer):
        return initializer
    config = initializer.get_config()
    if "seed" not in config:
        return initializer
    seed = config["seed"]
    if seed is None:
        return initializer.__class__.from_config(config)
    if isinstance(seed, int):
        config["seed"] = (seed + zlib.crc32(name.encode("utf-8"))) % 2**31
        return initializer.__class__.from_config(config)
    return initializer
