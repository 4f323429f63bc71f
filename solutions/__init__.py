"""Reference solutions of the course. ``lessons/`` is generated from these files (make stubs)."""
