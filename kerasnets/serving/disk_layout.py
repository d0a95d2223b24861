"""TensorFlow Serving's on-disk format, in one place for the exporter and the server.

    saved_models/                      the export root (`kerasnets export --base_dir`)
      models.config                    ModelServerConfig, text format (--model_config_file)
      batching_parameters.txt          BatchingParameters, text format (--batching_parameters_file)
      monitoring_config.txt            MonitoringConfig, text format (--monitoring_config_file)
      <name>/                          one model: its --model_base_path
        1/ 2/ 007/                     versions: saved_model.pb, variables/, assets/, assets.extra/
        .incomplete-3-k2j1x/           an export still being written (never a version)

Versions follow `FileSystemStoragePathSource` (file_system_storage_path_source.cc):
every child of the base path whose name `absl::SimpleAtoi` reads as an int64
is a version. That is a base-10 number of ASCII digits with an optional sign
and optional surrounding ASCII whitespace, inside [-2**63, 2**63 - 1]: `007` is
version 7, `-1` is version -1, while `²`, `٣` (non-ASCII digits), `1.5`, `v2`
and `9` * 20 (out of range) are skipped. The child is not required to be a
directory. When two children name the same version (`7` and `007`), the one
that sorts last byte-wise is used and the other ignored (TF Serving's
`IndexChildrenByVersion` over GetChildren's sorted names).

Exports write a version into a staging directory `.incomplete-<version>-*`
beside it and rename it into place (atomic on one file system), so a polling
server never sees half a model. The exporter holds an exclusive `flock` on the
staging directory while writing; the next export removes staging directories
whose lock is free and which have not changed for `STALE_STAGING_SECONDS`
(what a killed export leaves behind). Staging names start with a dot and are
never numbers, so no server reads them as versions.
"""

import contextlib
import fcntl
import logging
import os
import re
import shutil
import tempfile
import time

from kerasnets import files

LOG = logging.getLogger("kerasnets.serving")

CONFIG_FILENAME = "models.config"
BATCHING_PARAMETERS_FILENAME = "batching_parameters.txt"
MONITORING_CONFIG_FILENAME = "monitoring_config.txt"  # the name TF Serving's own tests use
STAGING_PREFIX = ".incomplete-"
STALE_STAGING_SECONDS = 10 * 60

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# absl::SimpleAtoi<int64_t>: ASCII whitespace (absl::ascii_isspace), sign, ASCII digits.
_SIMPLE_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)[ \t\n\v\f\r]*", re.ASCII)
_INT64_DIGITS = len(str(INT64_MAX))


# --------------------------------------------------------------------------
# Paths of the files beside models.config
# --------------------------------------------------------------------------


def model_config_path(base_dir):
    """`<base_dir>/models.config`: what `--model_config_file` points at."""
    return os.path.join(base_dir, CONFIG_FILENAME)


def batching_parameters_path(base_dir):
    """`<base_dir>/batching_parameters.txt`: what `--batching_parameters_file` points at."""
    return os.path.join(base_dir, BATCHING_PARAMETERS_FILENAME)


def monitoring_config_path(base_dir):
    """`<base_dir>/monitoring_config.txt`: what `--monitoring_config_file` points at."""
    return os.path.join(base_dir, MONITORING_CONFIG_FILENAME)


# --------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------


def parse_version(name):
    """The version a base-path child called `name` is, or None (TF Serving's `ParseVersionNumber`)."""
    match = _SIMPLE_ATOI.fullmatch(name)
    if match is None:
        return None
    sign, digits = match.groups()
    digits = digits.lstrip("0") or "0"
    if len(digits) > _INT64_DIGITS:  # also keeps int() away from its 4,300-digit limit
        return None
    value = -int(digits) if sign == "-" else int(digits)
    return value if INT64_MIN <= value <= INT64_MAX else None


def _children(base_path):
    if "://" in base_path:
        import tensorflow as tf

        # Cloud file systems may list descendants ("1/saved_model.pb"): keep the first component.
        return {name.split("/", 1)[0] for name in tf.io.gfile.listdir(base_path)} - {""}
    return set(os.listdir(base_path))


def is_directory(path):
    """`os.path.isdir`, or `tf.io.gfile.isdir` for a URI (`gs://…`)."""
    if "://" in path:
        import tensorflow as tf

        return tf.io.gfile.isdir(path)
    return os.path.isdir(path)


def join(base_path, child):
    """`base_path/child` for a local path or a URI."""
    return base_path.rstrip("/") + "/" + child


def version_children(base_path, on_duplicate=None):
    """{version: child name} of `base_path`, as TF Serving indexes them.

    `on_duplicate(version, used, ignored)` is called when two children name one version.
    Raises OSError (FileNotFoundError, …) when `base_path` cannot be listed.
    """
    by_version = {}
    for child in sorted(_children(base_path), key=lambda name: name.encode("utf-8", "surrogateescape")):
        version = parse_version(child)
        if version is None:
            continue
        if version in by_version and on_duplicate is not None:
            on_duplicate(version, child, by_version[version])
        by_version[version] = child  # the byte-wise last name wins
    return by_version


def list_versions(model_dir):
    """The versions TF Serving sees under `model_dir`, ascending ([] if it does not exist)."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(version_children(model_dir))


def next_version(model_dir):
    """One more than the highest version under `model_dir` (at least 1)."""
    versions = list_versions(model_dir)
    newest = versions[-1] if versions else 0
    if newest >= INT64_MAX:
        raise ValueError(f"{model_dir} already holds version {newest}, the largest TF Serving reads.")
    return max(newest + 1, 1)


def check_version(version):
    """`version` as an int; raises ValueError unless it is a positive int64 (an int or ASCII digits)."""
    problem = f"A model version must be a positive integer of at most 19 digits, got {version!r}."
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise ValueError(problem)
    if isinstance(version, str):
        if not re.fullmatch(r"[0-9]{1,19}", version, re.ASCII):
            raise ValueError(problem)
        version = int(version)
    if not 0 < version <= INT64_MAX:
        raise ValueError(problem)
    return version


# --------------------------------------------------------------------------
# Staging directories for atomic export
# --------------------------------------------------------------------------


def is_staging_name(name):
    """Whether a base-path child is an export's staging directory."""
    return name.startswith(STAGING_PREFIX)


def _lock(fd, blocking):
    flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
    fcntl.flock(fd, flags)


def remove_stale_staging(model_dir, older_than_seconds=STALE_STAGING_SECONDS, now=None):
    """Removes the `.incomplete-*` directories of exports that died; returns their paths.

    A staging directory is stale when its flock can be taken (no live export
    holds it) and it has not changed for `older_than_seconds` (which also
    covers the instant between mkdtemp and the exporter's flock).
    """
    now = time.time() if now is None else now
    removed = []
    try:
        names = os.listdir(model_dir)
    except OSError:
        return removed
    for name in sorted(names):
        if not is_staging_name(name):
            continue
        path = os.path.join(model_dir, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:  # gone already, or not a directory
            continue
        try:
            stat = os.fstat(fd)
            if now - stat.st_mtime < older_than_seconds:
                continue
            try:
                _lock(fd, blocking=False)
            except OSError:  # held by a live export (or this file system has no locks)
                continue
            try:
                same = os.lstat(path).st_ino == stat.st_ino  # not renamed/replaced since we opened it
            except OSError:
                same = False
            if same:
                LOG.info("Removing %s, left by an export that did not finish", path)
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def atomic_version_directory(model_dir, version, stale_after_seconds=STALE_STAGING_SECONDS):
    """Yields a locked staging directory; on success renames it to `model_dir/<version>`.

    Stale staging directories of killed exports are removed first (see
    `remove_stale_staging`). On any exception the staging directory is
    removed and nothing appears.
    """
    final_path = os.path.join(model_dir, str(version))
    if os.path.lexists(final_path):
        raise FileExistsError(
            f"Version {version} of this model already exists at {final_path}; "
            "pick another version or leave it out to use the next free one."
        )
    os.makedirs(model_dir, exist_ok=True)
    remove_stale_staging(model_dir, stale_after_seconds)
    staging = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{version}-", dir=model_dir)
    fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            _lock(fd, blocking=True)
        except OSError as error:  # e.g. a file system without flock: the age rule still protects it
            LOG.warning("Could not lock %s (%s); a concurrent export may remove it after %d s",
                        staging, error, stale_after_seconds)
        yield staging
        try:
            os.rename(staging, final_path)
        except OSError as error:
            raise FileExistsError(f"Could not publish version {version} at {final_path}: {error}") from None
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
        os.close(fd)  # releases the lock


# --------------------------------------------------------------------------
# models.config (ModelServerConfig, protobuf text format)
# --------------------------------------------------------------------------


SERVING_API_INSTALL_HINT = (
    "Install them with: pip install --no-deps tensorflow-serving-api==2.21.0 "
    "(--no-deps: its wheel asks for the full 'tensorflow'; tensorflow-cpu provides all it imports)."
)


def model_server_config_pb2():
    """`tensorflow_serving.config.model_server_config_pb2`, or an ImportError saying how to install it."""
    try:
        from tensorflow_serving.config import model_server_config_pb2 as module
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError(f"TensorFlow Serving's protos are missing ({error}). {SERVING_API_INSTALL_HINT}") from None
    return module


def parse_model_config(text, source="<string>"):
    """A `ModelServerConfig` from protobuf text; bad text raises ValueError (TF Serving's message)."""
    from google.protobuf import text_format

    config = model_server_config_pb2().ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise ValueError(f"Invalid protobuf file: '{source}' ({error})") from None
    return config


def read_model_config(path):
    """Reads and parses a models.config file.

    Raises FileNotFoundError if it is missing, ValueError if it is not UTF-8
    or not a valid `ModelServerConfig` (the message names the file).
    """
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"Invalid protobuf file: '{path}' ({error})") from None
    return parse_model_config(text, source=path)


def format_model_config(config):
    """The text format of a `ModelServerConfig`, as `tensorflow_model_server` reads it."""
    from google.protobuf import text_format

    return text_format.MessageToString(config)


def write_model_config(path, config):
    """Writes `config` to `path` through a temporary name (readers see the old file or the new one)."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    files.write_text(path, format_model_config(config))
    return path


def update_model_config(base_dir, name, base_path=None):
    """Adds (or refreshes) the entry for model `name` in `<base_dir>/models.config`.

    Entries edited by hand (version policies, labels, other models) are kept.

    Args:
        base_dir: The export root (`saved_models/`).
        name: The model name: the `{name}` of `/v1/models/{name}`.
        base_path: The path written into the entry; by default the absolute path
            of `<base_dir>/<name>`. Pass e.g. `/models/<name>` for a container
            that mounts the export root at `/models`.

    Returns:
        The path of the config file.
    """
    path = model_config_path(base_dir)
    config = read_model_config(path) if os.path.exists(path) else model_server_config_pb2().ModelServerConfig()
    if config.WhichOneof("config") == "custom_model_config":
        raise ValueError(f"{path} holds a custom_model_config; kerasnets only edits model_config_list.")
    entries = config.model_config_list.config
    entry = next((existing for existing in entries if existing.name == name), None)
    if entry is None:
        entry = entries.add()
        entry.name = name
    entry.base_path = base_path or os.path.abspath(os.path.join(base_dir, name))
    entry.model_platform = "tensorflow"
    return write_model_config(path, config)
