"""SQL and row -> Struct conversion. Every function takes a connection first."""
