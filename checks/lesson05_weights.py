"""Checks for lesson 5: the parameters as raw tensors, and the forward pass."""
from __future__ import annotations

from dataclasses import replace

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.compare import all_near, far_entries
from checks.framework import CheckFailed, check, compare_tensors, expect, expect_type
from checks.properties import PROPERTY
from course.containers import Params

# Small made-up sizes: C context slots, G genres, M movies, F feature size, E id size.
C, G, M, F, E = 7, 3, 5, 2, 4


def _cfg(fx, feature_dim: int = F, id_dim: int = E, scale: float | None = None):
    model = fx.cfg.model
    return replace(model, item_feature_dim=feature_dim, item_id_dim=id_dim,
                   weight_scale=model.weight_scale if scale is None else scale)


def _shapes(C: int, G: int, M: int, F: int, E: int) -> dict[str, tuple[int, ...]]:
    return {"item_feature_W": (G, F), "item_feature_b": (F,), "item_embedding_table": (M, E),
            "item_id_W": (E, E), "item_id_b": (E,), "user_W": (C, F + E), "user_b": (F + E,)}


def _init(learner, fx, sizes=(C, G, M), seed: int = 0, **cfg):
    out = learner.init_parameters(*sizes, _cfg(fx, **cfg), torch.Generator().manual_seed(seed))
    expect_type(out, Params, "init_parameters' result")
    for name in Params.NAMES:
        expect_type(getattr(out, name), torch.Tensor, f"params.{name}")
    return out


def _fixture_params(fx, seed: int = 1) -> Params:
    from checks.fixtures import new_parameters
    return new_parameters(seed)


def _batch(fx, size: int = 48, seed: int = 3):
    """User contexts, movie genres and movie rows of `size` fixture training examples."""
    data = fx.data
    rows = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))[:size]
    users, movies = data.train.user_row[rows], data.train.movie_row[rows]
    return data.user_context[users].clone(), data.movie_genres[movies].clone(), movies.clone()


def _same_model(a: Params, b: Params) -> bool:
    return all(torch.equal(x.detach(), y.detach()) for x, y in zip(a.as_list(), b.as_list()))


def _expect_untouched(given: Params, original: Params, function: str) -> None:
    """The learner's copy of the parameters is still the check's: a forward pass only reads them.
    (Every expected value is computed before the learner's call, from the check's own copy, so a
    function that rewrites its parameters can never agree with itself.)"""
    for name, a, b in zip(Params.NAMES, given.as_list(), original.as_list()):
        expect(tuple(a.shape) == tuple(b.shape) and torch.equal(a.detach(), b.detach()),
               f"{function} changed the parameters it was given (params.{name}): a forward pass only reads them.")


# ---------------------------------------------------------------- 5.1 init_parameters

@check("5.1", points=1, title="seven tensors of the right shapes")
def init_shapes(learner, ref, fx):
    out = _init(learner, fx)
    for name, shape in _shapes(C, G, M, F, E).items():
        got = tuple(getattr(out, name).shape)
        expect(got == shape, f"with {C} context slots, {G} genres, {M} movies, item_feature_dim={F} and "
                             f"item_id_dim={E}, params.{name} should have shape {shape}, not {got}"
                             + (" (the user embedding has F+E entries, to be dotted with the two item "
                                "embeddings side by side)." if name.startswith("user") else "."))
    return "all seven"


@check("5.1", points=2, title="normal weights and a uniform table, scaled by weight_scale")
def init_scale(learner, ref, fx):
    for scale in (fx.cfg.model.weight_scale, 0.25):
        out = _init(learner, fx, sizes=(300, 40, 400), feature_dim=20, id_dim=20, scale=scale)
        for name in ("item_feature_W", "item_id_W", "user_W"):
            t = getattr(out, name).detach().to(torch.float64)
            std = float(t.std())
            expect(bool((t < 0).any()), f"params.{name} has no negative entries: weights and biases are drawn "
                                        f"with torch.randn (normal, mean 0); only the id embedding table uses "
                                        f"torch.rand (uniform in [0, 1)).")
            expect(abs(std / scale - 1) < 0.1,
                   f"with weight_scale={scale}, params.{name} should have a standard deviation of about {scale} "
                   f"(torch.randn times weight_scale), but yours is {std:.3g}"
                   + (": the weights look unscaled; multiply every tensor by cfg.weight_scale."
                      if abs(std - 1) < 0.1 else
                      ": the scale must come from cfg.weight_scale, not a number of your own." if
                      any(abs(std / s - 1) < 0.1 for s in (0.1, 0.25) if s != scale) else "."))
        for name in ("item_feature_b", "item_id_b", "user_b"):
            t = getattr(out, name).detach()
            expect(float(t.abs().max()) < 6 * scale,
                   f"with weight_scale={scale}, params.{name} has an entry of size {float(t.abs().max()):.3g}; a "
                   f"bias is torch.randn times weight_scale, so its entries stay within a few times {scale}.")
        table = out.item_embedding_table.detach().to(torch.float64)
        lo, hi, mean = float(table.min()), float(table.max()), float(table.mean())
        expect(lo >= 0, f"the id embedding table has negative entries (down to {lo:.3g}): it is drawn with "
                        f"torch.rand (uniform in [0, 1)), not torch.randn, then times weight_scale.")
        expect(hi < scale, f"with weight_scale={scale} the id embedding table should lie in [0, {scale}), but it "
                           f"reaches {hi:.3g}: multiply it by cfg.weight_scale too.")
        expect(abs(mean / (scale / 2) - 1) < 0.1, f"the id embedding table should be uniform in [0, {scale}) "
                                                  f"(mean about {scale / 2:g}); its mean is {mean:.3g}.")
    return "std and range as expected"


@check("5.1", points=2, title="float32 leaf tensors that require gradients")
def init_leaves(learner, ref, fx):
    out = _init(learner, fx)
    for name in Params.NAMES:
        t = getattr(out, name)
        expect(t.dtype == torch.float32, f"params.{name} has dtype {t.dtype}; every parameter should be float32.")
        expect(t.requires_grad, f"params.{name} does not require gradients: call .requires_grad_(True) on it, or "
                                f"backward() will never compute a gradient for it.")
        expect(t.is_leaf, f"params.{name} is not a leaf tensor: it was computed from a tensor that already "
                          f"required gradients (requires_grad before multiplying by weight_scale?). backward() "
                          f"leaves the .grad of a non-leaf tensor None, so training could never update it. Scale "
                          f"first, then call requires_grad_(True).")
    return "all seven"


@check("5.1", points=2, title="same seed, same model: the order of the draws")
def init_seeded(learner, ref, fx):
    sizes = (fx.data.context_index.size, fx.data.movie_genres.shape[1], fx.data.movie_genres.shape[0])
    cfg = fx.cfg.model
    first = _init(learner, fx, sizes, seed=7, feature_dim=cfg.item_feature_dim, id_dim=cfg.item_id_dim)
    again = _init(learner, fx, sizes, seed=7, feature_dim=cfg.item_feature_dim, id_dim=cfg.item_id_dim)
    expect(_same_model(first, again), "two calls with generators seeded alike gave different tensors: pass "
                                      "generator=generator to every torch.randn and torch.rand call.")
    other = _init(learner, fx, sizes, seed=8, feature_dim=cfg.item_feature_dim, id_dim=cfg.item_id_dim)
    expect(not _same_model(first, other), "seeds 7 and 8 gave the same tensors: the draws must come from the "
                                          "generator you are given.")
    expected = ref.init_parameters(*sizes, cfg, torch.Generator().manual_seed(7))
    for name in Params.NAMES:
        got, want = getattr(first, name), getattr(expected, name)
        expect(tuple(got.shape) == tuple(want.shape),
               f"params.{name} has shape {tuple(got.shape)}; it should have shape {tuple(want.shape)}.")
        if not torch.allclose(got.detach(), want.detach(), atol=1e-7, rtol=1e-6):
            raise CheckFailed(
                f"with the same seed, your params.{name} differs from the tensor the task's draw order gives. "
                f"One generator hands out its numbers in sequence, so the order of the draws matters: genre "
                f"weights, genre bias, id table (rand), id weights, id bias, user weights, user bias, each with "
                f"generator=generator and the shape it has in Params.")
    return "exact"


# ---------------------------------------------------------------- 5.2 user_tower

def _activation_diagnosis(got: torch.Tensor, pre: torch.Tensor, what: str) -> str:
    """A sentence about the activation when `got` is not tanh(pre)."""
    if got.shape == pre.shape:
        if torch.allclose(got, torch.sigmoid(pre), atol=1e-5):
            return f"{what} looks like sigmoid of the layer's output; the towers use tanh."
        if torch.allclose(got, torch.relu(pre), atol=1e-5):
            return f"{what} looks like relu of the layer's output; the towers use tanh."
        if torch.allclose(got, pre, atol=1e-5):
            return f"{what} is the layer's output without an activation: apply tanh."
    if bool((got >= 0).all()):
        return f"{what} has no negative entries, but tanh ranges over (-1, 1): use tanh, not sigmoid or relu."
    return f"{what} should be tanh(x @ W + b)."


@check("5.2", points=1, title="tanh of one layer, on a hand-made input")
def user_tower_tanh(learner, ref, fx):
    params = _fixture_params(fx).clone()
    with torch.no_grad():
        params.user_W.zero_()
        params.user_b.copy_(torch.linspace(-2.0, 2.0, params.user_b.shape[0]))
    contexts = torch.ones((2, params.user_W.shape[0]))
    pre = params.user_b.detach().clone().expand(2, -1)
    given = params.clone()
    out = learner.user_tower(given, contexts)
    expect_type(out, torch.Tensor, "user_tower's result")
    _expect_untouched(given, params, "user_tower")
    expect(tuple(out.shape) == tuple(pre.shape), f"for 2 users the user embeddings should have shape "
                                                 f"{tuple(pre.shape)} ([B, F+E]), not {tuple(out.shape)}.")
    got = out.detach()
    if not torch.allclose(got, torch.tanh(pre), atol=1e-5):
        raise CheckFailed("with user_W all zeros and user_b going from -2 to 2, the user embedding should be "
                          "tanh(user_b) in every row. " + _activation_diagnosis(got, pre, "Yours"))


@check("5.2", points=2, title="user embeddings of fixture users")
def user_tower_fixture(learner, ref, fx):
    params = _fixture_params(fx)
    contexts, _, _ = _batch(fx)
    want = ref.user_tower(params, contexts).detach()
    given = params.clone()
    out = learner.user_tower(given, contexts.clone())
    expect_type(out, torch.Tensor, "user_tower's result")
    _expect_untouched(given, params, "user_tower")
    return compare_tensors(out, want, "the user embedding matrix", atol=1e-5)


# ---------------------------------------------------------------- 5.3 item_tower

@check("5.3", points=2, title="feature embedding first, then id embedding")
def item_tower_order(learner, ref, fx):
    feature_dim, id_dim = 2, 3
    params = ref.init_parameters(C, G, M, _cfg(fx, feature_dim, id_dim), torch.Generator().manual_seed(0))
    with torch.no_grad():
        params.item_feature_W.zero_()
        params.item_feature_b.fill_(2.0)
        params.item_id_W.zero_()
        params.item_id_b.fill_(-2.0)
    genres = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    given = params.clone()
    out = learner.item_tower(given, genres, torch.tensor([4, 0]))
    expect_type(out, torch.Tensor, "item_tower's result")
    _expect_untouched(given, params, "item_tower")
    expect(tuple(out.shape) == (2, feature_dim + id_dim),
           f"for 2 movies with item_feature_dim={feature_dim} and item_id_dim={id_dim} the combined item embedding "
           f"should have shape (2, {feature_dim + id_dim}), not {tuple(out.shape)}.")
    got = out.detach()
    t = float(torch.tanh(torch.tensor(2.0)))
    expected = torch.tensor([[t] * feature_dim + [-t] * id_dim] * 2)
    swapped = torch.tensor([[-t] * id_dim + [t] * feature_dim] * 2)
    if torch.allclose(got, swapped, atol=1e-5):
        raise CheckFailed(f"your combined item embedding puts the id embedding before the feature embedding: "
                          f"concatenate feature first (its {feature_dim} entries, then the id embedding's "
                          f"{id_dim}). The user embedding's halves are dotted with the halves in that order.")
    if not torch.allclose(got, expected, atol=1e-5):
        pre = torch.tensor([[2.0] * feature_dim + [-2.0] * id_dim] * 2)
        raise CheckFailed(f"with both towers' weights zero, feature bias +2 and id bias -2, each row should be "
                          f"tanh(+2) = {t:.4f} {feature_dim} times (feature first), then tanh(-2) {id_dim} times. "
                          + _activation_diagnosis(got, pre, "Yours"))


@check("5.3", points=2, title="combined item embeddings of fixture movies")
def item_tower_fixture(learner, ref, fx):
    params = _fixture_params(fx)
    _, genres, rows = _batch(fx)
    want = ref.item_tower(params, genres, rows).detach()
    given = params.clone()
    out = learner.item_tower(given, genres.clone(), rows.clone())
    expect_type(out, torch.Tensor, "item_tower's result")
    _expect_untouched(given, params, "item_tower")
    return compare_tensors(out, want, "the combined item embedding matrix", atol=1e-5)


# ---------------------------------------------------------------- 5.4 predict

def _expect_prediction_shape(out, batch: int) -> None:
    expect_type(out, torch.Tensor, "predict's result")
    shape = tuple(out.shape)
    if shape == (batch, batch) and batch > 1:
        raise CheckFailed(f"for {batch} (user, movie) pairs predict returned shape {shape}: that is every user "
                          f"against every movie (a matrix product). Take the row-wise dot product: user i "
                          f"with movie i, one prediction per pair, shape ({batch},).")
    expect(shape == (batch,), f"for {batch} (user, movie) pair(s) predict should return shape ({batch},), one "
                              f"prediction per pair (a row-wise dot product), not {shape}"
                              + (": squeeze() drops the batch dimension when B = 1." if shape == () else "."))


@check("5.4", points=2, title="predictions for fixture pairs")
def predict_fixture(learner, ref, fx):
    params = _fixture_params(fx)
    contexts, genres, rows = _batch(fx)
    want = ref.predict(params, contexts, genres, rows).detach()
    given = params.clone()
    out = learner.predict(given, contexts.clone(), genres.clone(), rows.clone())
    _expect_prediction_shape(out, len(rows))
    _expect_untouched(given, params, "predict")
    return compare_tensors(out, want, "the prediction vector", atol=1e-5)


@check("5.4", points=1, title="shape [B] and |prediction| <= F+E (random batches)")
def predict_property(learner, ref, fx):
    params = _fixture_params(fx)
    data = fx.data
    bound = params.user_b.shape[0]

    @settings(PROPERTY, report_multiple_bugs=False)
    @given(st.integers(1, 40), st.integers(0, 2**31 - 1))
    def prop(batch, seed):
        g = torch.Generator().manual_seed(seed)
        users = torch.randint(0, data.user_context.shape[0], (batch,), generator=g)
        movies = torch.randint(0, data.movie_genres.shape[0], (batch,), generator=g)
        contexts = data.user_context[users] * 10  # large inputs saturate tanh
        want = ref.predict(params, contexts, data.movie_genres[movies], movies).detach()
        given = params.clone()
        out = learner.predict(given, contexts.clone(), data.movie_genres[movies].clone(), movies.clone())
        _expect_prediction_shape(out, batch)
        _expect_untouched(given, params, "predict")
        got = out.detach()
        if not bool(torch.isfinite(got).all()):
            raise CheckFailed(f"for a batch of {batch} pairs predict returned a NaN or infinite value.")
        biggest = float(got.abs().max())
        if biggest > bound + 1e-4:
            raise CheckFailed(f"a prediction of size {biggest:.3g}: a dot product of two tanh embeddings of "
                              f"{bound} entries each (all in (-1, 1)) can never exceed {bound}. Are both "
                              f"embeddings passed through tanh?")
        if not all_near(got, want, 1e-5, 1e-5):
            raise CheckFailed(f"for a random batch of {batch} pairs your predictions differ from the dot products "
                              f"of the two towers' embeddings (first at pair "
                              f"{int(torch.nonzero(far_entries(got, want, 1e-5, 1e-5))[0])}).")
    prop()


@check("5.4", points=2, title="every parameter gets a gradient")
def predict_gradients(learner, ref, fx):
    params = _fixture_params(fx, seed=2)
    contexts, genres, rows = _batch(fx, size=64)
    # predict(...).sum().backward() where the learner's code runs: the gradients come back in params.
    out = learner.procedure("call_and_backward", "predict", params, contexts, genres, rows)
    _expect_prediction_shape(out, len(rows))
    expect(out.requires_grad, "predict's result does not require gradients: somewhere the computation was cut "
                              "from the parameters (.detach(), .item(), torch.no_grad() or a new tensor built "
                              "from numbers).")
    for name in Params.NAMES:
        grad = getattr(params, name).grad
        expect(grad is not None, f"after predict(...).sum().backward(), params.{name} has no gradient: predict "
                                 f"must use every parameter (user tower, genre tower and id tower).")
        expect(bool((grad != 0).any()), f"after predict(...).sum().backward(), the gradient of params.{name} is all "
                                        f"zeros: is that parameter really used in the forward pass?")
    return "all seven"
