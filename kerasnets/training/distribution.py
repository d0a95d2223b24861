"""Training past one process: which `tf.distribute` strategy, and a train loop for multi-worker runs.

    kerasnets train gpt-tiny_shakespeare --strategy mirrored          # every GPU (or logical CPU) of this host
    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}' \
        kerasnets train gpt-tiny_shakespeare --strategy multi_worker   # the same command on every worker

The model, optimizer and metrics are built in `strategy.scope()`; the recipe's
`batch_size` stays the *global* batch, split across replicas, and the loss is
averaged over the global batch (Keras scales each replica's loss by
1/replicas). Input pipelines are sharded by data (`AutoShardPolicy.DATA`):
every worker reads the same files and keeps its part of each global batch,
since the tfds pipelines read few files.

Keras 3's `fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras
#20585, #20329: "Attempt to convert a value (PerReplica…) to a Tensor"), so
multi-worker runs train with `fit_distributed`: Keras' own `train_step` run
with `strategy.run` in a `tf.function`, logs averaged over workers with
`strategy.reduce`, and the same callbacks, progress bar and history as `fit`.

XLA cannot compile a whole train step whose replicas are CPU devices: the
gradients' all-reduce and the optimizer's update of every replica's copy go
through `merge_call`. `compiled_gradient_step` compiles the part that can be,
the forward and backward pass of each replica, and runs the rest as
TensorFlow ops; CPU runs of several replicas (mirrored over logical CPUs,
multi-worker) train that way when the recipe uses XLA.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from kerasnets.training.errors import ConfigurationError

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def read_tf_config(environ=None):
    """The parsed and checked `TF_CONFIG` (cluster + task), or a one-line ConfigurationError."""
    raw = (os.environ if environ is None else environ).get("TF_CONFIG")
    if not raw:
        raise ConfigurationError(
            "--strategy multi_worker needs TF_CONFIG, e.g. "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}.'
        )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"TF_CONFIG is not valid JSON: {error}.") from None
    cluster, task = (config.get("cluster"), config.get("task")) if isinstance(config, dict) else (None, None)
    if not isinstance(cluster, dict) or not cluster or not all(isinstance(v, list) for v in cluster.values()):
        raise ConfigurationError('TF_CONFIG needs "cluster": {"worker": ["host:port", …]} (a list per task type).')
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ConfigurationError('TF_CONFIG needs "task": {"type": "worker", "index": i}.')
    kind, index = task["type"], task["index"]
    if kind not in cluster:
        raise ConfigurationError(f"TF_CONFIG task type '{kind}' is not in the cluster ({', '.join(cluster)}).")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise ConfigurationError(
            f"TF_CONFIG task index {index!r} is outside the cluster: '{kind}' has {len(cluster[kind])} task(s)."
        )
    return config


def _logical_cpus():
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def split_cpu(replicas):
    """Split this host's CPU into `replicas` logical devices, each with its share of the cores.

    For `MirroredStrategy` on a host without GPUs. Each replica's ops then run on
    `cores // replicas` intra-op threads, so the replicas work side by side
    instead of every op contending for all the cores (benchmarks/training_speed.py
    --mirrored). Like `tf.config`'s own setters, it must run before TensorFlow
    starts executing."""
    replicas = int(replicas)
    if replicas < 1:
        raise ConfigurationError(f"CPU replicas must be at least 1, got {replicas}.")
    try:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
        tf.config.threading.set_intra_op_parallelism_threads(max(1, (os.cpu_count() or 1) // replicas))
    except RuntimeError:
        raise ConfigurationError(
            "The CPU can only be split into replicas before TensorFlow starts; call split_cpu first."
        ) from None


def make_strategy(strategy=None):
    """A `tf.distribute.Strategy` from a name in `STRATEGIES` (or the object itself)."""
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy in (None, "default"):
        return tf.distribute.get_strategy()
    if strategy == "mirrored":
        gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
        return tf.distribute.MirroredStrategy(devices=gpus or _logical_cpus())
    if strategy == "multi_worker":
        read_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if strategy == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", "local"))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigurationError(f"Unknown strategy '{strategy}'. Valid strategies: {', '.join(STRATEGIES)}.")


def is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def task_name(strategy):
    """"chief", "worker-1", … of a multi-worker run; None on one process."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not is_multi_worker(strategy) or resolver is None or resolver.task_type is None:
        return None
    return f"{resolver.task_type}-{resolver.task_id}"


def is_chief(strategy):
    """Whether this process writes the run's outputs: the chief, else worker 0 of a cluster without one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not is_multi_worker(strategy) or resolver is None or resolver.task_type is None:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def shard_by_data(dataset):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def agree_on_step(strategy, steps):
    """The newest checkpoint step every worker has, out of this worker's `steps` (newest first), or 0.

    Workers save at the same steps but can be killed between two workers' saves,
    so each resumes from the newest step all of them completed."""
    if not is_multi_worker(strategy):
        return steps[0] if steps else 0
    mine = tf.constant([steps[0] if steps else 0], tf.int64)
    everyone = strategy.gather(strategy.run(lambda: tf.identity(mine)), axis=0)
    return int(np.min(everyone.numpy()))


def _floats(logs):
    return {key: float(np.asarray(value)) for key, value in logs.items()}


def evaluate_locally(model, dataset):
    """`model.evaluate` without the strategy's collectives: every worker scores the whole split alike."""
    model.reset_metrics()
    step = tf.function(model.test_step)
    logs = {}
    for batch in dataset:
        logs = step(batch)
    return _floats(logs)


def compiled_gradient_step(model):
    """Keras' `train_step`, with each replica's forward and backward pass compiled by XLA.

    loss, ∇loss = XLA(model(x), compute_loss) on the replica's copy of the weights; then, as
    TensorFlow ops, `optimizer.apply_gradients` (all-reduce of ∇loss over the replicas, and the
    update), the model's loss tracker and its metrics, as `train_step` updates them."""
    loss_tracker = next(metric for metric in model.metrics if metric.name == "loss")  # compile() made it

    @tf.function(jit_compile=True)
    def loss_and_gradients(x, y, sample_weight):
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            scaled = model.optimizer.scale_loss(loss)  # loss scaling under mixed_float16
        return y_pred, loss, tape.gradient(scaled, model.trainable_weights)

    def train_step(data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred, loss, gradients = loss_and_gradients(x, y, sample_weight)
        batch = tf.shape(next(t for t in keras.tree.flatten(x) if t is not None))[0]
        # compute_loss divided the loss by the number of replicas (Keras' loss scaling for distribution).
        loss_tracker.update_state(loss * tf.distribute.get_strategy().num_replicas_in_sync, sample_weight=batch)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_weights))
        return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    return train_step


STEPS_PER_EXECUTION = 8


def fit_distributed(model, strategy, data, *, epochs, initial_epoch, steps_per_epoch, validation_data=None,
                    validation_freq=1, callbacks=(), verbose="auto", compile_gradients=False, checkpoint_steps=0,
                    steps_per_execution=STEPS_PER_EXECUTION):  # fmt: skip
    """`model.fit` under a strategy, with Keras' `train_step` or `compiled_gradient_step`; returns the `History`.

    For `MultiWorkerMirroredStrategy`, where Keras' `fit` fails, and for CPU replicas, where XLA can
    compile the forward and backward pass only (`compile_gradients`). Up to `steps_per_execution`
    steps run in one call, as Keras' `compile(steps_per_execution=…)` does (a call of a function
    spanning replicas costs milliseconds); callbacks see one batch per call, and a call never
    crosses an epoch's end or a multiple of `checkpoint_steps`, so checkpoints fall where they
    would one step at a time."""
    iterator = iter(strategy.experimental_distribute_dataset(shard_by_data(data)))
    with strategy.scope():
        # As `fit` does under a strategy: the metrics' and optimizer's variables must exist before the
        # step is traced (a replica cannot create them); built from the batch's spec, no batch drawn.
        model._symbolic_build(data_batch=data.element_spec)
    replica_step = compiled_gradient_step(model) if compile_gradients else model.train_step

    @tf.function
    def train_function(iterator, steps):
        for _ in tf.range(steps - 1):
            strategy.run(replica_step, args=(next(iterator),))
        logs = strategy.run(replica_step, args=(next(iterator),))  # the logs of the call's last step
        return {key: strategy.reduce("MEAN", value, axis=None) for key, value in logs.items()}

    def steps_in_call(global_step, epoch_steps_left):
        count = min(int(steps_per_execution), epoch_steps_left)
        if checkpoint_steps:
            count = min(count, checkpoint_steps - global_step % checkpoint_steps)
        return max(1, count)

    callback_list = keras.callbacks.CallbackList(
        list(callbacks), add_history=True, add_progbar=verbose != 0,
        verbose=1 if verbose == "auto" else verbose, epochs=epochs, steps=steps_per_epoch, model=model,
    )  # fmt: skip
    model.stop_training = False
    global_step = int(model.optimizer.iterations.numpy())
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        step = 0
        while step < steps_per_epoch:
            count = steps_in_call(global_step, steps_per_epoch - step)
            callback_list.on_train_batch_begin(step)
            logs = train_function(iterator, tf.constant(count))  # tensors, as `fit` passes them: no wait here
            step, global_step = step + count, global_step + count
            callback_list.on_train_batch_end(step - 1, logs)
            if model.stop_training:
                break
        epoch_logs = _floats(logs)
        if validation_data is not None and (epoch + 1) % validation_freq == 0:
            epoch_logs.update({f"val_{key}": value for key, value in evaluate_locally(model, validation_data).items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callback_list.on_train_end(_floats(logs))
    return model.history
