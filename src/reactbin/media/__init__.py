"""Media work on files: probing, video posters, animated previews, placeholders, frame sampling.

Every module here is a set of pure, synchronous, CPU-bound functions of a file or bytes; none touches the database
or HTTP. Callers run them off the event loop (`Resources.run_cpu`).
"""
