"""The plain install path: `pip install .` into a fresh venv, then the documented protos step.

`requirements.txt` (`pip install --no-deps -r requirements.txt -e .`) is what
every other test runs on; this one checks that setup.cfg's install_requires
alone give a package whose `kerasnets export` and serving work once
`pip install --no-deps tensorflow-serving-api==2.21.0` has added TF Serving's
protos, and that before that step the commands say what to install.
About a minute here (pip takes the tensorflow-cpu wheel from its cache).
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVING_API = "tensorflow-serving-api==2.21.0"


def run(*command, cwd, timeout=600):
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def copy_source(destination):
    """The files a build reads, so pip's build/ and egg-info stay out of the checkout."""
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy(os.path.join(REPO, name), destination)
    shutil.copytree(
        os.path.join(REPO, "kerasnets"), os.path.join(destination, "kerasnets"),
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )


CHECK_SERVING = textwrap.dedent(
    """
    import sys
    import grpc, prometheus_client, rapidjson  # serving's own dependencies, from install_requires
    import kerasnets.serving as serving
    assert serving.__file__.startswith(sys.prefix), serving.__file__  # the venv's copy, not the checkout
    manager = serving.ModelManager(serving.read_model_config_file(sys.argv[1]), file_system_poll_wait_seconds=0)
    manager.start()
    try:
        print([(s.version, s.state) for s in manager.model_status("tiny")])
        print(manager.servable("tiny").version)
    finally:
        manager.stop()
    """
)


@pytest.fixture
def venv(tmp_path):
    path = tmp_path / "venv"
    yield path
    shutil.rmtree(path, ignore_errors=True)  # about 2 GB with TensorFlow: not kept in pytest's tmp dirs


def test_plain_pip_install_then_serving_api_no_deps(tmp_path, venv):
    source, work = tmp_path / "src", tmp_path / "work"
    source.mkdir()
    work.mkdir()
    copy_source(source)
    created = run(sys.executable, "-m", "venv", str(venv), cwd=work)
    assert created.returncode == 0, created.stderr
    python, kerasnets = str(venv / "bin" / "python"), str(venv / "bin" / "kerasnets")

    installed = run(python, "-m", "pip", "install", "-q", str(source), cwd=work)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    model = run(
        python, "-c",
        "import keras; x = keras.Input((3,), name='x'); "
        "keras.Model(x, keras.layers.Dense(2, activation='softmax')(x)).save('tiny.keras')",
        cwd=work,
    )
    assert model.returncode == 0, model.stderr

    helped = run(kerasnets, "serve", "--help", cwd=work)
    assert helped.returncode == 0 and "--model_base_path" in helped.stdout, helped.stderr
    refused = run(kerasnets, "export", "tiny.keras", "--name", "tiny", "--base-dir", "sm", cwd=work)
    assert refused.returncode == 1
    assert f"pip install --no-deps {SERVING_API}" in refused.stderr.strip().splitlines()[-1]
    assert not os.path.exists(work / "sm")

    protos = run(python, "-m", "pip", "install", "-q", "--no-deps", SERVING_API, cwd=work)
    assert protos.returncode == 0, protos.stdout + protos.stderr
    exported = run(kerasnets, "export", "tiny.keras", "--name", "tiny", "--base-dir", "sm", cwd=work)
    assert exported.returncode == 0, exported.stderr
    assert "Exported 'tiny' version 1" in exported.stdout
    served = run(python, "-c", CHECK_SERVING, str(work / "sm" / "models.config"), cwd=work)
    assert served.returncode == 0, served.stderr
    assert served.stdout.split("\n")[:2] == ["[(1, 'AVAILABLE')]", "1"]
