"""A head on a backbone: a Functional model whose graph calls another Functional model.

    lm = GPTCausalLM(GPTBackbone(...))        # lm.backbone is the GPTBackbone object
    classifier = BertClassifier(pretrainer.backbone, num_classes=2)

The backbone is serialized inside the head's config and rebuilt first on
loading; `summary()` expands it by default, so the layer graph shows.
"""

import keras

from kerasnets.models.dtype_policy import DTypePolicyConfig


class BackboneTask(DTypePolicyConfig, keras.Model):
    """Base of the models that wrap a `backbone` (set `self.backbone` before `super().__init__`)."""

    def summary(self, *args, expand_nested=True, **kwargs):
        """`keras.Model.summary`, with the backbone's layers shown (`expand_nested=True`)."""
        return super().summary(*args, expand_nested=expand_nested, **kwargs)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.dtype_policy_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
        }

    @classmethod
    def from_constructor_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
