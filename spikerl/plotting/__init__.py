"""Plots of spiking networks: rasters, state traces, weights, learning curves, live views.

Every plot function takes time-first recordings ``[T, B, *shape]`` (or ``[T, n]``) as
torch tensors or numpy arrays, returns a :class:`matplotlib.figure.Figure`, and draws
into ``ax`` when one is given. Figures are plain ``Figure`` objects (no pyplot state):
save them with :func:`save_figure` or turn them into an RGB array for wandb with
:func:`figure_to_array`. :class:`LivePlot` redraws during a simulation, in a window or
as numbered PNG frames on a headless machine.

Importing this package imports matplotlib; nothing else in :mod:`spikerl` does.
"""

from spikerl.plotting._common import ArrayLike
from spikerl.plotting.curves import learning_curve, moving_average, state_traces, stdp_window
from spikerl.plotting.export import figure_to_array, save_figure
from spikerl.plotting.live import LivePlot, PanelFn, Source, is_headless
from spikerl.plotting.spikes import firing_rates, input_spikes, spike_raster
from spikerl.plotting.weights import conv_features, conv_kernels, receptive_fields, weight_matrix

__all__ = [
    "ArrayLike",
    "LivePlot",
    "PanelFn",
    "Source",
    "conv_features",
    "conv_kernels",
    "figure_to_array",
    "firing_rates",
    "input_spikes",
    "is_headless",
    "learning_curve",
    "moving_average",
    "receptive_fields",
    "save_figure",
    "spike_raster",
    "state_traces",
    "stdp_window",
    "weight_matrix",
]
