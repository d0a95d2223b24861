"""Runs a script of `examples/` in its smoke mode, in this process, and checks its picture."""

import importlib.util
import pathlib
import uuid

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def load_example(name):
    """The module `examples/<name>.py`, imported under a unique name (the scripts are not a package)."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_png(path, min_size=(200, 150)):
    """`path` is a PNG that Pillow reads, at least `min_size` pixels; returns its (width, height)."""
    from PIL import Image

    path = pathlib.Path(path)
    assert path.is_file(), f"no picture at {path}"
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()  # a truncated file fails here
        width, height = image.size
    assert width >= min_size[0] and height >= min_size[1], f"{path.name} is only {width}×{height}"
    return width, height


@pytest.fixture
def run_example(tmp_path, capsys):
    """`run_example(name, *args)` calls `main(["--smoke", "--output-dir", tmp, *args])` of the example
    and returns `(results, printed, output_dir)`."""

    def run(name, *args):
        output_dir = tmp_path / name
        results = load_example(name).main(["--smoke", "--output-dir", str(output_dir), *args])
        return results, capsys.readouterr().out, output_dir

    return run
