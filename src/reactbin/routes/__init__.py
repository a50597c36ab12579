"""HTTP routes: thin handlers that parse, call a use case and shape the response."""
