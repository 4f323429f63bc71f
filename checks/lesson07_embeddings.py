"""Checks for lesson 7: every movie's embeddings, precomputed in one batched pass."""
from __future__ import annotations

import torch

from checks.framework import CheckFailed, check, compare_tensors, expect, expect_type
from checks import fixtures

PARTS = ("id", "feature", "combined")
NAMES = {"id": "the id embedding", "feature": "the feature embedding", "combined": "the combined embedding"}


def _call(learner, params, genres):
    """The learner's embeddings for copies of ``params`` and ``genres``, checked for shape."""
    out = learner.movie_embeddings(params.clone(), genres.clone())
    for part in PARTS:
        expect(hasattr(out, part), f"movie_embeddings should return MovieEmbeddings(id, feature, combined); "
                                   f"`{part}` is missing.")
        expect_type(getattr(out, part), torch.Tensor, f"{NAMES[part]} ({part})")
    return out


def _sizes(params, genres):
    m, e = params.item_embedding_table.shape
    f = params.item_feature_W.shape[1]
    return {"id": (m, e), "feature": (genres.shape[0], f), "combined": (m, f + e)}


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return tuple(a.shape) == tuple(b.shape) and torch.allclose(a.detach().double(), b.detach().double(), atol=1e-5)


def _diagnose(out, params, genres) -> None:
    """Name the usual mistakes before a plain 'differs' message."""
    with torch.no_grad():
        table = params.item_embedding_table
        id_pre = table @ params.item_id_W + params.item_id_b
        feature_pre = genres @ params.item_feature_W + params.item_feature_b
    if _close(out.id, table):
        raise CheckFailed("your id embedding is the raw embedding table itself: the table's rows still go through "
                          "the id layer (times item_id_W, plus item_id_b, then tanh), as in lesson 5's item tower.")
    if _close(out.id, id_pre):
        raise CheckFailed("your id embedding is missing its tanh: both item towers end with tanh, as in lesson 5.")
    if _close(out.feature, feature_pre):
        raise CheckFailed("your feature embedding is missing its tanh: both item towers end with tanh, as in lesson 5.")
    _expect_feature_first(out)


def _expect_feature_first(out) -> None:
    e = out.id.shape[1] if out.id.dim() == 2 else 0
    combined = out.combined.detach()
    if combined.dim() == 2 and _close(combined[:, :e], out.id) and _close(combined[:, e:], out.feature):
        raise CheckFailed("your combined embedding puts the id embedding first: the feature embedding must come "
                          "first, then the id embedding, as in lesson 5's item tower. The user embedding was "
                          "trained against that order, so swapped halves give meaningless scores.")


@check("7.1", points=1, title="id, feature and combined have the right shapes and dtype")
def shapes(learner, ref, fx):
    params, genres = fx.trained.params, fx.data.movie_genres
    out = _call(learner, params, genres)
    for part, shape in _sizes(params, genres).items():
        got = getattr(out, part)
        expect(tuple(got.shape) == shape,
               f"{NAMES[part]} has shape {tuple(got.shape)}; with {shape[0]} movies it should have shape {shape} "
               f"(one row per movie).")
        expect(got.dtype == torch.float32, f"{NAMES[part]} has dtype {got.dtype}; it should be float32 like the weights.")
    return f"{len(genres)} movies"


@check("7.1", points=3, title="the trained model's embeddings match the reference")
def matches_reference(learner, ref, fx):
    params, genres = fx.trained.params, fx.data.movie_genres
    out = _call(learner, params, genres)
    expected = fixtures.embeddings()
    _diagnose(out, params, genres)
    details = [compare_tensors(getattr(out, part), getattr(expected, part), NAMES[part], atol=1e-5)
               for part in ("id", "feature")]
    if _close(out.id, expected.id) and _close(out.feature, expected.feature):
        details.append(compare_tensors(out.combined, expected.combined, NAMES["combined"], atol=1e-5))
    return "; ".join(sorted(set(details)))


@check("7.1", points=2, title="combined equals lesson 5's item tower, movie by movie")
def equals_item_tower(learner, ref, fx):
    from solutions.lesson05_weights import item_tower

    # Fresh weights (not the trained ones), so nothing can be memorised from the fixture.
    params, genres = fixtures.new_parameters(seed=123), fx.data.movie_genres
    out = _call(learner, params, genres)
    expected_shape = _sizes(params, genres)["combined"]
    expect(tuple(out.combined.shape) == expected_shape,
           f"the combined embedding has shape {tuple(out.combined.shape)}; it should have shape {expected_shape}.")
    wrong = []
    with torch.no_grad():
        for row in range(genres.shape[0]):
            one = item_tower(params, genres[row:row + 1], torch.tensor([row]))[0]
            if not torch.allclose(out.combined[row].detach(), one, atol=1e-5):
                wrong.append(row)
    if wrong:
        _diagnose(out, params, genres)
        raise CheckFailed(f"for {len(wrong)} of {genres.shape[0]} movies (first: row {wrong[0]}), your combined "
                          f"embedding differs from what lesson 5's item tower gives for that one movie. Row i of "
                          f"every output belongs to the movie at row i of movie_genres and of the embedding table.")
    return f"all {genres.shape[0]} movies"


@check("7.1", points=1, title="combined is the feature embedding first, then the id embedding")
def concat_order(learner, ref, fx):
    params, genres = fx.trained.params, fx.data.movie_genres
    out = _call(learner, params, genres)
    f, e = params.item_feature_W.shape[1], params.item_embedding_table.shape[1]
    combined = out.combined.detach()
    expect(tuple(combined.shape) == (genres.shape[0], f + e),
           f"the combined embedding has shape {tuple(combined.shape)}; it should have shape {(genres.shape[0], f + e)} "
           f"(feature size {f} plus id size {e}).")
    _expect_feature_first(out)
    expect(_close(combined[:, :f], out.feature),
           f"the first {f} columns of the combined embedding should be your feature embedding.")
    expect(_close(combined[:, f:], out.id), f"the last {e} columns of the combined embedding should be your id embedding.")


@check("7.1", points=1, title="no gradients are tracked")
def no_gradients(learner, ref, fx):
    out = _call(learner, fx.trained.params, fx.data.movie_genres)
    tracking = [part for part in PARTS if getattr(out, part).requires_grad]
    expect(not tracking, f"your embeddings still track gradients (requires_grad=True on {', '.join(tracking)}). "
                         f"These are fixed lookups now: compute them under torch.no_grad() (the decorator on the "
                         f"stub does it), so no autograd graph is kept in memory for the whole catalogue.")
