"""Models, their versions on disk, and which of them are loaded (TF Serving's ServerCore).

Configuration is TF Serving's `ModelServerConfig` (protobuf text format, read
with `tensorflow_serving.config.model_server_config_pb2`), either from
`--model_config_file` or built for one model from `--model_name` /
`--model_base_path` (`single_model_config`, TF Serving's
`BuildSingleModelConfig`). It is validated with TF Serving's messages:
duplicate names, relative base paths, missing or unsupported platform.

Version discovery and policy mirror `FileSystemStoragePathSource`: the
children of `base_path` whose names read as int64 numbers are versions (`007`
is version 7; the rule and the rest of the disk format are in `disk_layout`);
`model_version_policy` picks the aspired ones: `latest
{num_versions}` (the default, with 1; 0 counts as 1), `all {}`, or
`specific {versions}`. A background thread re-lists every
`file_system_poll_wait_seconds` (0: list once at start), loads aspired
versions that are not loaded and unloads loaded versions that are no longer
aspired, keeping the old ones until a new aspired version is available (TF
Serving's availability-preserving policy). Loading happens on that thread,
never on a request; a version that fails to load is reported in the model's
status (state END with the load error) and retried when its files change, and
never affects the other versions. Request handlers get an immutable
`Servable`; swaps happen under a lock.

`version_labels` follow `ServerCore::UpdateModelVersionLabelMap`: a label may
only point at an AVAILABLE version, unless
`allow_version_labels_for_unavailable_models` is set and the label is new or
unchanged. Labels change only when the config is reloaded
(`model_config_file_poll_wait_seconds`).
"""

import logging
import os
import threading
import time

from kerasnets.serving import disk_layout
from kerasnets.serving.servable import Servable
from kerasnets.serving.status import (
    Code,
    StatusError,
    failed_precondition,
    invalid_argument,
    not_found,
)

LOG = logging.getLogger("kerasnets.serving")

TENSORFLOW_PLATFORM = "tensorflow"

# ModelVersionStatus.State names (get_model_status.proto).
START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


def single_model_config(name, base_path):
    """TF Serving's `BuildSingleModelConfig`: one model, platform tensorflow, default policy."""
    config = disk_layout.model_server_config_pb2().ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = name
    model.base_path = base_path
    model.model_platform = TENSORFLOW_PLATFORM
    return config


def parse_model_config(text, source="<string>"):
    """A `ModelServerConfig` from protobuf text; bad text raises INVALID_ARGUMENT."""
    try:
        return disk_layout.parse_model_config(text, source)
    except ValueError as error:
        raise invalid_argument(str(error)) from None


def read_model_config_file(path):
    """TF Serving's `ParseProtoTextFile<ModelServerConfig>(--model_config_file)`."""
    try:
        return disk_layout.read_model_config(path)
    except FileNotFoundError:
        raise not_found(f"{path}; No such file or directory") from None
    except (OSError, ValueError) as error:
        message = str(error) if isinstance(error, ValueError) else f"Invalid protobuf file: '{path}' ({error})"
        raise invalid_argument(message) from None


def _is_relative_path(path):
    # TF's UriIsRelativePath: no scheme, no host and not an absolute path.
    return "://" not in path and not path.startswith("/")


def model_platform(model):
    """TF Serving's `GetPlatform` for one `ModelConfig`."""
    if model.model_type:  # the deprecated enum: 1 = TENSORFLOW
        if model.model_platform:
            raise invalid_argument(
                "Illegal setting both ModelServerConfig::model_type (deprecated) and "
                "ModelServerConfig::model_platform."
            )
        if model.model_type == 1:
            return TENSORFLOW_PLATFORM
        raise invalid_argument(f"ModelServerConfig::model_type choice {model.model_type} not supported.")
    if not model.model_platform:
        raise invalid_argument(
            "Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
            "ModelServerConfig::model_platform."
        )
    return model.model_platform


def validate_model_config(config):
    """TF Serving's `ValidateModelConfigList` checks (names, absolute base paths)."""
    choice = config.WhichOneof("config")
    if choice == "custom_model_config":
        raise failed_precondition(
            "custom_model_config is not supported by this development server; use model_config_list."
        )
    names = set()
    for model in config.model_config_list.config:
        if model.name in names:
            raise invalid_argument(f"Illegal to list model {model.name} multiple times in config list")
        names.add(model.name)
    for model in config.model_config_list.config:
        if _is_relative_path(model.base_path):
            raise invalid_argument(
                f"Expected model {model.name} to have an absolute path or URI; got base_path()={model.base_path}"
            )


def validate_model_platforms(config):
    """The platform checks TF Serving makes while routing models to source adapters."""
    for model in config.model_config_list.config:
        platform = model_platform(model)
        if platform != TENSORFLOW_PLATFORM:
            raise invalid_argument(f"Model {model.name} requests unsupported platform {platform}")


# --------------------------------------------------------------------------
# Versions on disk
# --------------------------------------------------------------------------


def list_versions(name, base_path):
    """{version: path} of the children of `base_path` TF Serving reads as versions (`disk_layout`)."""
    if not disk_layout.is_directory(base_path):
        raise not_found(f"Could not find base path {base_path} for servable {name}")

    def duplicate(version, used, ignored):
        LOG.warning(
            "Duplicate version directories detected. Version %d will be loaded from %s, %s will be ignored.",
            version, disk_layout.join(base_path, used), disk_layout.join(base_path, ignored),
        )

    children = disk_layout.version_children(base_path, on_duplicate=duplicate)
    return {version: disk_layout.join(base_path, child) for version, child in children.items()}


def aspired_versions(name, policy, versions):
    """The versions a `ServableVersionPolicy` wants served, out of those on disk."""
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return set(versions)
    if choice == "specific":
        wanted = set(policy.specific.versions)
        for version in sorted(wanted - set(versions)):
            LOG.warning(
                "Version %d of servable %s, which was requested to be served as a 'specific' version in "
                "the servable's version policy, was not found in the file system", version, name
            )
        return wanted & set(versions)
    count = max(policy.latest.num_versions, 1) if choice == "latest" else 1
    return set(sorted(versions)[-count:])


def _fingerprint(path):
    """What changes when a version directory is still being written (names, sizes, times)."""
    if "://" in path:
        return None
    entries = []
    for root, _, files in os.walk(path):
        for file_name in files:
            full = os.path.join(root, file_name)
            try:
                stat = os.stat(full)
            except OSError:
                continue
            entries.append((os.path.relpath(full, path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


# --------------------------------------------------------------------------
# The manager
# --------------------------------------------------------------------------


class VersionStatus:
    """One entry of a model's status: `version`, `state`, `error_code`, `error_message`."""

    __slots__ = ("version", "state", "error_code", "error_message")

    def __init__(self, version, state, error_code=Code.OK, error_message=""):
        self.version = version
        self.state = state
        self.error_code = Code(error_code)
        self.error_message = error_message

    def __repr__(self):
        return f"VersionStatus({self.version}, {self.state}, {self.error_code.name}, {self.error_message!r})"


class _VersionRecord:
    def __init__(self, version):
        self.version = version
        self.path = None
        self.state = START
        self.error = None
        self.servable = None
        self.fingerprint = None


class ModelManager:
    """Loads and serves the versions a `ModelServerConfig` asks for (see the module docstring).

    `servable(name, version=None, label=None)` and `model_status(name,
    version=None)` are what the REST handler uses; both are thread-safe.
    """

    def __init__(
        self,
        config,
        *,
        file_system_poll_wait_seconds=1.0,
        allow_version_labels_for_unavailable_models=False,
        saved_model_tags=("serve",),
        model_config_file=None,
        model_config_file_poll_wait_seconds=0.0,
        enable_model_warmup=True,
        num_request_iterations_for_warmup=0,
        load_observer=None,
        batching_parameters=None,
    ):
        self._config = config
        # Warm-up (kerasnets.serving.warmup) replays assets.extra/tf_serving_warmup_requests before AVAILABLE.
        self.enable_model_warmup = enable_model_warmup
        self.num_request_iterations_for_warmup = num_request_iterations_for_warmup
        # Optional metrics hook: record_load(path, ok, seconds), record_warmup(path, status, seconds, records).
        self.load_observer = load_observer
        # kerasnets.serving.batching.BatchingParameters: batch predict (only) per version.
        self.batching_parameters = batching_parameters
        # Optional hook called with no arguments as each load attempt ends (before AVAILABLE) and after each unload
        # (ModelServer's GC freeze).
        self.on_servables_changed = None
        self.file_system_poll_wait_seconds = file_system_poll_wait_seconds
        self.allow_version_labels_for_unavailable_models = allow_version_labels_for_unavailable_models
        self.saved_model_tags = tuple(saved_model_tags)
        self.model_config_file = model_config_file
        self.model_config_file_poll_wait_seconds = model_config_file_poll_wait_seconds
        self._lock = threading.RLock()
        self._models = {}  # name -> ModelConfig
        self._labels = {}  # name -> {label: version}
        self._versions = {}  # name -> {version: _VersionRecord}; kept after unload, like the state monitor
        self._last_problem = {}  # name -> last logged listing problem (to log changes only)
        self._poll_lock = threading.Lock()
        self._config_lock = threading.Lock()  # one config change at a time
        self._stop = threading.Event()
        self._thread = None

    # --- lifecycle -----------------------------------------------------------

    def start(self):
        """Apply the config and load every model's aspired versions, then keep polling.

        Raises `StatusError` for an invalid config or a label that cannot be
        assigned (TF Serving refuses to start then).
        """
        self._stop.clear()
        self._apply_config(self._config)
        polls_files = self.file_system_poll_wait_seconds and self.file_system_poll_wait_seconds > 0
        polls_config = self.model_config_file and self.model_config_file_poll_wait_seconds > 0
        if polls_files or polls_config:
            self._thread = threading.Thread(target=self._poll_forever, name="model-manager-poll", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout=30.0):
        """Stop polling and unload everything (waits for a load in progress, up to `timeout`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            for records in self._versions.values():
                for record in records.values():
                    if record.state == AVAILABLE:
                        record.servable = None
                        record.state = END

    def _poll_forever(self):
        files_period = self.file_system_poll_wait_seconds if self.file_system_poll_wait_seconds > 0 else None
        config_period = (
            self.model_config_file_poll_wait_seconds
            if self.model_config_file and self.model_config_file_poll_wait_seconds > 0
            else None
        )
        now = time.monotonic()
        files_due = now + files_period if files_period else None
        config_due = now + config_period if config_period else None
        while True:
            next_due = min(due for due in (files_due, config_due) if due is not None)
            if self._stop.wait(max(0.0, next_due - time.monotonic())):
                return
            now = time.monotonic()
            if config_due is not None and now >= config_due:
                self._guarded(self._reload_config_file)
                config_due = time.monotonic() + config_period
            if files_due is not None and now >= files_due:
                self._guarded(self.poll_once)
                files_due = time.monotonic() + files_period

    @staticmethod
    def _guarded(poll):
        try:
            poll()
        except Exception:  # keep polling whatever one poll ran into
            LOG.exception("Model manager poll failed")

    # --- configuration -------------------------------------------------------

    @property
    def config(self):
        return self._config

    def reload_config(self, config):
        """TF Serving's `ServerCore::ReloadConfig`; on error the running config is kept."""
        self._apply_config(config)

    def _reload_config_file(self):
        try:
            config = read_model_config_file(self.model_config_file)
            if config == self._config:
                return
            LOG.info("Reloading model config from %s", self.model_config_file)
            self._apply_config(config)
        except StatusError as error:
            LOG.error("Failed to reload model config %s: %s", self.model_config_file, error.status_string())

    def _apply_config(self, config):
        with self._config_lock:
            self._apply_config_locked(config)

    def _apply_config_locked(self, config):
        if config.WhichOneof("config") is None:
            # As ServerCore::ReloadConfig; this also makes a half-written config file harmless.
            LOG.info("Taking no action for empty config.")
            return
        validate_model_config(config)
        with self._lock:
            labels = self._label_map(config)
        validate_model_platforms(config)
        models = {model.name: model for model in config.model_config_list.config}
        with self._lock:
            removed = [name for name in self._models if name not in models]
            self._labels = labels
            self._models = models
            self._config = config
        for name in removed:
            LOG.info("Model %s is no longer in the config; unloading its versions", name)
            self._unload_all(name)
        LOG.info("Adding/updating models.")
        self.poll_once()

    def _label_map(self, config):
        """TF Serving's `UpdateModelVersionLabelMap` (call with the lock held)."""
        labels = {}
        for model in config.model_config_list.config:
            records = self._versions.get(model.name, {})
            for label, version in sorted(model.version_labels.items()):
                allow_unavailable = False
                if self.allow_version_labels_for_unavailable_models:
                    existing = self._labels.get(model.name, {}).get(label)
                    allow_unavailable = existing is None or existing == version
                record = records.get(version)
                if not allow_unavailable and (record is None or record.state != AVAILABLE):
                    raise failed_precondition(
                        f"Request to assign label to version {version} of model {model.name}, "
                        "which is not currently available for inference"
                    )
                labels.setdefault(model.name, {})[label] = version
        return labels

    # --- polling -------------------------------------------------------------

    def poll_once(self):
        """List every model's base path once, then load and unload to match its policy."""
        with self._poll_lock:
            with self._lock:
                models = list(self._models.values())
            for model in models:
                if self._stop.is_set():
                    return
                self._poll_model(model)

    def _report_listing(self, name, problem, log=LOG.warning):
        if self._last_problem.get(name) != problem:
            self._last_problem[name] = problem
            if problem:
                log("%s", problem)

    def _poll_model(self, model):
        name = model.name
        try:
            on_disk = list_versions(name, model.base_path)
        except StatusError as error:
            # TF Serving keeps what it serves when a base path cannot be read.
            self._report_listing(name, error.message, LOG.error)
            return
        except OSError as error:
            self._report_listing(name, f"Cannot list base path {model.base_path} for servable {name}: {error}", LOG.error)
            return
        if not on_disk:
            self._report_listing(
                name,
                f"No versions of servable {name} found under base path {model.base_path}. "
                "Did you forget to name your leaf directory as a number (eg. '/1/')?",
            )
        else:
            self._report_listing(name, None)
        aspired = aspired_versions(name, model.model_version_policy, on_disk)

        for version in sorted(aspired, reverse=True):  # newest first: it becomes Latest soonest
            if self._stop.is_set():
                return
            path = on_disk[version]
            with self._lock:
                record = self._versions.get(name, {}).get(version)
                if record is not None and record.state == AVAILABLE:
                    continue
                failed_before = (
                    record is not None and record.state == END and record.error is not None and record.path == path
                )
                failed_fingerprint = record.fingerprint if failed_before else None
            # A version that failed to load is retried once its files change (e.g. a copy finished).
            failed_unchanged = failed_before and failed_fingerprint == _fingerprint(path)
            if not failed_unchanged:
                self._load(name, version, path)

        with self._lock:
            records = self._versions.get(name, {})
            aspired_available = any(records[v].state == AVAILABLE for v in aspired if v in records)
            unneeded = [v for v, r in records.items() if r.state == AVAILABLE and v not in aspired]
        if unneeded and (aspired_available or not aspired):
            for version in unneeded:
                self._unload(name, version)

    def _load(self, name, version, path):
        servable_id = f"{{name: {name} version: {version}}}"
        fingerprint = _fingerprint(path)
        with self._lock:
            record = self._versions.setdefault(name, {}).setdefault(version, _VersionRecord(version))
            record.path, record.fingerprint, record.error = path, fingerprint, None
            record.state = LOADING
        LOG.info("Loading servable version %s", servable_id)
        LOG.info("Reading SavedModel from: %s", path)
        started = time.monotonic()
        try:
            servable = Servable.load(name, version, path, self.saved_model_tags)
            if self.batching_parameters is not None:
                from kerasnets.serving.batching import enable_batching

                enable_batching(servable, self.batching_parameters)
        except StatusError as error:
            failure = error
        except Exception as error:  # never let a broken model stop the poller
            failure = StatusError(Code.UNKNOWN, f"{type(error).__name__}: {error}")
        else:
            failure = None
        self._observe_load(path, failure is None, time.monotonic() - started)
        if failure is None and self.enable_model_warmup:
            failure = self._warm_up(servable, path)
        # Before AVAILABLE, so whatever the hook costs (a GC freeze) is not paid by the first request.
        self._servables_changed()
        with self._lock:
            if failure is None:
                record.servable = servable
                record.state = AVAILABLE
            else:
                record.state = END
                record.error = failure
        if failure is None:
            LOG.info("Successfully loaded servable version %s (%.2f s)", servable_id, time.monotonic() - started)
        else:
            LOG.error("Loading servable: %s failed: %s", servable_id, failure.status_string())

    def _servables_changed(self):
        hook = self.on_servables_changed
        if hook is not None:
            try:
                hook()
            except Exception:
                LOG.exception("on_servables_changed hook failed")

    def _observe_load(self, path, succeeded, seconds):
        if self.load_observer is not None:
            try:
                self.load_observer.record_load(path, succeeded, seconds)
            except Exception:
                LOG.exception("Load observer failed")

    def _warm_up(self, servable, path):
        """Replay the version's warm-up requests; the StatusError that fails the load, or None."""
        from kerasnets.serving.warmup import run_saved_model_warmup

        try:
            run_saved_model_warmup(servable, path, self.num_request_iterations_for_warmup, self.load_observer)
        except StatusError as error:
            return error
        except Exception as error:
            return StatusError(Code.UNKNOWN, f"{type(error).__name__}: {error}")
        return None

    def _unload(self, name, version):
        servable_id = f"{{name: {name} version: {version}}}"
        with self._lock:
            record = self._versions[name][version]
            record.state = UNLOADING
        LOG.info("Unloading servable version %s", servable_id)
        with self._lock:
            # Requests already holding the Servable finish with it; new ones cannot get it.
            for scheduler in getattr(record.servable, "batch_schedulers", {}).values():
                scheduler.shutdown()
            record.servable = None
            record.state = END
            record.error = None
        LOG.info("Done unloading servable version %s", servable_id)
        self._servables_changed()

    def _unload_all(self, name):
        with self._lock:
            loaded = [v for v, r in self._versions.get(name, {}).items() if r.state == AVAILABLE]
        for version in loaded:
            self._unload(name, version)

    # --- queries ---------------------------------------------------------------

    def model_names(self):
        with self._lock:
            return sorted(self._models)

    def labels(self, name):
        with self._lock:
            return dict(self._labels.get(name, {}))

    def servable(self, name, version=None, label=None):
        """The loaded `Servable` a request names (TF Serving's GetServableHandle).

        Errors: INVALID_ARGUMENT `Unrecognized servable version label: <label>`;
        NOT_FOUND `Servable not found for request: Latest(<name>)` or
        `Specific(<name>, <version>)`.
        """
        with self._lock:
            if label is not None:
                labels = self._labels.get(name, {})
                if label not in labels:
                    raise invalid_argument(f"Unrecognized servable version label: {label}")
                version = labels[label]
            records = self._versions.get(name, {})
            if version is None:
                available = [v for v, record in records.items() if record.state == AVAILABLE]
                if not available:
                    raise not_found(f"Servable not found for request: Latest({name})")
                return records[max(available)].servable
            record = records.get(version)
            if record is None or record.state != AVAILABLE:
                raise not_found(f"Servable not found for request: Specific({name}, {version})")
            return record.servable

    def model_status(self, name, version=None):
        """`VersionStatus`es of every version seen, newest first (TF Serving's GetModelStatus).

        Errors: NOT_FOUND `Could not find any versions of model <name>` /
        `Could not find version <v> of model <name>`.
        """
        with self._lock:
            records = self._versions.get(name)
            if not records:
                raise not_found(f"Could not find any versions of model {name}")
            if version is not None:
                if version not in records:
                    raise not_found(f"Could not find version {version} of model {name}")
                chosen = [records[version]]
            else:
                chosen = [records[v] for v in sorted(records, reverse=True)]
            return [
                VersionStatus(
                    record.version,
                    record.state,
                    record.error.code if record.error else Code.OK,
                    record.error.message if record.error else "",
                )
                for record in chosen
            ]
