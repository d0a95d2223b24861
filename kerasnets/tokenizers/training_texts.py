"""The texts a vocabulary trainer (`train_bpe`, `train_wordpiece`) reads, as Python strings."""

import numpy as np
import tensorflow as tf


def python_texts(data, trainer, batch_size=1024):
    """Yield Python strings from a `tf.data.Dataset` of strings (scalars or batches), a string,
    a list, an array or a string tensor; `trainer` names the caller in the error."""
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
            raise ValueError(
                f"{trainer}() needs a dataset of strings; got element_spec={spec}. "
                "Map it first, e.g. dataset.map(lambda text, label: text)."
            )
        batches = data if spec.shape.rank else data.batch(batch_size)
        for batch in batches.as_numpy_iterator():
            for text in np.asarray(batch).reshape(-1):
                yield text.decode("utf-8", errors="replace")
        return
    if isinstance(data, str):
        data = [data]
    for text in np.asarray(data, dtype=object).reshape(-1):
        yield text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
