"""spikerl.plotting."""
