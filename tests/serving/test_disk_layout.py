"""TF Serving's disk format (kerasnets.serving.disk_layout), shared by export and serving."""

import os
import signal
import subprocess
import sys
import time

import pytest

from kerasnets.serving import disk_layout, read_model_config_file
from kerasnets.serving.model_manager import list_versions as serving_list_versions
from kerasnets.serving.status import Code, StatusError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    "name, version",
    [
        ("1", 1),
        ("007", 7),  # leading zeros: still version 7
        ("0", 0),
        ("-1", -1),  # SimpleAtoi takes a sign
        ("+3", 3),
        (" 4\t", 4),  # and surrounding ASCII whitespace
        (str(INT64_MAX), INT64_MAX),
        (str(-(2**63)), -(2**63)),
        ("0" * 300 + "5", 5),
        ("\u00b2", None),  # superscript two: str.isdigit() says yes
        ("\u0663", None),  # Arabic-Indic three: int() reads it as 3
        ("\uff17", None),  # fullwidth seven
        ("9" * 20, None),  # out of int64
        (str(2**63), None),
        (str(-(2**63) - 1), None),
        ("1" * 5000, None),  # more digits than int() converts by default
        ("1.5", None),
        ("v2", None),
        ("", None),
        ("-", None),
        ("1 2", None),
        ("\u00a07", None),  # no-break space is not ASCII whitespace
        (".incomplete-3-abcd", None),
    ],
)
def test_version_rule_is_simple_atoi_int64(name, version):
    assert disk_layout.parse_version(name) == version


@pytest.mark.parametrize("bad", ["\u00b2", "\u0663", "-1", "0", 0, -4, "9" * 20, 2**63, "1.5", " 1", True, 1.0, None])
def test_export_versions_are_positive_int64(bad):
    with pytest.raises(ValueError, match="positive integer"):
        disk_layout.check_version(bad)


def test_export_version_accepted_forms():
    assert [disk_layout.check_version(v) for v in (1, "12", "007", INT64_MAX)] == [1, 12, 7, INT64_MAX]


def make_dirs(base, *names):
    for name in names:
        os.makedirs(os.path.join(base, name))


def test_listing_ignores_staging_and_non_versions(tmp_path):
    base = str(tmp_path / "m")
    make_dirs(base, "1", "007", "-2", ".incomplete-9-x1y2", ".incomplete-10-zz", "\u00b2", "\u0663", "9" * 20, "tmp")
    with open(os.path.join(base, "12"), "w") as handle:
        handle.write("a file: TF Serving still reads it as a version")
    assert disk_layout.list_versions(base) == [-2, 1, 7, 12]
    assert disk_layout.next_version(base) == 13
    served = serving_list_versions("m", base)
    assert served == {-2: f"{base}/-2", 1: f"{base}/1", 7: f"{base}/007", 12: f"{base}/12"}
    assert disk_layout.list_versions(str(tmp_path / "missing")) == []
    assert disk_layout.next_version(str(tmp_path / "missing")) == 1


def test_duplicate_versions_use_the_bytewise_last_name(tmp_path):
    base = str(tmp_path / "m")
    make_dirs(base, "007", "07", "7", "0008", "08")
    seen = []
    children = disk_layout.version_children(base, on_duplicate=lambda *args: seen.append(args))
    assert children == {7: "7", 8: "08"}
    assert seen == [(7, "07", "007"), (8, "08", "0008"), (7, "7", "07")]  # in byte order: 0008 007 07 08 7


def test_next_version_past_int64_is_an_error(tmp_path):
    base = str(tmp_path / "m")
    make_dirs(base, str(INT64_MAX))
    with pytest.raises(ValueError, match="largest"):
        disk_layout.next_version(base)


def test_models_config_round_trip(tmp_path):
    base = str(tmp_path / "saved_models")
    path = disk_layout.update_model_config(base, "lenet5")
    assert path == disk_layout.model_config_path(base) == os.path.join(base, "models.config")
    # A hand edit (version policy, label, another model) survives the next export's update.
    config = disk_layout.read_model_config(path)
    (entry,) = config.model_config_list.config
    entry.model_version_policy.specific.versions.extend([1, 2])
    entry.version_labels["stable"] = 1
    other = config.model_config_list.config.add()
    other.name, other.base_path, other.model_platform = "other", "/models/other", "tensorflow"
    disk_layout.write_model_config(path, config)
    disk_layout.update_model_config(base, "lenet5", base_path="/models/lenet5")
    disk_layout.update_model_config(base, "gpt")

    reread = disk_layout.read_model_config(path)
    assert [(m.name, m.base_path) for m in reread.model_config_list.config] == [
        ("lenet5", "/models/lenet5"),
        ("other", "/models/other"),
        ("gpt", os.path.abspath(os.path.join(base, "gpt"))),
    ]
    lenet = reread.model_config_list.config[0]
    assert list(lenet.model_version_policy.specific.versions) == [1, 2]
    assert dict(lenet.version_labels) == {"stable": 1}
    text = disk_layout.format_model_config(reread)
    assert disk_layout.parse_model_config(text) == reread
    assert read_model_config_file(path) == reread  # the server reads the same file the same way
    assert not [name for name in os.listdir(base) if name != "models.config"]  # no temporary left


def test_malformed_models_config_errors(tmp_path):
    path = tmp_path / "models.config"
    path.write_text('model_config_list { config { name: "a" bogus: 1 } }')
    expected = (
        f"Invalid protobuf file: '{path}' "
        '(1:40 : Message type "tensorflow.serving.ModelConfig" has no field named "bogus".)'
    )
    with pytest.raises(ValueError) as export_side:
        disk_layout.read_model_config(str(path))
    assert str(export_side.value) == expected
    with pytest.raises(StatusError) as serving_side:
        read_model_config_file(str(path))
    assert (serving_side.value.code, serving_side.value.message) == (Code.INVALID_ARGUMENT, expected)
    path.write_bytes(b'model_config_list { config { name: "\xff" } }')
    with pytest.raises(ValueError, match="Invalid protobuf file"):
        disk_layout.read_model_config(str(path))
    with pytest.raises(ValueError, match="custom_model_config"):
        path.write_text('custom_model_config { type_url: "x" }')
        disk_layout.update_model_config(str(tmp_path), "a")


def test_file_names_beside_models_config(tmp_path):
    base = str(tmp_path)
    assert disk_layout.batching_parameters_path(base) == os.path.join(base, "batching_parameters.txt")
    assert disk_layout.monitoring_config_path(base) == os.path.join(base, "monitoring_config.txt")


# --------------------------------------------------------------------------
# Staging directories of killed exports
# --------------------------------------------------------------------------


def age(path, seconds):
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_old_unlocked_staging_is_removed_fresh_one_kept(tmp_path):
    base = str(tmp_path / "m")
    make_dirs(base, ".incomplete-4-old", ".incomplete-5-fresh")
    with open(os.path.join(base, ".incomplete-4-old", "saved_model.pb"), "wb") as handle:
        handle.write(b"half a model")
    with open(os.path.join(base, ".incomplete-6-file"), "w") as handle:
        handle.write("not a directory: not ours to remove")
    age(os.path.join(base, ".incomplete-4-old"), disk_layout.STALE_STAGING_SECONDS + 60)
    age(os.path.join(base, ".incomplete-6-file"), disk_layout.STALE_STAGING_SECONDS + 60)

    with disk_layout.atomic_version_directory(base, 1) as staging:
        assert os.path.basename(staging).startswith(".incomplete-1-")
        with open(os.path.join(staging, "saved_model.pb"), "wb") as handle:
            handle.write(b"model")
    assert sorted(os.listdir(base)) == [".incomplete-5-fresh", ".incomplete-6-file", "1"]
    assert os.listdir(os.path.join(base, "1")) == ["saved_model.pb"]


HOLD_STAGING = """
import sys, time
from kerasnets.serving import disk_layout
with disk_layout.atomic_version_directory(sys.argv[1], 5) as staging:
    open(staging + "/saved_model.pb", "wb").write(b"part of a model")
    print(staging, flush=True)
    time.sleep(600)
"""


def test_killed_export_staging_is_removed_by_the_next_export_live_one_kept(tmp_path):
    import keras

    from kerasnets.export import export_model

    base = str(tmp_path / "saved_models")
    model_dir = os.path.join(base, "tiny")
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_STAGING, model_dir], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        staging = child.stdout.readline().strip()
        assert os.path.basename(staging).startswith(".incomplete-5-"), staging
        age(staging, 3600)  # old, but its export is alive and holds the lock

        inputs = keras.Input((3,))
        model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
        assert export_model(model, "tiny", base_dir=base).version == 1
        assert os.path.isdir(staging)
        assert serving_list_versions("tiny", model_dir) == {1: f"{model_dir}/1"}

        child.send_signal(signal.SIGKILL)  # dies mid-export: no cleanup code runs
        child.wait(timeout=30)
        assert os.path.isdir(staging)
        assert export_model(model, "tiny", base_dir=base).version == 2
        assert sorted(os.listdir(model_dir)) == ["1", "2"]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
