"""Functional-API builders: each function returns an uncompiled `keras.Model`.

    from kerasnets import models
    model = models.lenet5()
    model = models.build("bert", preset="bert_tiny")

The generative and BERT builders return model classes that are Functional
models too (their `summary()` shows the layer graph) and own their parts and
their decoding: `GPTCausalLM` (with a `GPTBackbone`), `RNNLanguageModel`
(both `CausalLM`s), `TransformerSeq2Seq`, `RNNSeq2Seq` (both `Seq2SeqLM`s),
and `BertBackbone`, `BertClassifier`, `BertPretrainer`.

`from_pretrained(path_or_name)` puts published GPT-2 / BERT weights (a Hugging
Face checkpoint or a KerasHub preset) on these classes (`models.pretrained`).
"""

import importlib
import inspect

# Architecture name -> builder; a builder's module may define PRESETS (a dict).
# Listed in the order `kerasnets summary` shows them.
ARCHITECTURES = (
    "mlp",
    "lenet5",
    "simple_cnn",
    "text_cnn",
    "rnn_classifier",
    "rnn_language_model",
    "seq2seq",
    "transformer",
    "bert",
    "gpt",
)
BUILDERS = {}
PRESETS = {}
for _name in ARCHITECTURES:
    _module = importlib.import_module(f"kerasnets.models.{_name}")
    BUILDERS[_name] = getattr(_module, _name)
    PRESETS[_name] = getattr(_module, "PRESETS", {})
    globals()[_name] = BUILDERS[_name]  # so `from kerasnets.models import gpt` gives the builder
del _name, _module

from kerasnets.models.bert import BertBackbone, BertClassifier, BertPretrainer  # noqa: E402
from kerasnets.models.causal_lm import CausalLM  # noqa: E402
from kerasnets.models.gpt import GPTBackbone, GPTCausalLM  # noqa: E402
from kerasnets.models.pretrained import checkpoint_files, from_pretrained, load_pretrained_weights  # noqa: E402
from kerasnets.models.save_pretrained import save_pretrained  # noqa: E402
from kerasnets.models.rnn_language_model import RNNLanguageModel  # noqa: E402
from kerasnets.models.seq2seq import RNNSeq2Seq  # noqa: E402
from kerasnets.models.seq2seq_lm import Seq2SeqLM  # noqa: E402
from kerasnets.models.transformer import TransformerSeq2Seq  # noqa: E402


def hyperparameters(name):
    """The keyword arguments the builder `name` accepts, with their defaults."""
    signature = inspect.signature(get_builder(name))
    return {
        key: param.default
        for key, param in signature.parameters.items()
        if param.kind is param.KEYWORD_ONLY or param.kind is param.POSITIONAL_OR_KEYWORD
    }


def get_builder(name):
    if name not in BUILDERS:
        raise ValueError(f"Unknown architecture '{name}'. Valid architectures: {', '.join(BUILDERS)}.")
    return BUILDERS[name]


def build(name, preset=None, **kwargs):
    """Build architecture `name` (e.g. "lenet5", "gpt") with optional preset and overrides."""
    builder = get_builder(name)
    valid = hyperparameters(name)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(
            f"Unknown hyperparameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for {name}. "
            f"Valid hyperparameters: {', '.join(k for k in valid if k != 'preset')}."
        )
    if preset is not None:
        if not PRESETS[name]:
            raise ValueError(f"Architecture '{name}' has no presets.")
        kwargs["preset"] = preset
    return builder(**kwargs)
