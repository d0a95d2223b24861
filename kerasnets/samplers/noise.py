"""Counter-based uniform noise: the same numbers eagerly, in a `tf.function` and in a SavedModel.

A stateful random generator would give different draws in each of those
places; a hash of (seed, step, row, token) gives the same ones everywhere,
with nothing but integer `keras.ops`.
"""

from keras import ops


def _hash32(x):
    """A bijective mix of uint32 values (Wellons' "lowbias32"): every input bit flips about half of the output bits.

        x ^= x >> 16;  x *= 0x7FEB352D;  x ^= x >> 15;  x *= 0x846CA68B;  x ^= x >> 16
    """
    x = ops.bitwise_xor(x, ops.right_shift(x, 16))
    x = ops.multiply(x, ops.convert_to_tensor(0x7FEB352D, dtype="uint32"))
    x = ops.bitwise_xor(x, ops.right_shift(x, 15))
    x = ops.multiply(x, ops.convert_to_tensor(0x846CA68B, dtype="uint32"))
    return ops.bitwise_xor(x, ops.right_shift(x, 16))


def _as_uint32(x):
    return ops.cast(ops.cast(x, "int32"), "uint32")


def uniform_noise(seed, step, batch_size, vocabulary_size):
    """Uniforms in (0, 1), `(batch_size, vocabulary_size)` float32, a pure function of (seed, step, row, column).

        u = ((h(h(h(h(seed) + step) + row) + column) >> 8) + ½) / 2²⁴

    with `h` = `_hash32` on uint32 (wrapping sums). `seed` is a scalar or
    one seed per row `(batch_size,)`; `step` a scalar (the position).

    >>> uniform_noise(7, 3, batch_size=2, vocabulary_size=5).shape
    (2, 5)
    """
    seed = _as_uint32(seed)
    key = _hash32(_hash32(seed) + _as_uint32(step))  # () or (B,)
    rows = _hash32(key + _as_uint32(ops.arange(batch_size)))
    bits = _hash32(ops.expand_dims(rows, 1) + ops.expand_dims(_as_uint32(ops.arange(vocabulary_size)), 0))
    top_24_bits = ops.cast(ops.right_shift(bits, 8), "int32")  # exact in float32
    return (ops.cast(top_24_bits, "float32") + 0.5) / float(2**24)


def gumbel_noise(seed, step, batch_size, vocabulary_size):
    """Standard Gumbel variables `g = -log(-log u)`: `argmax(l + g)` is a draw from `softmax(l)` (Gumbel-max)."""
    return -ops.log(-ops.log(uniform_noise(seed, step, batch_size, vocabulary_size)))
