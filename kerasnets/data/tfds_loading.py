"""`load()`: tensorflow-datasets as the front door, offline from the data root.

    ds = kerasnets.data.load("mnist", split="train", as_supervised=True)

For every dataset this picks a tfds builder and a `manual_dir`:

* the data root holds the dataset's upstream files (`<root>/<folder>/<file>`):
  tfds' own builder (mnist, fashion_mnist, tiny_shakespeare, glue/mrpc,
  ted_hrlr_translate/*) reads them through
  `tfds.download.DownloadConfig(manual_dir=<root>/<folder>)` and verifies
  their size and SHA-256; the copies that tfds' own builders cannot read
  (GLUE SST-2 and CoLA as TSV files, IMDB as TSV, the English–Spanish pairs)
  go through the project's builders in `kerasnets.data.builders`, which give
  the same features and split names as tfds' `glue/sst2`, `glue/cola` and
  `imdb_reviews` (and check the files' SHA-256 too);
* the files are not there: tfds downloads as usual (spa_eng: from the URL the
  Keras and TF tutorials use, checksum-verified);
* neither works: one `DatasetNotFoundError` saying where it looked and which
  file to put there.

A dataset already prepared in `data_dir` is read without looking further.
Prepared TFRecords go to `data_dir` (None: tfds' default, `$TFDS_DATA_DIR` or
`~/tensorflow_datasets`).
"""

import contextlib
import dataclasses
import pathlib
import shutil
import tempfile

from kerasnets.data.locations import find_data_root, missing_files, not_found_error


@dataclasses.dataclass(frozen=True)
class Source:
    """How one dataset is found.

    Attributes:
        folder: The folder inside the data root.
        files: The files that must be there for the offline route.
        local_builder: The tfds builder that reads those files.
        remote_builder: The tfds builder used to download (None: no download).
        sha256: {file: sha256}, shown in the not-found message.
        url: One upstream URL: its host is probed (a few seconds) before a
            download, so an offline machine fails at once instead of after
            minutes of retries.
    """

    folder: str
    files: tuple
    local_builder: str
    remote_builder: str | None
    sha256: dict = dataclasses.field(default_factory=dict)
    url: str | None = None


_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

SOURCES = {
    "mnist": Source(
        "mnist", _MNIST_FILES, "mnist", "mnist", url="https://storage.googleapis.com/cvdf-datasets/mnist/"
    ),
    "fashion_mnist": Source(
        "fashion_mnist",
        _MNIST_FILES,
        "fashion_mnist",
        "fashion_mnist",
        url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    "tiny_shakespeare": Source(
        "tiny_shakespeare",
        ("input.txt",),
        "tiny_shakespeare",
        "tiny_shakespeare",
        {"input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"},
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    ),
    "glue/mrpc": Source(
        "glue/mrpc",
        ("msr_paraphrase_train.txt", "msr_paraphrase_test.txt", "data_mrpc_dev_ids.tsv"),
        "glue/mrpc",
        "glue/mrpc",
        url="https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_train.txt",
    ),
    "glue/sst2": Source(
        "glue/sst2",
        ("train.tsv", "dev.tsv", "test.tsv"),
        "kerasnets_glue/sst2",
        "glue/sst2",
        url="https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
    ),
    "glue/cola": Source(
        "glue/cola",
        ("train.tsv", "dev.tsv", "test.tsv"),
        "kerasnets_glue/cola",
        "glue/cola",
        url="https://dl.fbaipublicfiles.com/glue/data/CoLA.zip",
    ),
    "imdb_reviews": Source(
        "imdb",
        ("train.tsv.gz", "test.tsv.gz"),
        "kerasnets_imdb_reviews",
        "imdb_reviews/plain_text",
        url="http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    ),
    "spa_eng": Source(
        "spa_eng",
        ("spa-eng.zip",),
        "kerasnets_spa_eng",
        "kerasnets_spa_eng",
        {"spa-eng.zip": "0c4fd7825d3d872488d38c157f784e035edab4f2ff0df25a2a208790ecb5b58f"},
        url="http://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip",
    ),
}
_ALIASES = {"imdb_reviews/plain_text": "imdb_reviews", "kerasnets_spa_eng": "spa_eng", "spa-eng": "spa_eng"}
_TED_FILE = "qi18naacl-dataset.tar.gz"


def source_for(name):
    """The `Source` of a tfds name (a version suffix `:1.*.*` is ignored)."""
    base = name.split(":")[0]
    base = _ALIASES.get(base, base)
    if base in SOURCES:
        return SOURCES[base]
    if base.startswith("ted_hrlr_translate"):
        return Source(
            "ted_hrlr_translate", (_TED_FILE,), base, base, url="http://www.phontron.com/data/qi18naacl-dataset.tar.gz"
        )
    # Any other tfds dataset: `<root>/<name>/` as its manual_dir, tfds decides.
    return Source(base, (), base, base)


def reachable(url, timeout=5.0):
    """None when the host of `url` resolves and accepts a TCP connection within
    `timeout` seconds; otherwise a one-line reason. With a proxy configured
    in the environment the probe is skipped (None)."""
    import os
    import socket
    import threading
    import urllib.parse

    if any(os.environ.get(v) for v in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")):
        return None
    parsed = urllib.parse.urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    result = {}

    def probe():
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
            result["ok"] = True
        except OSError as error:
            result["error"] = f"cannot reach {parsed.hostname}:{port} ({error})"

    thread = threading.Thread(target=probe, daemon=True)  # getaddrinfo has no timeout of its own
    thread.start()
    thread.join(timeout)
    if result.get("ok"):
        return None
    return result.get("error", f"cannot reach {parsed.hostname}:{port} (no answer in {timeout:g} s)")


def _builder(name, data_dir):
    import tensorflow_datasets as tfds

    if name.startswith("kerasnets_"):
        import kerasnets.data.builders  # noqa: F401  (registers the project's builders)
    return tfds.builder(name, data_dir=data_dir)


def prepare(name, *, data_root=None, data_dir=None, download=True):
    """Find or prepare dataset `name`; return its prepared tfds builder.

    Args:
        name: A tfds name ("mnist", "glue/sst2", "ted_hrlr_translate/pt_to_en",
            "spa_eng", …).
        data_root: The folder holding `<folder>/<file>` copies; None: see
            `kerasnets.data.locations.find_data_root`.
        data_dir: Where tfds writes (and finds) prepared TFRecords; None: tfds'
            default.
        download: Whether downloading is allowed when the local copy is missing.

    Raises:
        DatasetNotFoundError: Not prepared, not on disk, not downloadable.
    """
    import tensorflow_datasets as tfds

    source = source_for(name)
    root = find_data_root(data_root)
    folder = root.path / source.folder if root.path is not None else None
    local = folder is not None and folder.is_dir() and not missing_files(folder, source.files)

    version = ":" + name.split(":", 1)[1] if ":" in name else ""
    candidates = [source.local_builder + version] if local else []
    if source.remote_builder is not None and source.remote_builder + version not in candidates:
        candidates.append(source.remote_builder + version)
    # Reuse whatever is already prepared (either route) before building anything.
    for candidate in candidates:
        builder = _builder(candidate, data_dir)
        if builder.is_prepared():
            return builder

    if local:
        builder = _builder(candidates[0], data_dir)
        with _private_extract_dir() as extract_dir:
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(
                    manual_dir=str(folder), extract_dir=extract_dir, try_download_gcs=False
                )
            )
        return builder

    def fail(reason, cause=None):
        files = source.files or ("<the files tfds asks for>",)
        error = not_found_error(name, source.folder, files, root, reason, source.sha256, source.url)
        error.download_error = cause  # the original exception, for debugging
        raise error from None  # one message, not two tracebacks

    if source.remote_builder is None:
        fail("no download source for this dataset")
    if not download:
        fail("not attempted (download=False)")
    if source.url is not None:
        problem = reachable(source.url)
        if problem is not None:
            fail(f"{source.url}: {problem}")
    builder = _builder(candidates[-1], data_dir)
    config = {"manual_dir": str(folder)} if folder is not None and folder.is_dir() else {}
    try:
        with _private_extract_dir() as extract_dir:
            if config:
                config["extract_dir"] = extract_dir
            builder.download_and_prepare(download_config=tfds.download.DownloadConfig(**config))
    except Exception as error:  # network errors, missing manual files, checksum mismatches
        fail(f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}", error)
    return builder


@contextlib.contextmanager
def _private_extract_dir():
    """A fresh directory for tfds to extract manual files into, removed afterwards.

    tfds names an extracted manual file after the file alone
    (`downloads/extracted/GZIP.t10k-labels-idx1-ubyte.gz`), so MNIST and
    Fashion-MNIST, whose files share names, would read each other's images.
    """
    path = tempfile.mkdtemp(prefix="kerasnets-tfds-extract-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def load(
    name,
    split=None,
    *,
    data_root=None,
    data_dir=None,
    download=True,
    as_supervised=False,
    shuffle_files=False,
    read_config=None,
    with_info=False,
    decoders=None,
):
    """`tfds.load` that works offline from the data root (see the module docstring).

    Args:
        name: A tfds name: "mnist", "fashion_mnist", "tiny_shakespeare",
            "imdb_reviews", "glue/sst2", "glue/cola", "glue/mrpc",
            "ted_hrlr_translate/pt_to_en", "spa_eng", or any other tfds name
            (its manual_dir is `<data root>/<name>`).
        split: As in `tfds.load` ("train", "test[:64]", …); None: all splits as
            a dict.
        data_root, data_dir, download: See `prepare`.
        as_supervised, shuffle_files, read_config, decoders: As in `tfds.load`.
        with_info: Also return the `tfds.core.DatasetInfo`.

    Returns:
        A `tf.data.Dataset` (or a dict of them), plus the info when asked.
    """
    builder = prepare(name, data_root=data_root, data_dir=data_dir, download=download)
    dataset = builder.as_dataset(
        split=split,
        as_supervised=as_supervised,
        shuffle_files=shuffle_files,
        read_config=read_config,
        decoders=decoders,
    )
    return (dataset, builder.info) if with_info else dataset


def data_folder(name, data_root=None):
    """`<data root>/<folder of name>` as a Path, or None without a data root."""
    root = find_data_root(data_root)
    return None if root.path is None else pathlib.Path(root.path) / source_for(name).folder
