"""The Faust runtime: topics, agents, ingest bridges and the embedded broker.

It moves events in and out and calls `engine`; it holds no rule logic. Not built yet: until it
is, `ewe replay` runs the engine over files (see README.md).
"""
