import keras
from keras import ops

from kerasnets.layers.arguments import positive_int
from kerasnets.layers.initializers import clone_initializer


@keras.saving.register_keras_serializable(package="kerasnets")
class FeedForward(keras.layers.Layer):
    """Position-wise feed-forward network (Vaswani et al. 2017, §3.3).

        FFN(x) = act(x W₁ + b₁) W₂ + b₂

    applied to every position alone: `d_model → intermediate_dim → d_model`,
    with `d_model` taken from the input in `build()` (or `output_dim`).

    Args:
        intermediate_dim: Width of the hidden layer (d_ff; 2048 in the paper).
        activation: Activation of the hidden layer ("relu" in the paper,
            "gelu" in BERT and GPT).
        output_dim: Output width; defaults to the input width.
        kernel_initializer, bias_initializer: For both projections.

    Example:

    >>> ffn = FeedForward(intermediate_dim=256)
    >>> ffn(keras.ops.ones((2, 10, 64))).shape
    (2, 10, 64)
    """

    def __init__(
        self,
        intermediate_dim,
        activation="relu",
        output_dim=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = positive_int(intermediate_dim, "intermediate_dim")
        self.activation = keras.activations.get(activation)
        self.output_dim = positive_int(output_dim, "output_dim", allow_none=True)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        input_dim = input_shape[-1]
        output_dim = self.output_dim or input_dim

        def weight(name, shape, initializer):
            # A copy of the initializer each: W₁ and W₂ would otherwise start as the same numbers.
            initializer = clone_initializer(initializer, f"{self.name}/{name}")
            return self.add_weight(name=name, shape=shape, initializer=initializer)

        self.intermediate_kernel = weight(
            "intermediate_kernel", (input_dim, self.intermediate_dim), self.kernel_initializer
        )
        self.intermediate_bias = weight("intermediate_bias", (self.intermediate_dim,), self.bias_initializer)
        self.output_kernel = weight("output_kernel", (self.intermediate_dim, output_dim), self.kernel_initializer)
        self.output_bias = weight("output_bias", (output_dim,), self.bias_initializer)
        self.built = True

    def call(self, inputs):
        middle = tuple(inputs.shape[1:-1])
        flat = len(inputs.shape) > 2 and None not in middle
        if flat:
            # Known inner sizes (e.g. one decoding position): plain matrix products on (N, d);
            # on TensorFlow `matmul` of a 3-D tensor adds a dozen shape ops around each product.
            inputs = ops.reshape(inputs, (-1, inputs.shape[-1]))
        hidden = self.activation(ops.matmul(inputs, self.intermediate_kernel) + self.intermediate_bias)
        outputs = ops.matmul(hidden, self.output_kernel) + self.output_bias
        return ops.reshape(outputs, (-1, *middle, outputs.shape[-1])) if flat else outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim or input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": keras.activations.serialize(self.activation),
                "output_dim": self.output_dim,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
