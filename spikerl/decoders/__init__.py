"""spikerl.decoders."""
