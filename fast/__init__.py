"""The course's speed work, kept apart from the lessons.

Each lesson in ``solutions/`` is the textbook: the functions its text teaches, calling one
another as the text says. This package holds faster ways to compute exactly the same
numbers, for ``make demo``, ``make bench`` and the large datasets:

- :mod:`fast.mse_training`: lesson 6's training loop with the gradients of lessons 5-6
  written out by hand (no autograd) and the evaluation of :mod:`fast.mse_evaluation`;
- :mod:`fast.mse_evaluation`: lesson 6's ``evaluate`` for the training and validation
  sets at once, with the bookkeeping done once per run, sparse products and threads;
- :mod:`fast.ranking`: lesson 10's ``rank_unseen`` by selection (``torch.topk``) instead of
  a sort of every row, the seen movies read from sparse rows;
- :mod:`fast.ranking_metrics`: lesson 10's ``ranking_metrics`` with the labels read from
  sparse rows instead of a dense [users, movies] matrix;
- :mod:`fast.retrieval_scoring`: lesson 12's ``catalogue_logits`` for the ranking, the item
  tower once and one block's memory kept from block to block;
- :mod:`fast.ease`: lesson 10's ``ease_weights`` with its Gram matrix counted sparse for
  light users and in 8-bit dense products for heavy ones (exact counts, side by side), and
  its inverse from a Cholesky factor;
- :mod:`fast.retrieval_contexts`: lesson 12's training loop fed sparse context rows, and
  ``implicit_contexts`` made straight into them;
- :mod:`fast.retrieval_folds`: every fold of lesson 12's training (lesson 12's
  ``fold_splits`` and ``implicit_contexts``, lesson 4's ``user_mean_ratings`` and
  ``build_examples``) from one pass over the ratings;
- :mod:`fast.retrieval_training`: lesson 12's training loop with the user tower's gradient
  scattered into the rows it read, the loss's per-candidate terms added by the product, and
  PyTorch's fused Adam (the textbook's parameters to rounding);
- :mod:`fast.time_split`: lesson 11's ``split_by_time`` ordered by lesson 3's one-key sort
  instead of a three-column ``sort_values`` (the same split).

Every fast function names the textbook functions it stands in for (``STANDS_FOR``), and a
test proves, on the synthetic fixture with the same seeds and in float64, that it gives
their loss, their gradients and their parameters (tests/test_fast_paths.py). The lessons
never import this package; ``recommender.paths`` runs a fast path only where every
function it stands in for is the reference's, so that what a learner writes is what runs.
"""
