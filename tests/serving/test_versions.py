"""Version discovery and policies, labels, and hot reload while serving."""

import os
import shutil
import time

import pytest
import requests

from kerasnets.serving import (
    Client,
    ModelManager,
    ModelServer,
    ServingError,
    parse_model_config,
    single_model_config,
)
from kerasnets.serving.status import Code, StatusError
from tests.serving.conftest import save_half_model, write_broken_version


def config_for(base_path, policy="", labels="", name="half"):
    return parse_model_config(
        f'model_config_list {{ config {{ name: "{name}" base_path: "{base_path}" model_platform: "tensorflow" '
        f"{policy} {labels} }} }}"
    )


def versions_and_states(manager, name="half"):
    return [(s.version, s.state) for s in manager.model_status(name)]


@pytest.mark.parametrize(
    "policy, loaded, latest",
    [
        ("", [(2, "AVAILABLE")], 2),
        ("model_version_policy { latest { num_versions: 0 } }", [(2, "AVAILABLE")], 2),
        ("model_version_policy { latest { num_versions: 2 } }", [(2, "AVAILABLE"), (1, "AVAILABLE")], 2),
        ("model_version_policy { all {} }", [(2, "AVAILABLE"), (1, "AVAILABLE")], 2),
        ("model_version_policy { specific { versions: 1 versions: 5 } }", [(1, "AVAILABLE")], 1),
    ],
)
def test_version_policies(saved_models, policy, loaded, latest):
    manager = ModelManager(config_for(saved_models["half"], policy), file_system_poll_wait_seconds=0).start()
    try:
        assert versions_and_states(manager) == loaded
        assert manager.servable("half").version == latest
    finally:
        manager.stop()


def test_only_int64_names_are_versions(tmp_path, saved_models):
    base = tmp_path / "half"
    shutil.copytree(f"{saved_models['half']}/1", base / "007")
    # Not numbers to absl::SimpleAtoi: suffixes, non-ASCII digits, out of int64, an export's staging dir.
    for ignored in ("v9", "tmp", "1.5", ".8", "\u00b2", "\u0663", "9" * 20, ".incomplete-12-x1y2"):
        shutil.copytree(f"{saved_models['half']}/2", base / ignored)
    manager = ModelManager(single_model_config("half", str(base)), file_system_poll_wait_seconds=0).start()
    try:
        assert versions_and_states(manager) == [(7, "AVAILABLE")]
    finally:
        manager.stop()


def test_a_file_named_as_a_number_is_a_version_that_fails(tmp_path, saved_models):
    # TF Serving indexes GetChildren's names without checking for directories.
    base = tmp_path / "half"
    shutil.copytree(f"{saved_models['half']}/1", base / "1")
    (base / "12").write_text("a file, not a SavedModel")
    manager = ModelManager(
        config_for(str(base), "model_version_policy { all {} }"), file_system_poll_wait_seconds=0
    ).start()
    try:
        statuses = {s.version: s for s in manager.model_status("half")}
        assert statuses[1].state == "AVAILABLE"
        assert (statuses[12].state, statuses[12].error_code) == ("END", Code.NOT_FOUND)
    finally:
        manager.stop()


def test_a_version_without_saved_model_pb_is_reported(tmp_path, saved_models):
    base = tmp_path / "half"
    shutil.copytree(f"{saved_models['half']}/1", base / "1")
    (base / "2" / "variables").mkdir(parents=True)  # e.g. a copy that has not got there yet
    manager = ModelManager(single_model_config("half", str(base)), file_system_poll_wait_seconds=0).start()
    try:
        (failed,) = manager.model_status("half")
        assert (failed.version, failed.state, failed.error_code) == (2, "END", Code.NOT_FOUND)
        assert failed.error_message == f"SavedModel file does not exist at: {base}/2/{{saved_model.pbtxt|saved_model.pb}}"
        # Latest-1 aspires only version 2, which failed: nothing serves (TF Serving does the same).
        with pytest.raises(StatusError):
            manager.servable("half")
    finally:
        manager.stop()


def test_missing_base_path_or_no_versions_is_reported_not_fatal(tmp_path, saved_models):
    (tmp_path / "empty").mkdir()
    config = parse_model_config(
        f'model_config_list {{ config {{ name: "gone" base_path: "{tmp_path}/gone" model_platform: "tensorflow" }}'
        f' config {{ name: "empty" base_path: "{tmp_path}/empty" model_platform: "tensorflow" }}'
        f' config {{ name: "half" base_path: "{saved_models["half"]}" model_platform: "tensorflow" }} }}'
    )
    with ModelServer(config, port=0, file_system_poll_wait_seconds=0) as server:
        for name in ("gone", "empty"):
            response = requests.get(f"{server.url}/v1/models/{name}", timeout=10)
            assert response.status_code == 404
            assert response.json() == {"error": f"Could not find any versions of model {name}"}
        assert Client(server.url, "half").predict(instances=[1.0]) == [3.5]


def test_labels_need_available_versions_unless_allowed(saved_models):
    labels = 'version_labels { key: "stable" value: 1 }'
    policy = "model_version_policy { all {} }"
    # At startup nothing is loaded yet, so TF Serving refuses labels without the flag.
    manager = ModelManager(config_for(saved_models["half"], policy, labels), file_system_poll_wait_seconds=0)
    with pytest.raises(StatusError) as caught:
        manager.start()
    assert caught.value.code == Code.FAILED_PRECONDITION
    assert caught.value.message == (
        "Request to assign label to version 1 of model half, which is not currently available for inference"
    )

    allowed = ModelManager(
        config_for(saved_models["half"], policy, labels + ' version_labels { key: "later" value: 3 }'),
        file_system_poll_wait_seconds=0,
        allow_version_labels_for_unavailable_models=True,
    ).start()
    try:
        assert allowed.servable("half", label="stable").version == 1
        assert allowed.labels("half") == {"stable": 1, "later": 3}
        # Moving an existing label to a version that is not available is refused even with the flag.
        with pytest.raises(StatusError) as moved:
            allowed.reload_config(config_for(saved_models["half"], policy, 'version_labels { key: "stable" value: 3 }'))
        assert moved.value.message.startswith("Request to assign label to version 3 of model half")
        assert allowed.labels("half") == {"stable": 1, "later": 3}  # the running config is kept
        # ... while moving it to a loaded version is fine, and labels left out disappear.
        allowed.reload_config(config_for(saved_models["half"], policy, 'version_labels { key: "stable" value: 2 }'))
        assert allowed.labels("half") == {"stable": 2}
        assert allowed.servable("half", label="stable").version == 2
    finally:
        allowed.stop()


def test_labels_through_a_reloaded_config_file(tmp_path, saved_models):
    config_file = tmp_path / "models.config"
    policy = "model_version_policy { all {} }"
    config_file.write_text(str(config_for(saved_models["half"], policy)))
    server = ModelServer(
        parse_model_config(config_file.read_text()), port=0, file_system_poll_wait_seconds=0,
        model_config_file=str(config_file), model_config_file_poll_wait_seconds=0.1,
    ).start()
    try:
        client = Client(server.url, "half")
        with pytest.raises(ServingError) as caught:
            client.predict(instances=[1.0], label="stable")
        assert (caught.value.status, caught.value.message) == (400, "Unrecognized servable version label: stable")
        # Both versions are loaded now, so a reloaded config may label them (no flag needed).
        staging = tmp_path / "models.config.tmp"
        staging.write_text(str(config_for(saved_models["half"], policy, 'version_labels { key: "stable" value: 1 }')))
        os.replace(staging, config_file)
        deadline = time.monotonic() + 10
        while server.manager.labels("half") != {"stable": 1} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.predict(instances=[1.0], label="stable") == [2.5]
    finally:
        server.stop()


def wait_for(condition, timeout=20.0):
    """Poll `condition` until it is true; a ServingError (e.g. a version not seen yet) counts as false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except ServingError:
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_hot_reload(tmp_path, saved_models):
    base = tmp_path / "half"
    shutil.copytree(f"{saved_models['half']}/1", base / "1")
    server = ModelServer(single_model_config("half", str(base)), port=0, file_system_poll_wait_seconds=0.1).start()
    client = Client(server.url, "half")
    try:
        assert client.predict(instances=[1.0]) == [2.5]

        # A new version copied in while serving (not atomically) is loaded, then served as latest;
        # the latest-1 policy drops version 1, which is unloaded.
        shutil.copytree(f"{saved_models['half']}/2", base / "2")
        wait_for(lambda: client.status()["model_version_status"][0]["state"] == "AVAILABLE"
                 and client.status()["model_version_status"][0]["version"] == "2"
                 and client.status()["model_version_status"][-1]["state"] == "END")
        assert client.predict(instances=[1.0]) == [3.5]
        status = client.status()["model_version_status"]
        assert [(s["version"], s["state"], s["status"]["error_code"]) for s in status] == [
            ("2", "AVAILABLE", "OK"), ("1", "END", "OK")]
        assert client.predict(instances=[1.0], version=2) == [3.5]

        # A broken version 3 is reported and version 2 keeps serving...
        write_broken_version(str(base / "3"))
        wait_for(lambda: client.status(version=3)["model_version_status"][0]["status"]["error_code"] == "DATA_LOSS")
        assert client.status(version=2)["model_version_status"][0]["state"] == "AVAILABLE"
        assert client.predict(instances=[1.0]) == [3.5]

        # ... until it is fixed: its files change, it is retried, loads, and replaces version 2.
        shutil.rmtree(base / "3")
        save_half_model(str(tmp_path / "staging"), offset=4.0)
        os.rename(tmp_path / "staging", base / "3")
        wait_for(lambda: client.status(version=3)["model_version_status"][0]["state"] == "AVAILABLE")
        wait_for(lambda: client.status(version=2)["model_version_status"][0]["state"] == "END")
        assert client.predict(instances=[1.0]) == [4.5]
        statuses = client.status()["model_version_status"]
        assert [s["version"] for s in statuses] == ["3", "2", "1"]
    finally:
        server.stop()


def test_removing_a_model_from_the_config_unloads_it(saved_models):
    manager = ModelManager(config_for(saved_models["half"]), file_system_poll_wait_seconds=0).start()
    try:
        manager.reload_config(config_for(saved_models["multi"], name="multi"))
        assert versions_and_states(manager) == [(2, "END")]  # history kept, as in TF Serving's monitor
        with pytest.raises(StatusError) as caught:
            manager.servable("half")
        assert caught.value.message == "Servable not found for request: Latest(half)"
        assert manager.servable("multi").version == 1
    finally:
        manager.stop()


def test_a_version_with_truncated_variables_is_data_loss(tmp_path):
    from kerasnets.serving import ModelManager, single_model_config
    from kerasnets.serving.status import Code
    from tests.serving.conftest import save_half_model

    save_half_model(str(tmp_path / "half" / "1"))
    variables = tmp_path / "half" / "1" / "variables" / "variables.data-00000-of-00001"
    variables.write_bytes(variables.read_bytes()[:2])
    manager = ModelManager(single_model_config("half", str(tmp_path / "half")))
    manager.start()
    try:
        (status,) = manager.model_status("half")
    finally:
        manager.stop()
    assert status.error_code == Code.DATA_LOSS
    assert "truncated or corrupted" in status.error_message and str(tmp_path) in status.error_message
