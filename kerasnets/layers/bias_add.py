import keras


@keras.saving.register_keras_serializable(package="kerasnets")
class BiasAdd(keras.layers.Layer):
    """Adds a learned bias vector: `y = x + b`, with `b` of the input's last size.

    BERT's masked-LM decoder shares its weight matrix with the word
    embeddings but has a bias of its own; this layer holds that bias.

    Example:

    >>> BiasAdd()(keras.ops.zeros((2, 5, 30))).shape
    (2, 5, 30)
    """

    def __init__(self, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(input_shape[-1],), initializer=self.bias_initializer)
        self.built = True

    def call(self, inputs):
        return inputs + keras.ops.cast(self.bias, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["bias_initializer"] = keras.initializers.serialize(self.bias_initializer)
        return config
