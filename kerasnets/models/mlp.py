import keras


def mlp(
    *,
    input_shape=(3,),
    hidden_units=(5,),
    activation="relu",
    num_classes=1,
    output_activation=None,
    dropout=0.0,
    name="mlp",
):
    """A multi-layer perceptron: layers of neurons `y = act(x W + b)`.

    The default is the classic neuron example: 3 features → Dense(5, ReLU) →
    Dense(1, sigmoid), 26 parameters. Inputs with more than one axis (e.g.
    28×28 images) are flattened first.

    Args:
        input_shape: Shape of one example.
        hidden_units: Width of each hidden layer, in order.
        activation: Hidden activation ("relu", "tanh", "sigmoid", …).
        num_classes: Output units. 1 gives a sigmoid probability, more a softmax.
        output_activation: Override the output activation.
        dropout: Dropout rate after each hidden layer.
        name: Model name.

    Returns:
        A Functional model: `features` → `probabilities`.
    """
    if output_activation is None:
        output_activation = "sigmoid" if num_classes == 1 else "softmax"
    features = keras.Input(shape=tuple(input_shape), name="features")
    x = keras.layers.Flatten(name="flatten")(features) if len(input_shape) > 1 else features
    for index, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"hidden_{index}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    outputs = keras.layers.Dense(num_classes, activation=output_activation, dtype="float32", name="probabilities")(x)
    return keras.Model(features, outputs, name=name)
