"""Online anomaly detection: detectors with river's contract, score calibration, NAB scoring."""
