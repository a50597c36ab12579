"""Use cases: ingest, browse, tag, delete and serve images."""
