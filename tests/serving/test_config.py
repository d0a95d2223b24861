"""Model server config files: TF Serving's protobuf text format and its validation messages."""

import pytest

from kerasnets.serving import ModelManager, parse_model_config, read_model_config_file, single_model_config
from kerasnets.serving.model_manager import validate_model_config, validate_model_platforms
from kerasnets.serving.status import Code, StatusError

EXAMPLE = """
model_config_list {
  config {
    name: "half"
    base_path: "/models/half"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
  config { name: 'b' base_path: "/m/b", model_platform: "tensorflow";
           model_version_policy: { latest { num_versions: 2 } } }
  config { name: "c" base_path: "gs://bucket/c" model_platform: "tensorflow" model_version_policy { all {} } }
}
"""


def test_parses_tf_servings_text_format():
    config = parse_model_config(EXAMPLE)
    half, b, c = config.model_config_list.config
    assert (half.name, half.base_path) == ("half", "/models/half")
    assert half.model_version_policy.WhichOneof("policy_choice") == "specific"
    assert list(half.model_version_policy.specific.versions) == [1, 2]
    assert dict(half.version_labels) == {"stable": 1, "canary": 2}
    assert b.model_version_policy.latest.num_versions == 2
    assert c.model_version_policy.WhichOneof("policy_choice") == "all"
    validate_model_config(config)
    validate_model_platforms(config)


def test_single_model_config_is_build_single_model_config():
    config = single_model_config("default", "/abs/saved_models/lenet5")
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == ("default", "/abs/saved_models/lenet5", "tensorflow")
    assert model.model_version_policy.WhichOneof("policy_choice") is None  # latest 1


def test_malformed_config_file(tmp_path):
    path = tmp_path / "models.config"
    path.write_text('model_config_list { config { nme: "x" } }')
    with pytest.raises(StatusError) as caught:
        read_model_config_file(str(path))
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert caught.value.message == (
        f"Invalid protobuf file: '{path}' "
        '(1:30 : Message type "tensorflow.serving.ModelConfig" has no field named "nme".)'
    )
    with pytest.raises(StatusError) as missing:
        read_model_config_file(str(tmp_path / "nope.config"))
    assert missing.value.code == Code.NOT_FOUND
    assert missing.value.message == f"{tmp_path}/nope.config; No such file or directory"


@pytest.mark.parametrize(
    "text, message",
    [
        ('model_config_list { config { name: "a" base_path: "/a" model_platform: "tensorflow" }'
         ' config { name: "a" base_path: "/b" model_platform: "tensorflow" } }',
         "Illegal to list model a multiple times in config list"),
        ('model_config_list { config { name: "a" base_path: "saved_models/a" model_platform: "tensorflow" } }',
         "Expected model a to have an absolute path or URI; got base_path()=saved_models/a"),
    ],
)
def test_invalid_config_lists(text, message):
    with pytest.raises(StatusError) as caught:
        validate_model_config(parse_model_config(text))
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert caught.value.message == message


@pytest.mark.parametrize(
    "fields, message",
    [
        ("", "Illegal setting neither ModelServerConfig::model_type (deprecated) nor ModelServerConfig::model_platform."),
        ('model_platform: "tensorflow" model_type: TENSORFLOW',
         "Illegal setting both ModelServerConfig::model_type (deprecated) and ModelServerConfig::model_platform."),
        ('model_platform: "pytorch"', "Model a requests unsupported platform pytorch"),
    ],
)
def test_invalid_platforms(fields, message):
    config = parse_model_config(f'model_config_list {{ config {{ name: "a" base_path: "/a" {fields} }} }}')
    with pytest.raises(StatusError) as caught:
        ModelManager(config, file_system_poll_wait_seconds=0).start()
    assert caught.value.message == message


def test_deprecated_model_type_still_works():
    config = parse_model_config('model_config_list { config { name: "a" base_path: "/a" model_type: TENSORFLOW } }')
    validate_model_platforms(config)


def test_custom_model_config_is_refused():
    config = parse_model_config('custom_model_config { type_url: "x" value: "" }')
    with pytest.raises(StatusError) as caught:
        validate_model_config(config)
    assert caught.value.code == Code.FAILED_PRECONDITION


def test_an_empty_config_changes_nothing(saved_models):
    manager = ModelManager(single_model_config("half", saved_models["half"]), file_system_poll_wait_seconds=0).start()
    try:
        manager.reload_config(parse_model_config(""))  # e.g. a config file caught half-written
        assert manager.servable("half").version == 2
    finally:
        manager.stop()
