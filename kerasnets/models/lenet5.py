import keras

POOLINGS = {"average": keras.layers.AveragePooling2D, "max": keras.layers.MaxPooling2D}


def lenet5(*, input_shape=(28, 28, 1), num_classes=10, activation="tanh", pooling="average", name="lenet5"):
    """LeNet-5 (LeCun et al. 1998) for 28×28 digits.

        C1: 6 maps 5×5 ('same' on 28×28, as the paper's 32×32 input) → S2: 2×2 pooling
        C3: 16 maps 5×5 → S4: 2×2 pooling → C5: 120 maps 5×5 (1×1 output)
        F6: 84 units → 10-way softmax

    61,706 parameters with the defaults. The paper's sparse C3 connection
    table and RBF output are replaced by full connections and a softmax, as
    in every modern re-implementation.

    Args:
        input_shape: Image shape, height × width × channels.
        num_classes: Output classes.
        activation: Activation of every conv and dense layer ("tanh" as in the paper).
        pooling: "average" (the paper's subsampling) or "max".
        name: Model name.

    Returns:
        A Functional model: `image` → `probabilities`.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}; got '{pooling}'.")
    pool = POOLINGS[pooling]
    image = keras.Input(shape=tuple(input_shape), name="image")
    x = keras.layers.Conv2D(6, 5, padding="same", activation=activation, name="c1")(image)
    x = pool(2, name="s2")(x)
    x = keras.layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    x = pool(2, name="s4")(x)
    x = keras.layers.Conv2D(120, 5, activation=activation, name="c5")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(84, activation=activation, name="f6")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(image, outputs, name=name)
