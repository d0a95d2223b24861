"""Named hyperparameter sets ("presets") for the builders.

A preset is a dict of builder arguments. Arguments given explicitly win
over the preset's, so `bert(preset="bert_tiny", dropout=0.0)` works.
"""

import functools


def with_presets(presets):
    """Decorate a builder so that it also accepts `preset=NAME` from `presets`."""

    def decorate(builder):
        @functools.wraps(builder)  # keeps the builder's signature for introspection
        def build(*, preset=None, **kwargs):
            if preset is not None:
                if preset not in presets:
                    raise ValueError(
                        f"Unknown preset '{preset}' for {builder.__name__}. "
                        f"Valid presets: {', '.join(presets)}."
                    )
                kwargs = {**presets[preset], **kwargs}
            return builder(**kwargs)

        return build

    return decorate
