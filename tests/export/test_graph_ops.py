import numpy as np
import tensorflow as tf

from kerasnets.export.graph_ops import concrete_function_op_types, ops_outside_core, saved_model_op_types


def test_core_ops_pass_and_python_ops_are_reported(tmp_path):
    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def plain(self, text):
            return tf.strings.length(tf.strings.lower(text))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def python(self, x):
            return tf.numpy_function(lambda v: np.sqrt(v), [x], tf.float32)

    module = Module()
    plain = concrete_function_op_types(module.plain.get_concrete_function())
    assert {"StringLower", "StringLength"} <= plain
    assert ops_outside_core(plain) == []
    python = concrete_function_op_types(module.python.get_concrete_function())
    assert ops_outside_core(python) == ["PyFunc"]
    assert ops_outside_core({"RegexSplitWithOffsets", "StringLower"}) == ["RegexSplitWithOffsets"]

    tf.saved_model.save(module, str(tmp_path), signatures={"plain": module.plain.get_concrete_function()})
    assert {"StringLower", "StringLength"} <= saved_model_op_types(str(tmp_path))
