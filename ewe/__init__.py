"""The `ewe` command: the composition root that wires engine, streams and center together."""
