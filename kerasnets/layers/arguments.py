"""Argument checks shared by the layers: a bad value is a clear ValueError at construction."""

import numbers


def positive_int(value, name, allow_none=False):
    """`value` as an int, or a ValueError naming the argument (worded as Keras words it)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a positive integer"
            f"{' or None' if allow_none else ''}. Received: {name}={value!r}"
        )
    return int(value)
