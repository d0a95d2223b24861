"""Which TensorFlow ops an exported graph runs, and whether stock TF Serving has them all.

    op_types = saved_model_op_types("saved_models/gpt/1")
    assert not ops_outside_core(op_types)

A `tensorflow_model_server` binary carries TensorFlow's core kernels only:
no tensorflow-text ops, and a Python function (`tf.py_function`,
`tf.numpy_function`) cannot run where there is no Python. An op is "core"
here when `tf.raw_ops` (this process, with no add-on op library loaded) has
it and it is not one of the Python-calling ops.
"""

import os

import tensorflow as tf

PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})


def graph_def_op_types(graph_def):
    """Op type names of a `GraphDef`, its function library included."""
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types.update(node.op for node in function.node_def)
    return types


def concrete_function_op_types(concrete_function):
    """Op type names a `tf.function`'s concrete function runs (nested functions included)."""
    return graph_def_op_types(concrete_function.graph.as_graph_def())


def saved_model_op_types(export_dir):
    """Op type names of every graph and function in a SavedModel directory."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as file:
        saved_model.ParseFromString(file.read())
    types = set()
    for meta_graph in saved_model.meta_graphs:
        types |= graph_def_op_types(meta_graph.graph_def)
    return types


def ops_outside_core(op_types):
    """The op types a stock TensorFlow Serving binary cannot run (sorted)."""
    core = set(dir(tf.raw_ops))
    return sorted(op for op in op_types if op in PYTHON_OPS or op not in core)
