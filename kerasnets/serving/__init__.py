"""TensorFlow Serving's REST and gRPC APIs: a development server that answers them exactly, and a REST client.

    from kerasnets.serving import Client, ModelServer, single_model_config

    server = ModelServer(single_model_config("half", "/abs/saved_models/half"), port=0).start()
    client = Client(server.url, "half")
    client.predict(instances=[1.0, 2.0])       # TF Serving's "predictions"
    server.stop()

From the command line (tensorflow_model_server's flags):

    python -m kerasnets.serving.cli --model_name=half --model_base_path=$PWD/saved_models/half

Modules: `server` (routes, HTTP), `grpc_server` (PredictionService and
ModelService over the same manager), `model_manager` (config, versions, polling,
labels), `servable` (one loaded SavedModel), `json_tensor` (REST JSON <->
tensors), `json_codec` (rapidjson-compatible JSON text), `status` (error codes
-> HTTP), `python_runtime` (serving threads on one core, the GC frozen after loads),
`client`, `cli`.
"""

from kerasnets.serving.client import Client, ServingError
from kerasnets.serving.model_manager import (
    ModelManager,
    parse_model_config,
    read_model_config_file,
    single_model_config,
)
from kerasnets.serving.server import ModelServer, RestApiHandler, serve
from kerasnets.serving.status import Code, StatusError


# The command line lives in `kerasnets.serving.cli`; these wrappers import it on
# use, so `python -m kerasnets.serving.cli` does not find it already imported.
def add_parser(subparsers):
    """Add the `serve` subcommand to an argparse subparsers object (see `kerasnets.serving.cli`)."""
    from kerasnets.serving import cli

    return cli.add_parser(subparsers)


def run(args):
    """Run `serve` with parsed arguments; returns the exit code."""
    from kerasnets.serving import cli

    return cli.run(args)


def main(argv=None):
    """`kerasnets serve` as a standalone command: parse `argv` and run."""
    from kerasnets.serving import cli

    return cli.main(argv)

__all__ = [
    "Client",
    "Code",
    "ModelManager",
    "ModelServer",
    "RestApiHandler",
    "ServingError",
    "StatusError",
    "add_parser",
    "main",
    "parse_model_config",
    "read_model_config_file",
    "run",
    "serve",
    "single_model_config",
]
