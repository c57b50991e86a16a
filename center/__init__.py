"""The operations center: the alert ledger, the warning chain, routing and SLA, and the API."""
