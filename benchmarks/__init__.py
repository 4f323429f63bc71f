"""Speed and memory measurements of the reference pipeline (``make bench``); never run by the tests."""
