"""MovieLens download-and-verify tool (see ``python -m datasets.fetch --help``)."""
