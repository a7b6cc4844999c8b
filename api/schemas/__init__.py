"""Request and response models of the HTTP API (requests are never reused as responses)."""
