"""spikerl.models."""
