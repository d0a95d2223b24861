"""Named hyperparameter sets ("presets") for the builders.

A preset is a plain dict of builder arguments. Arguments given explicitly
override the preset's, so `bert(preset="bert_tiny", dropout=0.0)` works.
"""


def resolve_preset(builder_name, presets, preset, overrides):
    """Merge `presets[preset]` with the explicitly given `overrides`."""
    if preset is None:
        return dict(overrides)
    if preset not in presets:
        valid = ", ".join(sorted(presets)) or "none"
        raise ValueError(f"Unknown preset '{preset}' for {builder_name}. Valid presets: {valid}.")
    return {**presets[preset], **overrides}
