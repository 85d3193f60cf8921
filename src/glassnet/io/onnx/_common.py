"""What export and import share: the onnx package, the LSTM's gate orders."""

from __future__ import annotations

MIN_OPSET = 13  # Squeeze's axes as an input and Softmax along one axis

# ONNX LSTM gate blocks (i, o, f, c) in terms of glassnet's (f, i, g, o) blocks,
# and back.
TO_ONNX_GATES = (1, 3, 0, 2)
FROM_ONNX_GATES = (2, 0, 3, 1)
# ONNX GRU gate blocks (z, r, h) in terms of glassnet's (r, z, n), and back.
GRU_GATES = (1, 0, 2)


def require_onnx():
    """The onnx package, or an ImportError naming the extra that installs it."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError(
            "ONNX export and import need the onnx package: pip install 'glassnet[onnx]'"
        ) from e
    return onnx
