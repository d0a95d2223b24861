import keras


def simple_cnn(
    *,
    input_shape=(28, 28, 1),
    num_classes=10,
    filters=(32,),
    kernel_size=3,
    padding="valid",
    pool_size=2,
    dense_units=(),
    dropout=0.0,
    batch_norm=False,
    name="simple_cnn",
):
    """A small convolutional network.

    The default is one block, Conv2D(32, 3×3, ReLU) → MaxPooling2D(2), then
    Flatten → Dense softmax (54,410 parameters on 28×28×1). More entries in
    `filters` stack more blocks; `dense_units` adds hidden dense layers.

    Args:
        input_shape: Image shape, height × width × channels.
        num_classes: Output classes.
        filters: Filters of each conv block, in order.
        kernel_size: Convolution size.
        padding: Convolution padding, "valid" (Keras' default) or "same".
        pool_size: Max-pooling size after each conv.
        dense_units: Hidden dense layers before the classifier.
        dropout: Dropout before each dense layer (0 for none).
        batch_norm: Batch normalisation after each convolution.
        name: Model name.

    Returns:
        A Functional model: `image` → `probabilities`.
    """
    image = keras.Input(shape=tuple(input_shape), name="image")
    x = image
    for index, width in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            width, kernel_size, padding=padding, use_bias=not batch_norm, name=f"conv_{index}"
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{index}")(x)
        x = keras.layers.Activation("relu", name=f"relu_{index}")(x)
        x = keras.layers.MaxPooling2D(pool_size, name=f"max_pool_{index}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for index, units in enumerate(dense_units, start=1):
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{index}")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(image, outputs, name=name)
