"""spikerl.datasets."""
