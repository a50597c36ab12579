"""Media work on files: pure functions of a file, none touching the database or HTTP."""
