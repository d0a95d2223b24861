"""Activations that Keras does not name, registered so `.keras` files reload without custom_objects.

    gelu_approximate(x) = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))

GPT-2's "gelu_new" (Hendrycks & Gimpel 2016, the tanh approximation); the
exact GELU is `x Φ(x)`, Keras' "gelu". `get("gelu_approximate")` and
`get("gelu")` both work, so model configs can store the name as a string.

    from kerasnets.layers.activations import get
    get("gelu_approximate")(keras.ops.ones((2,)))
"""

import keras


@keras.saving.register_keras_serializable(package="kerasnets")
def gelu_approximate(x):
    """GELU with the tanh approximation: ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))."""
    return keras.activations.gelu(x, approximate=True)


NAMED = {"gelu_approximate": gelu_approximate}


def get(activation):
    """An activation function from a name ("gelu_approximate" or any Keras name), or the function itself."""
    if isinstance(activation, str) and activation in NAMED:
        return NAMED[activation]
    return keras.activations.get(activation)
