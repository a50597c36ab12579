"""Serving stored bytes and share cards: the proxy's conditional and range answers, and the per-process maps that
let revalidations, small files and share pages skip the database while LISTEN/NOTIFY vouches for them."""
