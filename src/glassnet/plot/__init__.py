"""Figures: every picture of the seeds, drawn from a model, a trace or a history.

Needs matplotlib (``pip install -e '.[plot]'`` in a checkout), imported only when a
figure is drawn. Every function returns a ``matplotlib.figure.Figure`` and
takes ``path=`` to save it (``.png`` or ``.svg``). Colours: see
:mod:`glassnet.plot._style` (blue positive, vermilion negative, both safe
for colour-blind readers; black-to-white for pixels, as in the seeds).

==========================  ===============================================
figure                      function
==========================  ===============================================
network, weights as lines   :func:`network`
receptive fields            :func:`receptive_fields`
first-layer weights         :func:`weight_images`
CNN filters, feature maps   :func:`filters`, :func:`feature_maps`
training curves             :func:`training_curves`
confusion matrix            :func:`confusion_matrix`
decision regions (2-D)      :func:`decision_regions`
loss landscapes             :func:`loss_curve` (1-D), :func:`loss_surface` (2-D)
what networks can learn     :func:`function_families`, :func:`deep_vs_wide`
LSTM gates                  :func:`lstm_gates`
attention weights           :func:`attention`
a blank figure of your own  :func:`new_figure`
==========================  ===============================================
"""

from ._style import new_figure  # noqa: F401
from .attention import attention  # noqa: F401
from .conv import feature_maps, filters  # noqa: F401
from .families import deep_vs_wide, function_families  # noqa: F401
from .landscape import loss_curve, loss_surface  # noqa: F401
from .network import network  # noqa: F401
from .receptive import receptive_fields, weight_images  # noqa: F401
from .recurrent import lstm_gates  # noqa: F401
from .regions import decision_regions  # noqa: F401
from .training import confusion_matrix, training_curves  # noqa: F401
