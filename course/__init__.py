"""Shared plumbing of the course: hyper-parameters, the lesson index, paths, stub generation."""
