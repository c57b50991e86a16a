"""The streaming shell: the embedded broker, the ingest (HTTP, MQTT) and its journal, the Faust
worker and its partition runners, checkpoints, rule pushes and the pipeline's metrics.

It moves events in and out and calls `engine`; it holds no rule logic.
"""
