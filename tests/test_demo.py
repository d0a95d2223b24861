"""`kerasnets demo` end to end on a slice of real Fashion-MNIST: train, export, serve, predict, stop."""

import json
import socket

import pytest

from kerasnets import demo
from kerasnets.data import data_root


def test_demo_trains_through_the_recipe_exports_serves_and_stops(tmp_path, capsys):
    if data_root() is None or not (data_root() / "fashion_mnist").is_dir():
        pytest.skip("no offline Fashion-MNIST (../shared/data/fashion_mnist)")
    port = demo.free_port()
    accuracy, predictions = demo.run(
        epochs=1, base_dir=str(tmp_path / "exports"), port=port, train_split="train[:512]", test_split="test[:64]",
        output=str(tmp_path / "run"),
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert 0.0 <= accuracy <= 1.0
    assert len(predictions) == demo.REQUEST_IMAGES == 8
    assert all(p["label"] in demo.FASHION_MNIST_CLASSES for p in predictions)
    assert "predicted" in printed and "correct over REST" in printed
    assert "Total params: 61,706" in printed
    assert printed.index("Total params") < printed.index("val_accuracy")  # the summary, then fit
    assert (tmp_path / "exports" / "lenet5" / "1" / "saved_model.pb").exists()
    assert (tmp_path / "exports" / "models.config").exists()
    # The run went through the recipe and its trainer: its records say so.
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["recipe"] == demo.RECIPE and metrics["epochs"] == 1 and metrics["accuracy"] == accuracy
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert config["train_split"] == "train[:512]" and config["activation"] == "relu"
    assert metrics["steps"] == 4  # 512 images / the recipe's batch of 128
    with socket.socket() as probe:  # the server is gone: nobody listens on its port
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections may linger in TIME_WAIT
        probe.bind(("127.0.0.1", port))
