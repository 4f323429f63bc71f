"""The recommender assembled: the lessons' code (the learner's where written, the reference's
elsewhere) run end to end, each model on the path ``recommender.paths`` chooses.

- :mod:`recommender.code`: whose function runs, lesson by lesson (``CODE=auto|mine|reference``);
- :mod:`recommender.paths`: the textbook path, or a fast path (``fast/``) where every lesson
  function it stands in for is the reference's;
- :mod:`recommender.models`: the MSE two-tower of lessons 5-6 and its two baselines, the
  retrieval two-tower of lesson 12 and the autoencoder two-tower of lesson 13, each trained
  by whose code on which path;
- :mod:`recommender.ranking`: lessons 10-13 on one split, typed: which model trains on which
  split, every predictor's metrics, and lesson 10's own metrics checked against the reference's;
- :mod:`recommender.newcomers`: lesson 13's model answering a newcomer (their titles' lift,
  their genres weighted in), for ``make recommend`` and the demo's personas;
- :mod:`recommender.figures`: the map of movie embeddings.

``make demo`` (commands/demo.py) orchestrates these and prints; ``make bench`` times them.
"""
