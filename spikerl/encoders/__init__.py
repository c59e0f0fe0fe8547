"""spikerl.encoders."""
