"""reactbin: a self-hosted library of reaction images with a CDN-aware API."""
