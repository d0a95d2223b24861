"""`kerasnets serve`: the development REST and gRPC server, with `tensorflow_model_server`'s flags.

    kerasnets serve --model_name=half --model_base_path=$PWD/saved_models/half
    kerasnets serve --model_config_file=$PWD/saved_models/models.config --rest_api_port=8501
    python -m kerasnets.serving.cli ...            # the same, without the main CLI

Flags keep tensorflow_model_server's names, defaults and syntax (`--flag=value`
or `--flag value`; booleans also as a bare `--flag` or `--flag=false`):
`--rest_api_port`, `--model_name` ("default"), `--model_base_path`,
`--model_config_file`, `--model_config_file_poll_wait_seconds` (0),
`--file_system_poll_wait_seconds` (1), `--allow_version_labels_for_unavailable_models`,
`--rest_api_timeout_in_ms` (30000), `--rest_api_num_threads` (4 x CPUs),
`--saved_model_tags` ("serve"), `--enable_signature_method_name_check`,
`--port` (gRPC, 8500; 0 picks a free port, logged as `Running gRPC ModelServer
at HOST:PORT ...`), `--grpc_max_threads` (4 x CPUs), `--rest_api_enable_cors_support`,
`--monitoring_config_file` (a `MonitoringConfig`; Prometheus metrics on the
REST port), `--enable_model_warmup` (true) and
`--num_request_iterations_for_warmup` (0: each warm-up record once).

Where this server differs: `--rest_api_port` defaults to 8501 (the tensorflow/
serving image's REST port; TF Serving's default 0 disables REST) and 0 picks a
free port, logged as `Exporting HTTP/REST API at:localhost:PORT ...`; `--host`
(ours, default 127.0.0.1, so nothing outside this machine can reach it; use
`--host 0.0.0.0` to listen everywhere as TF Serving does); `--max_request_bytes`
(ours, default 16 MiB; larger bodies get 413, larger gRPC messages
RESOURCE_EXHAUSTED). Any other tensorflow_model_server flag (`--enable_batching`,
...) is refused by name with exit code 2.

Runs until Ctrl-C or SIGTERM, then stops cleanly (exit 0). A bad command line
or model config prints one line and exits with 2; a port that cannot be bound
exits with 1.
"""

import argparse
import logging
import os
import sys
import threading

USAGE_ERROR = 2
RUNTIME_ERROR = 1
PROG = "kerasnets serve"

# tensorflow_model_server flags this server does not implement (main.cc).
UNIMPLEMENTED_FLAGS = (
    "grpc_socket_path",
    "grpc_channel_arguments",
    "enable_per_model_batching_parameters",
    "num_load_threads",
    "num_unload_threads",
    "max_num_load_retries",
    "load_retry_interval_micros",
    "flush_filesystem_caches",
    "tensorflow_session_config_file",
    "use_alts_credentials",
    "ssl_config_file",
    "platform_config_file",
    "per_process_gpu_memory_fraction",
    "version",
    "remove_unused_fields_from_bundle_metagraph",
    "prefer_tflite_model",
    "num_tflite_pools",
    "num_tflite_interpreters_per_pool",
    "enable_profiler",
    "xla_cpu_compilation_enabled",
    "xla_gpu_compilation_enabled",
    "thread_pool_factory_config_file",
    "mixed_precision",
    "skip_initialize_tpu",
    "enable_grpc_healthcheck_service",
    "enable_serialization_as_tensor_content",
)


class _UsageError(Exception):
    pass


def _bool_flag(text):
    """TF's boolean flag values."""
    lowered = str(text).lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{text}'")


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def _positive_int(text):
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a positive integer, got 0")
    return value


def _port(text):
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port (0-65535), got {value}")
    return value


def _seconds(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got '{text}'") from None


def add_arguments(parser):
    """Add the `serve` flags to an `argparse` parser."""
    from kerasnets.serving.server import DEFAULT_GRPC_PORT, DEFAULT_HOST, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_REST_API_PORT

    add = parser.add_argument
    add("--rest_api_port", type=_port, default=DEFAULT_REST_API_PORT, metavar="PORT",
        help=f"port of the REST API (default {DEFAULT_REST_API_PORT}; 0 picks a free port)")
    add("--port", type=_port, default=DEFAULT_GRPC_PORT, metavar="PORT",
        help=f"port of the gRPC API (default {DEFAULT_GRPC_PORT}; 0 picks a free port)")
    add("--grpc_max_threads", type=_positive_int, default=None, metavar="N",
        help="gRPC request threads (default 4 x CPUs)")
    add("--host", default=DEFAULT_HOST,
        help=f"address to listen on (not a TF Serving flag; default {DEFAULT_HOST}; 0.0.0.0 for every interface)")
    add("--model_name", default="default", help='name of the single model (default "default")')
    add("--model_base_path", default="", metavar="PATH",
        help="absolute path of the model's versions directory (saved_models/NAME)")
    add("--model_config_file", default="", metavar="FILE",
        help="ModelServerConfig in protobuf text format; overrides --model_name/--model_base_path")
    add("--model_config_file_poll_wait_seconds", type=_seconds, default=0.0, metavar="SECONDS",
        help="re-read --model_config_file this often (default 0: read once)")
    add("--file_system_poll_wait_seconds", type=_seconds, default=1.0, metavar="SECONDS",
        help="look for new/removed versions this often (default 1; 0: look once at start)")
    add("--allow_version_labels_for_unavailable_models", type=_bool_flag, nargs="?", const=True,
        default=False, metavar="BOOL", help="allow new version labels to name versions not loaded yet")
    add("--rest_api_timeout_in_ms", type=int, default=30000, metavar="MS",
        help="time limit for running a model per request (default 30000; <= 0: none)")
    add("--rest_api_num_threads", type=_non_negative_int, default=0, metavar="N",
        help="request worker threads (default 4 x CPUs)")
    add("--saved_model_tags", default="serve", metavar="TAGS",
        help='comma-separated MetaGraphDef tags to load (default "serve")')
    add("--enable_signature_method_name_check", type=_bool_flag, nargs="?", const=True, default=False,
        metavar="BOOL", help=":classify/:regress require the signature's method_name to match")
    add("--rest_api_enable_cors_support", type=_bool_flag, nargs="?", const=True, default=False, metavar="BOOL",
        help="add CORS headers (Access-Control-Allow-Origin: *) to every REST answer")
    add("--pin_python_threads", type=_bool_flag, nargs="?", const=True, default=True, metavar="BOOL",
        help="run the server's Python threads on one core, TensorFlow's on all (Linux; not a TF Serving flag; "
        "default true)")
    add("--max_request_bytes", type=_non_negative_int, default=DEFAULT_MAX_REQUEST_BYTES, metavar="BYTES",
        help=f"largest request body accepted, 413 above (not a TF Serving flag; default {DEFAULT_MAX_REQUEST_BYTES})")
    add("--monitoring_config_file", default="", metavar="FILE",
        help="MonitoringConfig in protobuf text format, e.g. 'prometheus_config { enable: true }' "
        "serves metrics at /monitoring/prometheus/metrics on the REST port")
    add("--enable_model_warmup", type=_bool_flag, nargs="?", const=True, default=True, metavar="BOOL",
        help="replay assets.extra/tf_serving_warmup_requests before a version is AVAILABLE (default true)")
    add("--num_request_iterations_for_warmup", type=_non_negative_int, default=0, metavar="N",
        help="times each warm-up request is replayed (default 0: once)")
    add("--enable_batching", type=_bool_flag, nargs="?", const=True, default=False,
        help="enable batching of predict requests")
    add("--batching_parameters_file", default="",
        help="a BatchingParameters text file; used only with --enable_batching (TF Serving ignores it otherwise)")
    add("--tensorflow_session_parallelism", type=int, default=0, metavar="N",
        help="TensorFlow threads, intra-op and inter-op alike, unless one of the two below is set (default 0: auto)")
    add("--tensorflow_intra_op_parallelism", type=int, default=0, metavar="N",
        help="threads that parallelise one op (default 0: auto; 1 is fastest for small models on few cores)")
    add("--tensorflow_inter_op_parallelism", type=int, default=0, metavar="N",
        help="threads that run independent ops (default 0: auto)")
    for flag in UNIMPLEMENTED_FLAGS:
        add(f"--{flag}", dest=f"unimplemented_{flag}", nargs="?", const="", default=None, help=argparse.SUPPRESS)
    return parser


def add_parser(subparsers):
    """Add the `serve` subcommand to an existing `argparse` subparsers object; returns its parser."""
    parser = subparsers.add_parser(
        "serve",
        help="serve exported SavedModels over TensorFlow Serving's REST API (development server)",
        description="A development server that answers TensorFlow Serving's REST API exactly "
        "(GET /v1/models/NAME[/metadata], POST /v1/models/NAME:predict|classify|regress), "
        "with tensorflow_model_server's flags.",
        allow_abbrev=False,
    )
    return add_arguments(parser)


def _parser():
    return add_arguments(argparse.ArgumentParser(prog=PROG, allow_abbrev=False, description=__doc__.splitlines()[0]))


def _check_flags(args):
    for flag in UNIMPLEMENTED_FLAGS:
        if getattr(args, f"unimplemented_{flag}", None) is not None:
            raise _UsageError(f"--{flag} is a tensorflow_model_server flag this development server does not implement")
    if args.port and args.port == args.rest_api_port:
        # TF Serving logs this and skips REST; serving only half of what was asked is worse here.
        raise _UsageError(
            "server_options.http_port cannot be same as grpc_port. Please use a different port for HTTP/REST API."
        )


def tensorflow_parallelism(args):
    """`(intra-op, inter-op)` thread counts as tensorflow_model_server derives them from its three flags.

    Either intra/inter (0 in one of them: TensorFlow picks that one), or
    `--tensorflow_session_parallelism` for both; all three set is refused.
    0 means TensorFlow's own choice (all cores).
    """
    intra, inter = args.tensorflow_intra_op_parallelism, args.tensorflow_inter_op_parallelism
    session = args.tensorflow_session_parallelism
    if intra > 0 and inter > 0 and session > 0:
        raise _UsageError(
            "Either configure server_options.tensorflow_session_parallelism or "
            "(server_options.tensorflow_intra_op_parallelism, server_options.tensorflow_inter_op_parallelism) "
            "separately. You cannot configure all."
        )
    if intra > 0 or inter > 0:
        return intra, inter
    return session, session


def _apply_tensorflow_parallelism(intra, inter):
    """Set this process's TensorFlow thread pools (process-wide here; per session in TF Serving); 0 leaves one be."""
    if not intra and not inter:
        return
    import tensorflow as tf

    threads = tf.config.threading
    try:  # a second `run` in one process asks for what is set already: not an error
        if intra and threads.get_intra_op_parallelism_threads() != intra:
            threads.set_intra_op_parallelism_threads(intra)
        if inter and threads.get_inter_op_parallelism_threads() != inter:
            threads.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # TensorFlow has already run something in this process
        raise _UsageError(
            "--tensorflow_*_parallelism must be set before TensorFlow starts in this process "
            "(run kerasnets serve as its own process)"
        ) from None
    logging.getLogger("kerasnets.serving").info("TensorFlow threads: intra-op %s, inter-op %s",
                                                intra or "auto", inter or "auto")  # fmt: skip


def _model_config(args):
    from kerasnets.serving.model_manager import read_model_config_file, single_model_config

    if args.model_config_file:
        return read_model_config_file(args.model_config_file)
    if not args.model_base_path:
        raise _UsageError("Both server_options.model_base_path and server_options.model_config_file are empty!")
    return single_model_config(args.model_name, args.model_base_path)


def _batching_parameters(args):
    from kerasnets.serving.batching import BatchingParameters, read_batching_parameters_file
    from kerasnets.serving.status import StatusError

    if not args.enable_batching:
        return None
    if not args.batching_parameters_file:
        return BatchingParameters()
    try:
        return read_batching_parameters_file(args.batching_parameters_file)
    except OSError as error:
        raise _UsageError(f"cannot read {args.batching_parameters_file}: {error.strerror or error}") from None
    except StatusError as error:
        raise _UsageError(error.message) from None


def _configure_logging():
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname).1s %(name)s] %(message)s")
    logging.getLogger("kerasnets.serving").setLevel(logging.INFO)


def run(args):
    """Run `serve` with parsed `args`; returns the exit code."""
    try:
        _check_flags(args)
        intra, inter = tensorflow_parallelism(args)  # refused before anything loads
        from kerasnets.serving.server import ModelServer
        from kerasnets.serving.status import StatusError

        try:
            config = _model_config(args)
        except StatusError as error:
            raise _UsageError(error.message) from None
        monitoring_config = None
        if args.monitoring_config_file:
            from kerasnets.serving.monitoring import read_monitoring_config_file

            try:
                monitoring_config = read_monitoring_config_file(args.monitoring_config_file)
            except StatusError as error:
                raise _UsageError(f"Failed to start server. Error: {error.status_string()}") from None
        _configure_logging()
        _apply_tensorflow_parallelism(intra, inter)
        if not args.model_config_file:
            logging.getLogger("kerasnets.serving").info(
                "Building single TensorFlow model file config:  model_name: %s model_base_path: %s",
                args.model_name, args.model_base_path,
            )
        server = ModelServer(
            config,
            host=args.host,
            port=args.rest_api_port,
            max_request_bytes=args.max_request_bytes,
            rest_api_num_threads=args.rest_api_num_threads or None,
            rest_api_timeout_in_ms=args.rest_api_timeout_in_ms,
            enable_signature_method_name_check=args.enable_signature_method_name_check,
            grpc_port=args.port,
            grpc_max_threads=args.grpc_max_threads,
            rest_api_enable_cors_support=args.rest_api_enable_cors_support,
            pin_python_threads=args.pin_python_threads,
            freeze_gc=True,  # this process only serves: keep the loaded models out of the GC's walks
            file_system_poll_wait_seconds=args.file_system_poll_wait_seconds,
            allow_version_labels_for_unavailable_models=args.allow_version_labels_for_unavailable_models,
            saved_model_tags=[tag.strip() for tag in args.saved_model_tags.split(",") if tag.strip()],
            model_config_file=args.model_config_file or None,
            model_config_file_poll_wait_seconds=args.model_config_file_poll_wait_seconds,
            monitoring_config=monitoring_config,
            enable_model_warmup=args.enable_model_warmup,
            num_request_iterations_for_warmup=args.num_request_iterations_for_warmup,
            batching_parameters=_batching_parameters(args),
        )
        try:
            server.start()
        except KeyboardInterrupt:  # Ctrl-C while the models load
            server.stop()
            return 130
        except StatusError as error:
            raise _UsageError(f"Failed to start server. Error: {error.status_string()}") from None
        except OSError as error:
            port = args.rest_api_port if server.port is None else args.port
            print(f"{PROG}: cannot listen on {args.host}:{port}: {error.strerror or error}", file=sys.stderr)
            return RUNTIME_ERROR
        server.serve_forever()
        # A TF call cannot be interrupted: exit now rather than join a worker (REST or gRPC) still inside one.
        if server.inference_in_flight() or _threads_left_behind():
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        return 0
    except _UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return USAGE_ERROR


def _threads_left_behind():
    """Whether a non-daemon thread other than this one is alive (interpreter exit would wait for it)."""
    return any(t.is_alive() and not t.daemon and t is not threading.current_thread() for t in threading.enumerate())


def main(argv=None):
    """`python -m kerasnets.serving.cli [flags]`."""
    return run(_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
