"""ONNX in and out: run glassnet models anywhere, look inside models from elsewhere.

ONNX is the file format the field exchanges trained networks in: PyTorch's
``torch.onnx.export`` and Keras's ``model.export(format="onnx")`` write it,
and onnxruntime runs it on any machine.

- :func:`export_onnx` writes a glassnet model as an ONNX graph (one small
  group of standard ONNX operators per layer, the batch axis symbolic), so
  it runs under onnxruntime without glassnet.
- :func:`import_onnx` reads an ONNX graph that is a chain of the operators
  glassnet's layers stand for, including the node patterns PyTorch's
  exporter writes around them, into a glassnet ``Sequential`` that traces,
  draws, fine-tunes and saves like any other.

Both need the optional extra ``pip install 'glassnet[onnx]'`` (onnx and
onnxruntime). The layer-by-layer correspondence:

==========================  ==========================================================
glassnet layer              ONNX nodes
==========================  ==========================================================
Dense                       MatMul (+ Add); import also reads Gemm (transB=0 or 1)
Sigmoid, Tanh, ReLU         Sigmoid, Tanh, Relu
Softmax, Identity           Softmax (axis), Identity
Step                        Greater + Where
Flatten                     Flatten (axis=1); import also reads Reshape to (batch, -1)
Conv1D, Conv2D              Conv (pads [begin..., end...]; 'same' is SAME_UPPER)
MaxPool2D, AvgPool2D        MaxPool, AveragePool (count_include_pad=0), ceil_mode
GlobalAveragePool2D         GlobalAveragePool + Flatten
Embedding, OneHot           Gather, OneHot (ids as int64)
RNN, LSTM                   Transpose + RNN / LSTM + Squeeze (+ Transpose)
GRU                         the same with GRU (linear_before_reset=1, PyTorch's GRU)
num_layers, bidirectional   one node per layer; direction=bidirectional, and
                            Transpose [0, 2, 1, 3] + Reshape [0, 0, -1] for Y
MultiHeadAttention          a call of a model-local function (domain ``glassnet``)
                            whose body is MatMul, Add, Reshape, Transpose, Gather,
                            Mul, Softmax (+ Range, Greater, Where when causal)
ConvTranspose2D             ConvTranspose (pads, output_padding, dilations, group)
Upsample                    Resize (nearest: asymmetric, floor; bilinear: half_pixel
                            or align_corners; ``size`` needs opset 18)
MaxPool1D, AvgPool1D        MaxPool, AveragePool with a 1-D window
GlobalMaxPool2D             GlobalMaxPool + Flatten
AdaptiveAvgPool2D           GlobalAveragePool (1x1), AveragePool, or two MatMuls
LeakyReLU, ELU, SELU        LeakyRelu, Elu, Selu (alpha; SELU's fixed constants)
GELU                        Gelu from opset 20; before, its formula (Div, Erf, Add,
                            Mul, Mul; or the tanh form), as PyTorch writes it
SiLU                        Sigmoid + Mul (x · σ(x))
Softplus                    Softplus; with beta ≠ 1, Mul β + Softplus + Div β
                            (ONNX has no threshold)
LogSoftmax                  LogSoftmax (axis)
Dropout                     Dropout (ratio): the identity at inference
BatchNorm1D, BatchNorm2D    BatchNormalization with the running statistics
LayerNorm                   LayerNormalization (opset 17 and later)
==========================  ==========================================================

Conv1D and Conv2D write ``dilations`` and ``group`` when not 1; AvgPool2D
writes its ``count_include_pad``. See the docs page "Convolutions,
upsampling, pooling" for the details.

Import recognises GELU and SiLU written out as formulas (the input forks into
elementwise nodes that join again) by evaluating the nodes on a probe and
comparing with each activation: any arrangement of the formula an exporter
writes is read, and a formula that is neither stays refused as a branch.

An LSTM's gates: glassnet keeps them in the order forget, input, candidate,
output with one bias; ONNX in the order input, output, forget, cell with an
input bias ``Wb`` and a recurrent bias ``Rb``. Export writes glassnet's bias
as ``Wb`` and zeros as ``Rb``; import adds the two. A GRU's gates are (r, z, n)
in glassnet and (z, r, h) in ONNX; its ``bias_hn`` is ONNX's ``Rbh``.

Loading is data only: the file is parsed as a protobuf message (no code in
it is run, no custom operator is loaded), it may be at most ``max_bytes``
long, tensors stored outside the file ("external data") are refused, and a
graph of more than :data:`MAX_NODES` nodes is refused.
"""

from __future__ import annotations

from .export import export_onnx, exportable_layers, to_onnx_model
from .read import MAX_NODES, import_onnx, read_onnx

__all__ = [
    "MAX_NODES",
    "export_onnx",
    "exportable_layers",
    "import_onnx",
    "read_onnx",
    "to_onnx_model",
]
