"""`models.config`: TensorFlow Serving's model-config file, kept in step with the exports.

The file is a `ModelServerConfig` protocol buffer in text format (the format
`tensorflow_model_server --model_config_file=…` reads), for example

    model_config_list {
      config {
        name: "lenet5"
        base_path: "/home/me/kerasnets/saved_models/lenet5"
        model_platform: "tensorflow"
      }
    }

We read and write it with TF Serving's own protos (`tensorflow-serving-api`),
so entries a user edited by hand (version policies, labels) survive an update.
"""

import os

from google.protobuf import text_format

from kerasnets import files

CONFIG_FILENAME = "models.config"


def _protos():
    try:
        from tensorflow_serving.config import model_server_config_pb2
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError(
            "TensorFlow Serving's protos are missing: "
            "pip install --no-deps tensorflow-serving-api==2.21.0"
        ) from error
    return model_server_config_pb2


def read_model_config(path):
    """Parses a TF Serving model-config file; raises ValueError naming the file if malformed."""
    protos = _protos()
    config = protos.ModelServerConfig()
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise ValueError(f"{path} is not a valid TensorFlow Serving model config: {error}") from None
    return config


def update_model_config(base_dir, name, base_path=None):
    """Adds (or refreshes) the entry for model `name` in `<base_dir>/models.config`.

    Args:
        base_dir: The export root (`saved_models/`).
        name: The model name: the `{name}` of `/v1/models/{name}`.
        base_path: The path written into the entry; by default the absolute path
            of `<base_dir>/<name>`. Pass e.g. `/models/<name>` for a container
            that mounts the export root at `/models`.

    Returns:
        The path of the config file.
    """
    protos = _protos()
    path = os.path.join(base_dir, CONFIG_FILENAME)
    config = read_model_config(path) if os.path.exists(path) else protos.ModelServerConfig()
    if config.WhichOneof("config") == "custom_model_config":
        raise ValueError(f"{path} holds a custom_model_config; kerasnets only edits model_config_list.")
    base_path = base_path or os.path.abspath(os.path.join(base_dir, name))
    entries = config.model_config_list.config
    entry = next((existing for existing in entries if existing.name == name), None)
    if entry is None:
        entry = entries.add()
        entry.name = name
    entry.base_path = base_path
    entry.model_platform = "tensorflow"

    os.makedirs(base_dir, exist_ok=True)
    files.write_text(path, text_format.MessageToString(config))  # readers see the old file or the new one
    return path
