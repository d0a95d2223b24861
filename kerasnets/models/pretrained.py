"""Published GPT-2 and BERT weights on kerasnets' own model classes.

    lm = from_pretrained("path/to/gpt2")                 # GPTCausalLM, tied head
    bert = from_pretrained("path/to/bert-base-uncased")  # BertBackbone
    pretrainer = from_pretrained(path, head="pretraining")          # BertPretrainer (MLM + NSP)
    classifier = from_pretrained(path, head="classifier", num_classes=3, dropout=0.0)
    checkpoint_files(path)   # the detected format and where the tokenizer's files are

Two checkpoint formats are read, from a local directory:

* Hugging Face: `config.json` (`model_type` "gpt2" or "bert") and
  `model.safetensors` (or shards listed in `model.safetensors.index.json`),
  read with `safetensors`' NumPy API (no torch). Names may carry the
  `transformer.` / `bert.` prefix or not; LayerNorm `gamma`/`beta` are read
  as `weight`/`bias`. GPT-2's Conv1D kernels are stored `(in, out)`, BERT's
  `nn.Linear` kernels `(out, in)`.
* KerasHub preset: `config.json` naming `keras_hub>GPT2Backbone` or
  `keras_hub>BertBackbone` (or a task whose config holds one), and
  `model.weights.h5`, read with h5py (no keras_hub). Its layers are found by
  name (`token_embedding`, `transformer_layer_0`, …), the variables inside
  by KerasHub's attribute paths (`_self_attention_layer/query_dense/vars/0`).

The mapping onto our variables, for hidden size d, H heads of size k = d/H:

    GPT-2   c_attn.weight (d, 3d) → [W_Q | W_K | W_V], each reshaped (d, H, k)
            c_proj.weight (d, d)  → output_kernel (H, k, d)
            mlp.c_fc / mlp.c_proj → FeedForward kernels as stored
    BERT    query/key/value.weight (d, d)ᵀ → (d, H, k);  attention.output.dense.weightᵀ → (H, k, d)
            intermediate/output.dense.weightᵀ → FeedForward kernels
    KerasHub kernels are already (d, H, k) / (H, k, d) / (in, out).

Loading is all or nothing: every tensor the model needs is found and its
shape checked first (a missing name or a wrong shape raises one ValueError
naming the tensor and the file), tensors the model has no place for raise
too unless they are known to be ignorable (GPT-2's `attn.bias` /
`attn.masked_bias` masks, BERT's `position_ids`, heads not asked for, tied
copies of the embedding), and only then is any variable assigned.

A name that is not a directory ("gpt2", "gpt2-medium", "bert-base-uncased",
"bert-large-uncased", "google/bert_uncased_L-2_H-128_A-2", …) is looked up in
the Hugging Face cache with `huggingface_hub`, and downloaded when allowed:
`download=False` or the environment variable `KERASNETS_OFFLINE=1` forbid it.
"""

import json
import os

import keras
import numpy as np

from kerasnets.models.bert import BertBackbone, BertClassifier, BertPretrainer
from kerasnets.models.gpt import GPTBackbone, GPTCausalLM

HEADS = (None, "pretraining", "classifier")
OFFLINE_ENVIRONMENT_VARIABLE = "KERASNETS_OFFLINE"
# Short names → Hugging Face repositories (the cache stores a repository under its full id).
HUB_REPOSITORIES = {
    "gpt2": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "bert-base-uncased": "google-bert/bert-base-uncased",
    "bert-large-uncased": "google-bert/bert-large-uncased",
}
# What a download fetches: the model, its config and its tokenizer files.
DOWNLOAD_PATTERNS = [
    "config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*.safetensors",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
]
# Hugging Face activation names → ours.
ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "gelu_fast": "gelu_approximate",
    "relu": "relu",
}
HF_WEIGHTS = "model.safetensors"
# Heads sit beside the `transformer.` / `bert.` prefix, not under it.
UNPREFIXED = ("cls.", "lm_head.", "classifier.")
HF_WEIGHTS_INDEX = "model.safetensors.index.json"
KERAS_HUB_WEIGHTS = "model.weights.h5"
KERAS_HUB_ARCHITECTURES = {"keras_hub>GPT2Backbone": "gpt2", "keras_hub>BertBackbone": "bert"}


# --------------------------------------------------------------------------- public API


def from_pretrained(path_or_name, head=None, num_classes=2, download=None, weights=True, **overrides):
    """A kerasnets model with the weights of a published GPT-2 or BERT checkpoint.

    Args:
        path_or_name: A checkpoint directory (Hugging Face or KerasHub preset,
            see the module docstring) or a Hugging Face name ("gpt2",
            "bert-base-uncased", "google/bert_uncased_L-2_H-128_A-2", …).
        head: BERT only: None (the backbone), "pretraining" (MLM + NSP heads,
            loaded; an error if the checkpoint has none) or "classifier" (a
            fresh classification head on the loaded backbone).
        num_classes: Classes of the "classifier" head.
        download: Whether a name missing from the Hugging Face cache may be
            downloaded; default yes unless `KERASNETS_OFFLINE=1`.
        weights: False: the checkpoint's architecture with freshly initialised
            weights (the same model trained from scratch, for comparisons).
        **overrides: Constructor arguments that are not architecture, e.g.
            `dropout=0.0`, `name=…`, `dtype=…`, `tie_embeddings=…`; they go to
            the backbone or to the task model, whichever takes them.

    Returns:
        GPT-2: a `GPTCausalLM` (tied head unless the config unties it) with
        `padding_token_id=None`: id 0 is a real token, so batches of unequal
        prompts pass `generate(…, padding_mask=…)`.
        BERT: a `BertBackbone`, `BertPretrainer` or `BertClassifier`.

    Raises:
        ValueError: no checkpoint found, a config kerasnets cannot represent
        (e.g. `scale_attn_by_inverse_layer_idx`, cross-attention, relative
        positions, an unknown activation or model type), or a tensor missing,
        of the wrong shape, or unexpected. Nothing is half-loaded.

    Example:

    >>> lm = from_pretrained("/models/gpt2", dropout=0.0)
    >>> ids = lm.generate(np.array([[464, 3290]]), max_new_tokens=8)
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(map(str, HEADS))}; got {head!r}.")
    checkpoint = _Checkpoint(resolve(path_or_name, download=download), read_weights=bool(weights))
    model = checkpoint.build(head, num_classes, overrides)
    if weights:
        _assign(_plan(model, checkpoint, head))
    return model


def load_pretrained_weights(model, path_or_name, download=None):
    """Loads a checkpoint into an existing `GPTCausalLM`, `BertBackbone`, `BertPretrainer`
    or `BertClassifier` (whose head keeps its weights); all weights or none.

    The model's architecture must be the checkpoint's (layers, heads, widths,
    activation, epsilon); a difference raises ValueError before anything changes.
    """
    checkpoint = _Checkpoint(resolve(path_or_name, download=download))
    head = _head_of(model)
    checkpoint.check_architecture(model)
    _assign(_plan(model, checkpoint, head))
    return model


def checkpoint_files(path):
    """What a checkpoint directory holds: its format, model type, files and tokenizer assets.

    Returns a dict:

        {"format": "huggingface" | "keras_hub",
         "model_type": "gpt2" | "bert",
         "directory": path, "config": ".../config.json",
         "weights": [".../model.safetensors"] or [".../model.weights.h5"] ([] if absent),
         "architecture": the backbone's constructor arguments read from the config,
         "tokenizer": None, or
             {"kind": "byte_pair", "vocabulary": ".../vocab.json", "merges": ".../merges.txt"}, or
             {"kind": "word_piece", "vocabulary": ".../vocab.txt", "lowercase": True | False}}

    Tokenizer files: Hugging Face `vocab.json` + `merges.txt` (GPT-2) or
    `vocab.txt` with `do_lower_case` from `tokenizer_config.json` (default
    True, BERT's tokenizer default); KerasHub `assets/tokenizer/vocabulary.json`
    + `merges.txt` or `assets/tokenizer/vocabulary.txt` with `lowercase` from
    `tokenizer.json`'s config (default False, KerasHub's). Paths listed exist;
    "tokenizer" is None when the files are absent.
    """
    checkpoint = _Checkpoint(path, read_weights=False)
    return {
        "format": checkpoint.format,
        "model_type": checkpoint.model_type,
        "directory": checkpoint.directory,
        "config": checkpoint.config_path,
        "weights": list(checkpoint.weight_files),
        "architecture": dict(checkpoint.architecture),
        "tokenizer": checkpoint.tokenizer_files(),
    }


def resolve(path_or_name, download=None):
    """The checkpoint directory for a path or a Hugging Face name (see `from_pretrained`)."""
    path = os.fspath(path_or_name)
    if os.path.isdir(path):
        return path
    if os.path.exists(path):
        raise ValueError(f"{path} is a file; pass the checkpoint directory (config.json + weights) instead.")
    if download is None:
        download = os.environ.get(OFFLINE_ENVIRONMENT_VARIABLE, "") not in ("1", "true", "True", "yes")
    repositories = [path] + ([HUB_REPOSITORIES[path]] if path in HUB_REPOSITORIES else [])
    try:
        import huggingface_hub
    except ImportError:
        raise ValueError(
            f"'{path}' is not a directory, and huggingface_hub (needed to find or download it by name) "
            "is not installed. Pass a directory with config.json + model.safetensors "
            "(a Hugging Face checkpoint) or config.json + model.weights.h5 (a KerasHub preset)."
        ) from None
    from huggingface_hub import constants

    failures = []
    for repository in repositories:
        try:
            return huggingface_hub.snapshot_download(
                repository, local_files_only=True, allow_patterns=DOWNLOAD_PATTERNS
            )
        except Exception as error:  # not cached (or not a valid repository id)
            failures.append(f"{repository}: {type(error).__name__}")
    if download:
        repository = repositories[-1]
        try:
            return huggingface_hub.snapshot_download(repository, allow_patterns=DOWNLOAD_PATTERNS)
        except Exception as error:
            failures.append(f"download of {repository}: {type(error).__name__}: {error}")
    reason = "downloads are off" if not download else "the download failed"
    raise ValueError(
        f"'{path}' is not a directory and not in the Hugging Face cache at {constants.HF_HUB_CACHE} "
        f"(looked for {', '.join(repositories)}), and {reason} ({'; '.join(failures)}). "
        "Put the checkpoint in a directory — config.json + model.safetensors (+ vocab/merges or "
        "vocab.txt for the tokenizer) from Hugging Face, or a KerasHub preset (config.json + "
        "model.weights.h5) — and pass its path; or allow downloads (download=True, "
        f"unset {OFFLINE_ENVIRONMENT_VARIABLE})."
    )


# --------------------------------------------------------------------------- reading checkpoints


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: not valid JSON ({error.msg}).") from None


class _Tensors:
    """Named arrays from one checkpoint, with the file each came from; records what was read."""

    def __init__(self, arrays, origins, description, prefix=""):
        self.arrays = arrays  # normalized name -> np.ndarray
        self.origins = origins  # normalized name -> (stored name, file)
        self.description = description
        self.prefix = prefix  # what the stored names start with (shown in messages)
        self.used = set()

    def __contains__(self, name):
        return name in self.arrays

    def where(self, name):
        stored, path = self.origins[name]
        return f"'{stored}' in {path}"

    def get(self, name, shape):
        """The array `name`, which must have `shape`."""
        if name not in self.arrays:
            stored = name if name.startswith(UNPREFIXED) else self.prefix + name
            raise ValueError(f"Missing tensor '{stored}' in {self.description}: the model needs it.")
        array = self.arrays[name]
        if tuple(array.shape) != tuple(shape):
            raise ValueError(
                f"Shape mismatch for {self.where(name)}: expected {tuple(shape)}, found {tuple(array.shape)}."
            )
        self.used.add(name)
        return array

    def ignore(self, name):
        self.used.add(name)

    def unused(self):
        return sorted(set(self.arrays) - self.used)


class _Checkpoint:
    """A checkpoint directory: its format, model type, config, and (lazily) its tensors."""

    def __init__(self, directory, read_weights=True):
        self.directory = os.fspath(directory)
        self.config_path = os.path.join(self.directory, "config.json")
        if not os.path.isfile(self.config_path):
            raise ValueError(
                f"{self.directory} has no config.json: not a Hugging Face checkpoint or KerasHub preset directory."
            )
        config = _read_json(self.config_path)
        if not isinstance(config, dict):
            raise ValueError(f"{self.config_path}: expected a JSON object.")
        registered = str(config.get("registered_name") or config.get("class_name") or "")
        if "model_type" in config:
            self.format = "huggingface"
            self.model_type = config["model_type"]
            self.config = config
            if self.model_type not in ("gpt2", "bert"):
                raise ValueError(
                    f"{self.config_path}: model_type '{self.model_type}' is not supported; "
                    "kerasnets reads 'gpt2' and 'bert' checkpoints."
                )
            self.weight_files = self._hf_weight_files(required=read_weights)
        elif registered.startswith("keras_hub>") or str(config.get("module", "")).startswith("keras_hub"):
            self.format = "keras_hub"
            self.config, backbone_class = _keras_hub_backbone_config(config, self.config_path)
            if backbone_class not in KERAS_HUB_ARCHITECTURES:
                raise ValueError(
                    f"{self.config_path}: {backbone_class} is not supported; kerasnets reads "
                    f"{' and '.join(KERAS_HUB_ARCHITECTURES)} presets."
                )
            self.model_type = KERAS_HUB_ARCHITECTURES[backbone_class]
            weights = os.path.join(self.directory, KERAS_HUB_WEIGHTS)
            if not os.path.isfile(weights) and read_weights:
                sharded = os.path.isfile(os.path.join(self.directory, "model.weights.json"))
                raise ValueError(
                    f"{self.directory} has no {KERAS_HUB_WEIGHTS}"
                    + (" (sharded KerasHub weights are not supported)." if sharded else ".")
                )
            self.weight_files = [weights] if os.path.isfile(weights) else []
        else:
            raise ValueError(
                f"{self.config_path}: neither a Hugging Face config (no 'model_type') nor a KerasHub "
                "preset config (no 'keras_hub>…' class)."
            )
        self.architecture = self._architecture()
        self._tensors = None
        if read_weights:
            self.tensors()  # read now, so a broken file fails before the model is built

    # ----- files

    def _hf_weight_files(self, required):
        single = os.path.join(self.directory, HF_WEIGHTS)
        index = os.path.join(self.directory, HF_WEIGHTS_INDEX)
        if os.path.isfile(single):
            return [single]
        if os.path.isfile(index):
            shards = sorted(set(_read_json(index).get("weight_map", {}).values()))
            if not shards:
                raise ValueError(f"{index}: no 'weight_map'.")
            return [os.path.join(self.directory, shard) for shard in shards]
        if not required:
            return []
        other = [name for name in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack") if
                 os.path.isfile(os.path.join(self.directory, name))]
        raise ValueError(
            f"{self.directory} has no {HF_WEIGHTS}"
            + (f" (only {', '.join(other)}, which kerasnets does not read: save it with "
               "save_pretrained(..., safe_serialization=True))" if other else "")
            + "."
        )

    def tokenizer_files(self):
        def existing(*parts):
            path = os.path.join(self.directory, *parts)
            return path if os.path.isfile(path) else None

        if self.format == "huggingface":
            vocabulary_json, merges = existing("vocab.json"), existing("merges.txt")
            vocabulary_txt = existing("vocab.txt")
            tokenizer_config = existing("tokenizer_config.json")
            settings = _read_json(tokenizer_config) if tokenizer_config else {}
        else:
            vocabulary_json = existing("assets", "tokenizer", "vocabulary.json")
            merges = existing("assets", "tokenizer", "merges.txt")
            vocabulary_txt = existing("assets", "tokenizer", "vocabulary.txt")
            tokenizer_config = existing("tokenizer.json")
            settings = (_read_json(tokenizer_config) or {}).get("config", {}) if tokenizer_config else {}
        if vocabulary_json and merges:
            return {"kind": "byte_pair", "vocabulary": vocabulary_json, "merges": merges}
        if vocabulary_txt:
            lowercase_key, default = ("do_lower_case", True) if self.format == "huggingface" else ("lowercase", False)
            lowercase = bool(settings.get(lowercase_key, default))
            return {"kind": "word_piece", "vocabulary": vocabulary_txt, "lowercase": lowercase}
        return None

    def tensors(self):
        if self._tensors is None:
            self._tensors = self._read_hf() if self.format == "huggingface" else self._read_keras_hub()
        return self._tensors

    def _read_hf(self):
        from safetensors import safe_open

        prefix = "transformer." if self.model_type == "gpt2" else "bert."
        arrays, origins = {}, {}
        for path in self.weight_files:
            if not os.path.isfile(path):
                raise ValueError(f"Missing weights file {path}.")
            try:
                with safe_open(path, framework="np") as handle:
                    for stored in handle.keys():
                        name = stored[len(prefix):] if stored.startswith(prefix) else stored
                        if name.endswith(".gamma"):  # TF-era LayerNorm names
                            name = name[: -len("gamma")] + "weight"
                        elif name.endswith(".beta"):
                            name = name[: -len("beta")] + "bias"
                        if name in arrays:
                            raise ValueError(f"{path}: tensor '{stored}' appears twice (as '{origins[name][0]}' too).")
                        arrays[name] = handle.get_tensor(stored)
                        origins[name] = (stored, path)
            except ValueError:
                raise
            except Exception as error:  # safetensors' own errors: a truncated or foreign file
                raise ValueError(f"{path}: not a readable safetensors file ({error}).") from None
        description = self.weight_files[0] if len(self.weight_files) == 1 else f"the shards of {self.directory}"
        prefixed = any(stored.startswith(prefix) for stored, _ in origins.values())
        return _Tensors(arrays, origins, description, prefix if prefixed else "")

    def _read_keras_hub(self):
        import h5py

        path = self.weight_files[0]
        arrays, origins = {}, {}
        try:
            handle = h5py.File(path, "r")
        except OSError as error:
            raise ValueError(f"{path}: not a readable HDF5 file ({error}).") from None
        with handle:
            layers = handle.get("layers")
            if layers is None:
                raise ValueError(f"{path}: no 'layers' group; not a Keras 3 weights file.")
            for group_name, group in layers.items():
                # Functional layers are stored by class-derived names; the layer's own name is an attribute.
                layer_name = group["vars"].attrs.get("name", group_name) if "vars" in group else group_name
                if isinstance(layer_name, bytes):
                    layer_name = layer_name.decode()

                def visit(relative, item, layer_name=layer_name, group_name=group_name):
                    if isinstance(item, h5py.Dataset):
                        name = f"{layer_name}/{relative}"
                        arrays[name] = np.asarray(item)
                        origins[name] = (f"layers/{group_name}/{relative}", path)

                group.visititems(visit)
        return _Tensors(arrays, origins, path)

    # ----- architecture

    def _architecture(self):
        """Our constructor arguments for the checkpoint's backbone (ValueError if we cannot represent it)."""
        config, where = self.config, self.config_path

        def require(key):
            if key not in config:
                raise ValueError(f"{where}: missing '{key}'.")
            return config[key]

        if self.format == "keras_hub":
            arguments = {
                key: require(key)
                for key in ("vocabulary_size", "num_layers", "num_heads", "hidden_dim", "intermediate_dim")
            }
            default_length = 1024 if self.model_type == "gpt2" else 512  # KerasHub's defaults
            arguments["max_sequence_length"] = config.get("max_sequence_length", default_length)
            arguments["dropout"] = config.get("dropout", 0.1)
            # KerasHub's GPT-2 and BERT both use the tanh GELU and these epsilons.
            arguments["activation"] = "gelu_approximate"
            if self.model_type == "gpt2":
                arguments["layer_norm_epsilon"] = 1e-5
            else:
                arguments["layer_norm_epsilon"] = 1e-12
                arguments["num_segments"] = config.get("num_segments", 2)
            return arguments

        def unsupported(key, value, why):
            raise ValueError(f"{where}: {key}={value!r} is not supported ({why}).")

        if self.model_type == "gpt2":
            if config.get("scale_attn_by_inverse_layer_idx", False):
                unsupported("scale_attn_by_inverse_layer_idx", True, "kerasnets scales every layer by 1/√head_dim")
            if not config.get("scale_attn_weights", True):
                unsupported("scale_attn_weights", False, "kerasnets always scales by 1/√head_dim")
            if config.get("add_cross_attention", False):
                unsupported("add_cross_attention", True, "GPTBackbone is decoder-only")
            activation = config.get("activation_function", "gelu_new")
            if activation not in ACTIVATIONS:
                unsupported("activation_function", activation, f"known: {', '.join(ACTIVATIONS)}")
            hidden = require("n_embd")
            return {
                "vocabulary_size": require("vocab_size"),
                "num_layers": require("n_layer"),
                "num_heads": require("n_head"),
                "hidden_dim": hidden,
                "intermediate_dim": config.get("n_inner") or 4 * hidden,
                "max_sequence_length": require("n_positions"),
                "dropout": config.get("resid_pdrop", 0.1),
                "layer_norm_epsilon": config.get("layer_norm_epsilon", 1e-5),
                "activation": ACTIVATIONS[activation],
            }
        if config.get("add_cross_attention", False) or config.get("is_decoder", False):
            unsupported("is_decoder/add_cross_attention", True, "BertBackbone is a bidirectional encoder")
        position_type = config.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            unsupported("position_embedding_type", position_type, "kerasnets has absolute position embeddings only")
        activation = config.get("hidden_act", "gelu")
        if activation not in ACTIVATIONS:
            unsupported("hidden_act", activation, f"known: {', '.join(ACTIVATIONS)}")
        return {
            "vocabulary_size": require("vocab_size"),
            "num_layers": require("num_hidden_layers"),
            "num_heads": require("num_attention_heads"),
            "hidden_dim": require("hidden_size"),
            "intermediate_dim": require("intermediate_size"),
            "max_sequence_length": require("max_position_embeddings"),
            "num_segments": config.get("type_vocab_size", 2),
            "dropout": config.get("hidden_dropout_prob", 0.1),
            "layer_norm_epsilon": config.get("layer_norm_eps", 1e-12),
            "activation": ACTIVATIONS[activation],
        }

    def tied(self):
        if self.format == "huggingface" and self.model_type == "gpt2":
            return bool(self.config.get("tie_word_embeddings", True))
        return True

    def build(self, head, num_classes, overrides):
        """The (untrained) model for this checkpoint: backbone from the config, `overrides` applied."""
        if self.model_type == "gpt2":
            if head is not None:
                raise ValueError(f"head={head!r} is for BERT; a GPT-2 checkpoint gives a GPTCausalLM.")
            backbone_class, task_class, default_name = GPTBackbone, GPTCausalLM, "gpt"
        else:
            backbone_class, default_name = BertBackbone, "bert"
            task_class = {"classifier": BertClassifier, "pretraining": BertPretrainer}.get(head)
        fixed = sorted(set(overrides) & (set(self.architecture) - {"dropout"}))
        if fixed:
            raise ValueError(
                f"{', '.join(fixed)} come{'s' if len(fixed) == 1 else ''} from the checkpoint "
                f"({self.config_path}) and cannot be overridden."
            )
        common = {"name", "dtype", "trainable"}
        backbone_arguments = _arguments_of(backbone_class) - common
        task_arguments = (_arguments_of(task_class) - {"backbone"} - common) if task_class else set()
        unknown = sorted(set(overrides) - backbone_arguments - task_arguments - common)
        if unknown:
            raise ValueError(
                f"Unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for from_pretrained "
                f"({backbone_class.__name__}{' / ' + task_class.__name__ if task_class else ''})."
            )
        name = overrides.get("name", default_name)
        backbone_kwargs = dict(self.architecture)
        backbone_kwargs.update({key: value for key, value in overrides.items() if key in backbone_arguments})
        shared = {key: overrides[key] for key in ("dtype", "trainable") if key in overrides}
        if task_class is None:
            return backbone_class(**backbone_kwargs, **shared, name=name)
        backbone = backbone_class(**backbone_kwargs, **shared, name=f"{name}_backbone")
        task_kwargs = {key: value for key, value in overrides.items() if key in task_arguments}
        if task_class is GPTCausalLM:
            task_kwargs.setdefault("tie_embeddings", self.tied())
            task_kwargs.setdefault("padding_token_id", None)  # GPT-2 has no padding id: 0 is "!"
        if task_class is BertClassifier:
            task_kwargs["num_classes"] = num_classes
        return task_class(backbone, **task_kwargs, **shared, name=name)

    def check_architecture(self, model):
        """ValueError unless `model`'s backbone has the checkpoint's architecture."""
        backbone = getattr(model, "backbone", model)
        expected_class = GPTBackbone if self.model_type == "gpt2" else BertBackbone
        if not isinstance(backbone, expected_class):
            raise ValueError(
                f"{self.directory} is a {self.model_type} checkpoint; '{model.name}' has no {expected_class.__name__}."
            )
        differences = [
            f"{key}: model {getattr(backbone, key)!r}, checkpoint {value!r}"
            for key, value in self.architecture.items()
            if key != "dropout" and getattr(backbone, key) != value
        ]
        if differences:
            raise ValueError(
                f"'{model.name}' differs from the checkpoint {self.config_path}: {'; '.join(differences)}."
            )


def _keras_hub_backbone_config(config, where):
    """A KerasHub config.json → (the backbone's constructor config, its registered class name)."""
    inner = config.get("config", {})
    if isinstance(inner, dict) and isinstance(inner.get("backbone"), dict):  # a task's config
        return _keras_hub_backbone_config(inner["backbone"], where)
    registered = config.get("registered_name") or config.get("class_name", "")
    if not registered.startswith("keras_hub>"):
        registered = f"keras_hub>{config.get('class_name', '')}"
    if not isinstance(inner, dict):
        raise ValueError(f"{where}: 'config' must be an object.")
    return inner, registered


def _arguments_of(cls):
    import inspect

    return {
        name
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
    }


def _head_of(model):
    if isinstance(model, BertPretrainer):
        return "pretraining"
    if isinstance(model, BertClassifier):
        return "classifier"
    if isinstance(model, (GPTCausalLM, BertBackbone)):
        return None
    raise ValueError(
        f"'{model.name}' ({type(model).__name__}) is not a GPTCausalLM, BertBackbone, BertPretrainer or BertClassifier."
    )


# --------------------------------------------------------------------------- the weight plans


def _plan(model, checkpoint, head):
    """[(variable, array)] for every variable the checkpoint provides, after checking every tensor."""
    tensors = checkpoint.tensors()
    plan = []
    if checkpoint.format == "huggingface":
        ignorable = (_plan_hf_gpt2 if checkpoint.model_type == "gpt2" else _plan_hf_bert)(model, tensors, head, plan)
    else:
        ignorable = (_plan_keras_hub_gpt2 if checkpoint.model_type == "gpt2" else _plan_keras_hub_bert)(
            model, tensors, head, plan
        )
    for name in tensors.unused():
        if ignorable(name):
            tensors.ignore(name)
    unexpected = tensors.unused()
    if unexpected:
        shown = ", ".join(tensors.where(name) for name in unexpected[:5])
        more = f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
        raise ValueError(
            f"Unexpected tensor{'s' if len(unexpected) > 1 else ''} {shown}{more}: '{model.name}' has no place "
            "for them (a different architecture?)."
        )
    return plan


def _assign(plan):
    for variable, array in plan:
        variable.assign(np.asarray(array, dtype=keras.backend.standardize_dtype(variable.dtype)))


def _add(plan, variable, array, source):
    array = np.asarray(array)
    if tuple(array.shape) != tuple(variable.shape):  # a mapping bug, not a checkpoint problem
        raise ValueError(f"{source} maps to shape {array.shape}, but {variable.path} is {tuple(variable.shape)}.")
    plan.append((variable, array))


def _layer_norm(plan, tensors, layer, prefix, weight="weight", bias="bias"):
    shape = tuple(layer.gamma.shape)
    _add(plan, layer.gamma, tensors.get(f"{prefix}{weight}", shape), f"{prefix}{weight}")
    _add(plan, layer.beta, tensors.get(f"{prefix}{bias}", shape), f"{prefix}{bias}")


def _dense(plan, tensors, layer, prefix, transposed, weight="weight", bias="bias"):
    """A `Dense` from `prefix + weight` (stored (out, in) when `transposed`) and `prefix + bias`."""
    fan_in, fan_out = layer.kernel.shape
    kernel = tensors.get(f"{prefix}{weight}", (fan_out, fan_in) if transposed else (fan_in, fan_out))
    _add(plan, layer.kernel, kernel.T if transposed else kernel, prefix + weight)
    _add(plan, layer.bias, tensors.get(f"{prefix}{bias}", (fan_out,)), prefix + bias)


def _check_tied(tensors, name, table_name):
    """A stored copy of a tied table must be the table (then it is ignored)."""
    if name in tensors:
        copy = tensors.arrays[name]
        table = tensors.arrays.get(table_name)
        if table is None or copy.shape != table.shape or not np.array_equal(copy, table):
            raise ValueError(
                f"{tensors.where(name)} differs from '{table_name}', but the model ties them "
                "(tie_word_embeddings): kerasnets cannot keep both."
            )
        tensors.ignore(name)


def _plan_hf_gpt2(lm, tensors, head, plan):
    backbone = lm.backbone
    embedding = backbone.token_embedding
    vocabulary, hidden = embedding.embeddings.shape
    _add(plan, embedding.embeddings, tensors.get("wte.weight", (vocabulary, hidden)), "wte.weight")
    positions = embedding.position_embedding.embeddings
    _add(plan, positions, tensors.get("wpe.weight", tuple(positions.shape)), "wpe.weight")
    for index, block in enumerate(backbone.transformer_layers):
        prefix = f"h.{index}."
        attention = block.self_attention
        heads, head_dim = attention.num_heads, attention.key_dim
        _layer_norm(plan, tensors, block.self_attention_norm, prefix + "ln_1.")
        # Conv1D: (in, out), out = [query | key | value], each split into heads as (H, head_dim).
        qkv = tensors.get(prefix + "attn.c_attn.weight", (hidden, 3 * hidden))
        qkv_bias = tensors.get(prefix + "attn.c_attn.bias", (3 * hidden,))
        for part, (kernel, bias) in enumerate(
            [(attention.query_kernel, attention.query_bias), (attention.key_kernel, attention.key_bias),
             (attention.value_kernel, attention.value_bias)]
        ):
            columns = slice(part * hidden, (part + 1) * hidden)
            _add(plan, kernel, qkv[:, columns].reshape(hidden, heads, head_dim), prefix + "attn.c_attn.weight")
            _add(plan, bias, qkv_bias[columns].reshape(heads, head_dim), prefix + "attn.c_attn.bias")
        projection = tensors.get(prefix + "attn.c_proj.weight", (hidden, hidden))
        _add(plan, attention.output_kernel, projection.reshape(heads, head_dim, hidden), prefix + "attn.c_proj.weight")
        name = prefix + "attn.c_proj.bias"
        _add(plan, attention.output_bias, tensors.get(name, (hidden,)), name)
        _layer_norm(plan, tensors, block.feed_forward_norm, prefix + "ln_2.")
        _feed_forward(plan, tensors, block.feed_forward, prefix + "mlp.c_fc.", prefix + "mlp.c_proj.", transposed=False)
    _layer_norm(plan, tensors, backbone.layer_norm, "ln_f.")
    if lm.lm_head is None:
        _check_tied(tensors, "lm_head.weight", "wte.weight")
    else:
        head_kernel = tensors.get("lm_head.weight", (vocabulary, hidden))
        _add(plan, lm.lm_head.kernel, head_kernel.T, "lm_head.weight")
    # The causal-mask buffers of old checkpoints; our mask is computed.
    return lambda name: name.endswith(".attn.bias") or name.endswith(".attn.masked_bias")


def _feed_forward(plan, tensors, feed_forward, first, second, transposed):
    for kernel, bias, prefix in (
        (feed_forward.intermediate_kernel, feed_forward.intermediate_bias, first),
        (feed_forward.output_kernel, feed_forward.output_bias, second),
    ):
        fan_in, fan_out = kernel.shape
        weight = tensors.get(prefix + "weight", (fan_out, fan_in) if transposed else (fan_in, fan_out))
        _add(plan, kernel, weight.T if transposed else weight, prefix + "weight")
        _add(plan, bias, tensors.get(prefix + "bias", (fan_out,)), prefix + "bias")


def _plan_hf_bert(model, tensors, head, plan):
    backbone = model.backbone if head is not None else model
    embedding = backbone.token_embedding
    vocabulary, hidden = embedding.embeddings.shape
    for variable, name in (
        (embedding.embeddings, "embeddings.word_embeddings.weight"),
        (embedding.position_embedding.embeddings, "embeddings.position_embeddings.weight"),
        (embedding.segment_embedding.embeddings, "embeddings.token_type_embeddings.weight"),
    ):
        _add(plan, variable, tensors.get(name, tuple(variable.shape)), name)
    _layer_norm(plan, tensors, backbone.embeddings_layer_norm, "embeddings.LayerNorm.")
    for index, block in enumerate(backbone.transformer_layers):
        prefix = f"encoder.layer.{index}."
        attention = block.self_attention
        heads, head_dim = attention.num_heads, attention.key_dim
        for kernel, bias, part in (
            (attention.query_kernel, attention.query_bias, "query"),
            (attention.key_kernel, attention.key_bias, "key"),
            (attention.value_kernel, attention.value_bias, "value"),
        ):
            name = f"{prefix}attention.self.{part}."
            weight = tensors.get(name + "weight", (hidden, hidden))  # nn.Linear: (out, in)
            _add(plan, kernel, weight.T.reshape(hidden, heads, head_dim), name + "weight")
            _add(plan, bias, tensors.get(name + "bias", (hidden,)).reshape(heads, head_dim), name + "bias")
        name = prefix + "attention.output.dense."
        weight = tensors.get(name + "weight", (hidden, hidden))
        _add(plan, attention.output_kernel, weight.T.reshape(heads, head_dim, hidden), name + "weight")
        _add(plan, attention.output_bias, tensors.get(name + "bias", (hidden,)), name + "bias")
        _layer_norm(plan, tensors, block.self_attention_norm, prefix + "attention.output.LayerNorm.")
        _feed_forward(
            plan, tensors, block.feed_forward, prefix + "intermediate.dense.", prefix + "output.dense.", transposed=True
        )
        _layer_norm(plan, tensors, block.feed_forward_norm, prefix + "output.LayerNorm.")
    _dense(plan, tensors, backbone.pooler, "pooler.dense.", transposed=True)
    if head == "pretraining":
        missing = [name for name in ("cls.predictions.bias", "cls.seq_relationship.weight") if name not in tensors]
        if missing:
            raise ValueError(
                f"head='pretraining' needs the masked-LM and next-sentence heads, but {tensors.description} has no "
                f"'{missing[0]}' (a checkpoint of the encoder alone?); load it with head=None or 'classifier'."
            )
        _dense(plan, tensors, model.mlm_dense, "cls.predictions.transform.dense.", transposed=True)
        _layer_norm(plan, tensors, model.mlm_layer_norm, "cls.predictions.transform.LayerNorm.")
        _add(plan, model.mlm_bias.bias, tensors.get("cls.predictions.bias", (vocabulary,)), "cls.predictions.bias")
        _check_tied(tensors, "cls.predictions.decoder.weight", "embeddings.word_embeddings.weight")
        _check_tied(tensors, "cls.predictions.decoder.bias", "cls.predictions.bias")
        _dense(plan, tensors, model.nsp_head, "cls.seq_relationship.", transposed=True)
    # Buffers, and heads the model does not have (pre-training heads, a fine-tuned classifier).
    return lambda name: name == "embeddings.position_ids" or name.startswith(("cls.", "classifier."))


def _keras_hub_block(plan, tensors, block, prefix):
    """A KerasHub TransformerDecoder/Encoder's variables: already in our layout."""
    attention = block.self_attention
    for variable, name in (
        (attention.query_kernel, "_self_attention_layer/query_dense/vars/0"),
        (attention.query_bias, "_self_attention_layer/query_dense/vars/1"),
        (attention.key_kernel, "_self_attention_layer/key_dense/vars/0"),
        (attention.key_bias, "_self_attention_layer/key_dense/vars/1"),
        (attention.value_kernel, "_self_attention_layer/value_dense/vars/0"),
        (attention.value_bias, "_self_attention_layer/value_dense/vars/1"),
        (attention.output_kernel, "_self_attention_layer/output_dense/vars/0"),
        (attention.output_bias, "_self_attention_layer/output_dense/vars/1"),
        (block.self_attention_norm.gamma, "_self_attention_layer_norm/vars/0"),
        (block.self_attention_norm.beta, "_self_attention_layer_norm/vars/1"),
        (block.feed_forward.intermediate_kernel, "_feedforward_intermediate_dense/vars/0"),
        (block.feed_forward.intermediate_bias, "_feedforward_intermediate_dense/vars/1"),
        (block.feed_forward.output_kernel, "_feedforward_output_dense/vars/0"),
        (block.feed_forward.output_bias, "_feedforward_output_dense/vars/1"),
        (block.feed_forward_norm.gamma, "_feedforward_layer_norm/vars/0"),
        (block.feed_forward_norm.beta, "_feedforward_layer_norm/vars/1"),
    ):
        _keras_hub_variable(plan, tensors, variable, f"{prefix}/{name}")


def _keras_hub_variable(plan, tensors, variable, name):
    _add(plan, variable, tensors.get(name, tuple(variable.shape)), name)


def _plan_keras_hub_gpt2(lm, tensors, head, plan):
    backbone = lm.backbone
    embedding = backbone.token_embedding
    _keras_hub_variable(plan, tensors, embedding.embeddings, "token_embedding/vars/0")
    _keras_hub_variable(plan, tensors, embedding.position_embedding.embeddings, "position_embedding/vars/0")
    for index, block in enumerate(backbone.transformer_layers):
        _keras_hub_block(plan, tensors, block, f"transformer_layer_{index}")
    _keras_hub_variable(plan, tensors, backbone.layer_norm.gamma, "layer_norm/vars/0")
    _keras_hub_variable(plan, tensors, backbone.layer_norm.beta, "layer_norm/vars/1")
    if lm.lm_head is not None:
        raise ValueError(
            "KerasHub's GPT-2 ties its head to the token embedding; tie_embeddings=False has no weights to load."
        )
    return lambda name: False


def _plan_keras_hub_bert(model, tensors, head, plan):
    if head == "pretraining":
        raise ValueError(
            f"head='pretraining' needs a next-sentence head, and KerasHub's BERT presets have none "
            f"({tensors.description}); load it with head=None or 'classifier'."
        )
    backbone = model.backbone if head is not None else model
    embedding = backbone.token_embedding
    _keras_hub_variable(plan, tensors, embedding.embeddings, "token_embedding/vars/0")
    _keras_hub_variable(plan, tensors, embedding.position_embedding.embeddings, "position_embedding/vars/0")
    _keras_hub_variable(plan, tensors, embedding.segment_embedding.embeddings, "segment_embedding/vars/0")
    _keras_hub_variable(plan, tensors, backbone.embeddings_layer_norm.gamma, "embeddings_layer_norm/vars/0")
    _keras_hub_variable(plan, tensors, backbone.embeddings_layer_norm.beta, "embeddings_layer_norm/vars/1")
    for index, block in enumerate(backbone.transformer_layers):
        _keras_hub_block(plan, tensors, block, f"transformer_layer_{index}")
    _keras_hub_variable(plan, tensors, backbone.pooler.kernel, "pooled_dense/vars/0")
    _keras_hub_variable(plan, tensors, backbone.pooler.bias, "pooled_dense/vars/1")
    return lambda name: False
