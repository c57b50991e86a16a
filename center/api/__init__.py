"""The center's HTTP API: one router per resource, composed in `center.app`."""
