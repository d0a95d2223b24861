import subprocess
import sys

import pytest

from kerasnets.cli import main, parse_assignment


def test_summary_prints_the_model(capsys):
    assert main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert 'Model: "lenet5"' in out and "61,706" in out


def test_preset_and_overrides(capsys):
    assert main(["summary", "gpt", "--set", "num_layers=1", "--set", "hidden_dim=32", "--set", "vocabulary_size=65"]) == 0
    out = capsys.readouterr().out
    assert "decoder_block_0" in out and "decoder_block_1" not in out
    assert main(["summary", "bert", "--preset", "bert_tiny", "--set", "num_layers=1"]) == 0
    assert "encoder_block_1" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["summary", "resnet"], "unknown architecture 'resnet'; choose from: all, mlp, lenet5"),
        (["summary", "bert", "--preset", "bert_huge"], "Valid presets: bert_base_uncased, bert_tiny"),
        (["summary", "lenet5", "--preset", "x"], "has no presets"),
        (["summary", "mlp", "--set", "widht=3"], "Unknown hyperparameter widht for mlp. Valid hyperparameters: input_shape"),
        (["summary", "mlp", "--set", "oops"], "--set expects key=value"),
        (["summary", "gpt", "--set", "num_heads=3"], "must be divisible by num_heads=3"),
        (["summary", "all", "--set", "dropout=0.1"], "not to 'all'"),
        (["serve", "--grpc_socket_path=/tmp/s", "--model_base_path=/tmp/m"], "--grpc_socket_path is a tensorflow_model_server flag"),
        (["serve"], "Both server_options.model_base_path and server_options.model_config_file are empty!"),
        (["demo", "--epochs", "0"], "--epochs must be at least 1"),
        (["train", "mlp-fashion_mnist", "--cpu-replicas", "2"], "--cpu-replicas needs --strategy mirrored"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err


def test_values_are_python_literals_or_words():
    assert parse_assignment("hidden_units=(64, 32)") == ("hidden_units", (64, 32))
    assert parse_assignment("dropout=0.1") == ("dropout", 0.1)
    assert parse_assignment("activation=relu") == ("activation", "relu")
    assert parse_assignment("attention=None") == ("attention", None)
    for word, value in (("true", True), ("false", False), ("null", None), ("none", None), ("False", False)):
        assert parse_assignment(f"jit_compile={word}") == ("jit_compile", value)  # as JSON / YAML spell them


def test_list_shows_presets_and_hyperparameters(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "bert_base_uncased" in out and "--set num_heads=" in out


def test_python_dash_m_entry_point_without_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "kerasnets", "summary", "nonsense"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "unknown architecture 'nonsense'" in result.stderr
