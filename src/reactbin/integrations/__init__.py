"""Chat platforms: verify their signed requests and shape their payloads, calling reactbin.domain for the rest."""
