"""Model classes remember the dtype policy they were built under (e.g. `mixed_bfloat16`).

A model class rebuilds itself from its constructor arguments (`get_config`),
so its layers would come back under whatever global policy the loading
process has. `DTypePolicyConfig` adds the policy to the config when it is
not float32 and rebuilds every layer under it, so a mixed-precision model
reloads as one.
"""

import contextlib

import keras


@contextlib.contextmanager
def global_dtype_policy(policy):
    """Layers created inside get `policy` (None: leave the global policy alone)."""
    if policy is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class DTypePolicyConfig:
    """Mixin for Functional model classes: `get_config` gets `**self.dtype_policy_config()`."""

    def dtype_policy_config(self):
        name = self.dtype_policy.name
        return {} if name == "float32" else {"dtype_policy": name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        with global_dtype_policy(config.pop("dtype_policy", None)):
            return cls.from_constructor_config(config)

    @classmethod
    def from_constructor_config(cls, config):
        return cls(**config)
