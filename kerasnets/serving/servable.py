"""One loaded SavedModel version, and the Predict / Classify / Regress calls on it.

Mirrors what TF Serving does with a `SavedModelBundle`:

* the MetaGraphDef whose tag set equals `saved_model_tags` (default `serve`)
  is read from `saved_model.pb` (or `saved_model.pbtxt`); its SignatureDef
  map, `__saved_model_init_op` included, is what `/metadata` shows and what
  requests are checked against;
* the model itself is loaded with `tf.saved_model.load` and signatures run
  through `loaded.signatures[name]`; dtypes are the signature's. Unlike a TF
  Serving session feed, input shapes are checked against the signature
  first (INVALID_ARGUMENT): some CPU kernels (oneDNN convolutions) abort the
  whole process on an input of the wrong rank instead of raising;
* load failures keep TF Serving's codes and messages (NOT_FOUND "SavedModel
  file does not exist at: ...", DATA_LOSS for an unparsable `saved_model.pb`).
"""

import os

import numpy as np

from kerasnets.serving.status import Code, StatusError, from_tensorflow_error, internal, invalid_argument


DEFAULT_SERVING_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
_PREDICT_METHODS = (PREDICT_METHOD, CLASSIFY_METHOD, REGRESS_METHOD)


def _read_meta_graph(path, tags):
    import tensorflow as tf
    from google.protobuf import message, text_format
    from tensorflow.core.protobuf import saved_model_pb2

    binary = os.path.join(path, "saved_model.pb")
    text = os.path.join(path, "saved_model.pbtxt")
    saved_model = saved_model_pb2.SavedModel()
    if tf.io.gfile.exists(binary):
        try:
            with tf.io.gfile.GFile(binary, "rb") as handle:
                saved_model.ParseFromString(handle.read())
        except (message.DecodeError, ValueError):
            raise StatusError(Code.DATA_LOSS, f"Can't parse {binary} as binary proto") from None
    elif tf.io.gfile.exists(text):
        try:
            with tf.io.gfile.GFile(text, "r") as handle:
                text_format.Parse(handle.read(), saved_model)
        except (text_format.ParseError, ValueError) as error:
            raise StatusError(Code.DATA_LOSS, f"Can't parse {text} as text proto: {error}") from None
    else:
        raise StatusError(
            Code.NOT_FOUND, f"SavedModel file does not exist at: {path}/{{saved_model.pbtxt|saved_model.pb}}"
        )
    for meta_graph in saved_model.meta_graphs:
        if set(meta_graph.meta_info_def.tags) == set(tags):
            return meta_graph
    wanted = " ".join(tags)
    raise StatusError(
        Code.NOT_FOUND,
        f"Could not find meta graph def matching supplied tags: {{ {wanted} }}. To inspect available "
        "tag-sets in the SavedModel, please use the SavedModel CLI: `saved_model_cli`",
    )


class Servable:
    """A loaded version of a model: `name`, `version`, `path`, `signature_defs`."""

    def __init__(self, name, version, path, meta_graph, loaded):
        self.name = name
        self.version = version
        self.path = path
        self.signature_defs = dict(meta_graph.signature_def)
        self._loaded = loaded
        self._input_specs = {}  # signature key -> {input: (tf.DType, tf.TensorShape)}, built on first use

    @classmethod
    def load(cls, name, version, path, tags=("serve",)):
        """Read and load `path`; raises `StatusError` with TF Serving's load errors."""
        import tensorflow as tf

        meta_graph = _read_meta_graph(path, tags)
        try:
            loaded = tf.saved_model.load(path, tags=list(tags))
        except (IndexError, EOFError, tf.errors.OutOfRangeError) as error:
            # The checkpoint reader's "Read less bytes than requested": a truncated variables
            # file, which TF Serving's C++ restore reports as DATA_LOSS.
            raise StatusError(
                Code.DATA_LOSS, f"Unable to restore the variables of SavedModel at {path} "
                f"(truncated or corrupted variables/ files): {error}"
            ) from None
        except Exception as error:  # TF raises many types here; report, never crash
            raise from_tensorflow_error(error) from None
        return cls(name, version, path, meta_graph, loaded)

    def signature_def(self, signature_name):
        return self.signature_defs.get(signature_name or DEFAULT_SERVING_SIGNATURE)

    def input_dtypes(self, signature_name):
        """Input name -> DataType number of a signature (TF Serving's GetInfoMap); None if unknown."""
        signature = self.signature_def(signature_name)
        if signature is None:
            return None
        return {name: info.dtype for name, info in signature.inputs.items()}

    def _input_spec(self, signature_name, signature):
        """{input: (tf.DType, tf.TensorShape)} of a signature, read from its proto once."""
        spec = self._input_specs.get(signature_name)
        if spec is None:
            import tensorflow as tf

            spec = {
                name: (tf.dtypes.as_dtype(info.dtype), tf.TensorShape(info.tensor_shape))
                for name, info in signature.inputs.items()
            }
            self._input_specs[signature_name] = spec
        return spec

    def _call(self, signature_name, feeds):
        import tensorflow as tf

        function = self._loaded.signatures.get(signature_name)
        if function is None:
            raise internal(f"Signature {signature_name} of servable {self.name} version {self.version} is not callable")
        try:
            results = function(**feeds)
        except Exception as error:
            raise from_tensorflow_error(error) from None
        if not isinstance(results, dict):
            results = {"output_0": results}
        outputs = {}
        for alias, tensor in results.items():
            tensor = tf.convert_to_tensor(tensor)
            outputs[alias] = (tensor.dtype.as_datatype_enum, tensor.numpy())
        return outputs

    # --- Predict -----------------------------------------------------------

    def predict(self, signature_name, inputs):
        """Run a predict signature on NumPy inputs; returns {output: (DataType, array)}.

        Checks as TF Serving's `RunPredict` does: the signature must exist, be a
        predict/classify/regress signature, and receive exactly its inputs.
        """
        return self._call(*self.checked_predict_feeds(signature_name, inputs))

    def checked_predict_feeds(self, signature_name, inputs):
        """`(signature key, {input: tf.Tensor of the signature's dtype and a compatible shape})`,
        or the StatusError `predict` would raise for `inputs`."""
        import tensorflow as tf

        signature_name = signature_name or DEFAULT_SERVING_SIGNATURE
        signature = self.signature_defs.get(signature_name)
        if signature is None:
            raise StatusError(Code.FAILED_PRECONDITION, f'Serving signature key "{signature_name}" not found.')
        if signature.method_name not in _PREDICT_METHODS:
            raise internal(
                "Expected prediction signature method_name to be one of {"
                + ", ".join(_PREDICT_METHODS) + "}. Was: " + signature.method_name
            )
        spec = self._input_spec(signature_name, signature)
        if inputs.keys() != spec.keys():
            expected = set(spec)
            missing = sorted(expected - set(inputs))
            raise invalid_argument(
                f"input size does not match signature: {len(inputs)}!={len(expected)} "
                f"len({{{','.join(sorted(inputs))}}}). Missing inputs: {','.join(missing)}."
            )
        feeds = {}
        for name, array in inputs.items():
            dtype, expected_shape = spec[name]
            feeds[name] = tf.constant(array, dtype=dtype)
            if not expected_shape.is_compatible_with(feeds[name].shape):
                raise invalid_argument(
                    f"Input '{name}' has shape {_shape_debug_string(feeds[name].shape)}, but signature "
                    f"'{signature_name}' expects {_shape_debug_string(_dims(expected_shape))} (-1: any size)."
                )
        return signature_name, feeds

    # --- Classify / Regress --------------------------------------------------

    def _checked_signature(self, signature_name, method, method_name_check):
        from google.protobuf import text_format

        signature_name = signature_name or DEFAULT_SERVING_SIGNATURE
        signature = self.signature_defs.get(signature_name)
        if signature is None:
            raise invalid_argument(f"No signature was found with the name: {signature_name}")
        expected_method = CLASSIFY_METHOD if method == "classify" else REGRESS_METHOD
        kind = "classification" if method == "classify" else "regression"
        if method_name_check and signature.method_name != expected_method:
            raise invalid_argument(
                f"Expected {kind} signature method_name to be {expected_method}. Was: {signature.method_name}"
            )
        debug_string = text_format.MessageToString(signature)
        if len(signature.inputs) != 1:
            raise invalid_argument("Expected one input Tensor.")
        if method == "classify":
            if len(signature.outputs) not in (1, 2):
                raise invalid_argument(f"Expected one or two output Tensors, found {len(signature.outputs)}")
            if "inputs" not in signature.inputs:
                raise invalid_argument(f"No classification inputs found in SignatureDef: {debug_string}")
            if "classes" not in signature.outputs and "scores" not in signature.outputs:
                raise invalid_argument(
                    'Expected classification signature outputs to contain at least one of "classes" or '
                    f'"scores". Signature was: {debug_string}'
                )
        else:
            if len(signature.outputs) != 1:
                raise invalid_argument("Expected one output Tensor.")
            if "inputs" not in signature.inputs:
                raise invalid_argument(f"No regression inputs found in SignatureDef: {debug_string}")
            if "outputs" not in signature.outputs:
                raise invalid_argument(f"No regression outputs found in SignatureDef: {debug_string}")
        return signature_name, signature

    def _run_on_examples(self, signature_name, serialized_examples):
        import tensorflow as tf

        feeds = {"inputs": tf.constant(np.array(serialized_examples, dtype=object), dtype=tf.string)}
        return self._call(signature_name, feeds)

    def classify(self, signature_name, serialized_examples, method_name_check=False):
        """TF Serving's Classify: [[(label bytes, score), ...] per example]."""
        signature_name, _ = self._checked_signature(signature_name, "classify", method_name_check)
        outputs = self._run_on_examples(signature_name, serialized_examples)
        count = len(serialized_examples)
        classes = outputs.get("classes")
        scores = outputs.get("scores")
        for key, tensor, dtype_name, dtype in (("classes", classes, "DT_STRING", 7), ("scores", scores, "DT_FLOAT", 1)):
            if tensor is None:
                continue
            array = tensor[1]
            if array.ndim != 2:
                raise invalid_argument(
                    f"Expected Tensor shape: [batch_size num_classes] but got {_shape_debug_string(array.shape)}"
                )
            if tensor[0] != dtype:
                raise invalid_argument(f"Expected {key} Tensor of {dtype_name}. Got: {_dtype_name(tensor[0])}")
            if array.shape[0] != count:
                raise invalid_argument(f"Expected {key} output batch size of {count}. Got: {array.shape[0]}")
        if classes is not None and scores is not None and classes[1].shape[1] != scores[1].shape[1]:
            raise invalid_argument(
                "Tensors class and score should match in dim_size(1). "
                f"Got {classes[1].shape[1]} vs. {scores[1].shape[1]}"
            )
        num_classes = (classes if classes is not None else scores)[1].shape[1]
        results = []
        for row in range(count):
            results.append([
                (
                    bytes(classes[1][row, c]) if classes is not None else b"",
                    float(scores[1][row, c]) if scores is not None else 0.0,
                )
                for c in range(num_classes)
            ])
        return results

    def regress(self, signature_name, serialized_examples, method_name_check=False):
        """TF Serving's Regress: one float per example."""
        signature_name, _ = self._checked_signature(signature_name, "regress", method_name_check)
        outputs = self._run_on_examples(signature_name, serialized_examples)
        dtype, array = outputs["outputs"]
        if dtype != 1:
            raise invalid_argument(f"Expected output Tensor of DT_FLOAT.  Got: {_dtype_name(dtype)}")
        if not (array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)):
            raise invalid_argument(
                "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
                + _shape_debug_string(array.shape)
            )
        if array.shape[0] != len(serialized_examples):
            raise invalid_argument(
                f"Input batch size did not match output batch size: {len(serialized_examples)} vs. {array.shape[0]}"
            )
        return [float(value) for value in array.reshape(-1).tolist()]


def _dims(shape):
    return [-1 if d is None else d for d in shape.as_list()]


def _shape_debug_string(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def _dtype_name(dtype):
    from tensorflow.core.framework import types_pb2

    return types_pb2.DataType.Name(dtype)
