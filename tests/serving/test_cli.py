"""`kerasnets serve`: tensorflow_model_server's flags, refusals by name, startup errors, clean shutdown."""

import argparse
import signal
import socket

import pytest
import requests

from kerasnets.serving import cli
from tests.serving.conftest import serve_subprocess


def parse(argv):
    parser = argparse.ArgumentParser(prog="kerasnets")
    commands = parser.add_subparsers(dest="command", required=True)
    cli.add_parser(commands)
    return parser.parse_args(argv)


def test_add_parser_uses_tf_servings_flag_names_and_defaults():
    args = parse(["serve", "--model_base_path", "/abs/half"])
    assert args.command == "serve"
    assert (args.rest_api_port, args.host, args.model_name, args.model_config_file) == (8501, "127.0.0.1", "default", "")
    assert args.file_system_poll_wait_seconds == 1.0
    assert args.rest_api_timeout_in_ms == 30000
    assert args.allow_version_labels_for_unavailable_models is False
    assert args.max_request_bytes == 16 * 1024 * 1024
    assert (args.port, args.grpc_max_threads) == (8500, None)
    assert args.pin_python_threads is True
    assert parse(["serve", "--pin_python_threads=false"]).pin_python_threads is False
    args = parse(["serve", "--model_name=half", "--rest_api_port=0", "--allow_version_labels_for_unavailable_models",
                  "--enable_signature_method_name_check=false", "--host", "0.0.0.0", "--file_system_poll_wait_seconds", "5"])
    assert (args.model_name, args.rest_api_port, args.host) == ("half", 0, "0.0.0.0")
    assert args.allow_version_labels_for_unavailable_models is True
    assert args.enable_signature_method_name_check is False
    assert args.file_system_poll_wait_seconds == 5.0


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--grpc_channel_arguments=grpc.max_connection_age_ms=1000"], "grpc_channel_arguments"),
        (["--enable_per_model_batching_parameters"], "enable_per_model_batching_parameters"),
        (["--enable_per_model_batching_parameters=true"], "enable_per_model_batching_parameters"),
        (["--tensorflow_session_config_file", "/tmp/c"], "tensorflow_session_config_file"),
        (["--mixed_precision=bfloat16"], "mixed_precision"),
        (["--grpc_socket_path=/tmp/s"], "grpc_socket_path"),
    ],
)
def test_unimplemented_flags_are_refused_by_name(capsys, argv, flag):
    code = cli.run(parse(["serve", "--model_base_path=/abs/half"] + argv))
    assert code == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"kerasnets serve: --{flag} is a tensorflow_model_server flag this development server does not implement\n"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "kerasnets serve: Both server_options.model_base_path and server_options.model_config_file are empty!"),
        (["--model_base_path=saved_models/half"],
         "kerasnets serve: Failed to start server. Error: INVALID_ARGUMENT: "
         "Expected model default to have an absolute path or URI; got base_path()=saved_models/half"),
    ],
)
def test_startup_errors_are_one_line(capsys, argv, message):
    assert cli.run(parse(["serve", "--rest_api_port=0", "--port=0"] + argv)) == 2
    assert capsys.readouterr().err == message + "\n"


def test_malformed_config_file(capsys, tmp_path):
    config = tmp_path / "models.config"
    config.write_text('model_config_list { config { name: "x" base_path: "/x" model_platform: "tensorflow" ')
    assert cli.main([f"--model_config_file={config}", "--rest_api_port=0", "--port=0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kerasnets serve: Invalid protobuf file: '{config}' (")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_labels_at_startup_need_the_flag(capsys, saved_models, tmp_path):
    config = tmp_path / "models.config"
    config.write_text(
        f'model_config_list {{ config {{ name: "half" base_path: "{saved_models["half"]}" model_platform: "tensorflow"'
        ' version_labels { key: "stable" value: 2 } } }'
    )
    assert cli.main([f"--model_config_file={config}", "--rest_api_port=0", "--port=0"]) == 2
    assert capsys.readouterr().err == (
        "kerasnets serve: Failed to start server. Error: FAILED_PRECONDITION: Request to assign label to version 2 "
        "of model half, which is not currently available for inference\n"
    )


def test_port_in_use(capsys, saved_models):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = cli.main([f"--model_base_path={saved_models['half']}", f"--rest_api_port={port}", "--port=0"])
        assert code == 1
        assert capsys.readouterr().err.startswith(f"kerasnets serve: cannot listen on 127.0.0.1:{port}: ")
        code = cli.main([f"--model_base_path={saved_models['half']}", "--rest_api_port=0", f"--port={port}"])
        assert code == 1
        assert capsys.readouterr().err == f"kerasnets serve: cannot listen on 127.0.0.1:{port}: Address already in use\n"


@pytest.mark.parametrize(
    "argv, threads",
    [
        ([], (0, 0)),
        (["--tensorflow_session_parallelism=3"], (3, 3)),
        (["--tensorflow_intra_op_parallelism=1"], (1, 0)),
        (["--tensorflow_inter_op_parallelism=2"], (0, 2)),
        (["--tensorflow_session_parallelism=3", "--tensorflow_intra_op_parallelism=1"], (1, 0)),  # intra/inter win
        (["--tensorflow_intra_op_parallelism=1", "--tensorflow_inter_op_parallelism=2"], (1, 2)),
    ],
)
def test_tensorflow_parallelism_is_derived_as_tf_serving_does(argv, threads):
    assert cli.tensorflow_parallelism(parse(["serve", "--model_base_path=/abs/half"] + argv)) == threads


def test_all_three_parallelism_flags_are_refused(capsys):
    argv = ["--model_base_path=/abs/half", "--tensorflow_session_parallelism=2", "--tensorflow_intra_op_parallelism=1",
            "--tensorflow_inter_op_parallelism=1"]  # fmt: skip
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (
        "kerasnets serve: Either configure server_options.tensorflow_session_parallelism or "
        "(server_options.tensorflow_intra_op_parallelism, server_options.tensorflow_inter_op_parallelism) "
        "separately. You cannot configure all.\n"
    )


def test_grpc_and_rest_ports_must_differ(capsys):
    assert cli.main(["--model_base_path=/abs/half", "--rest_api_port=9000", "--port=9000"]) == 2
    assert capsys.readouterr().err == (
        "kerasnets serve: server_options.http_port cannot be same as grpc_port. "
        "Please use a different port for HTTP/REST API.\n"
    )


def _grpc_latest_version(port, name):
    import grpc
    from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        response = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, 10.0)
    return response.model_version_status[0].version


def test_serves_until_sigterm(saved_models):
    """The real command in a subprocess: TF Serving's startup lines, a request, then a clean SIGTERM stop."""
    with serve_subprocess(["--model_name=half", f"--model_base_path={saved_models['half']}", "--rest_api_port=0",
                           "--port=0", "--file_system_poll_wait_seconds=0", "--tensorflow_intra_op_parallelism=1"],
                          timeout=60) as served:  # fmt: skip
        port, grpc_port = served.rest_port, served.grpc_port
        assert grpc_port and grpc_port != port, "no 'Running gRPC ModelServer at 127.0.0.1:PORT ...' line"
        status = requests.get(f"http://127.0.0.1:{port}/v1/models/half", timeout=10).json()
        assert status["model_version_status"][0]["version"] == "2"
        assert _grpc_latest_version(grpc_port, "half") == 2
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=30) == 0
    output = served.output()
    assert any("Server stopped." in line for line in output)
    assert any("TensorFlow threads: intra-op 1, inter-op auto" in line for line in output)
    assert not any("Traceback" in line for line in output)
