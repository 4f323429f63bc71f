"""Checks for lesson 13: normalised histories, input dropout, the autoencoder's two towers, the
multinomial loss, full-batch training, a newcomer's lift and the nearest movies."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from checks.framework import CheckFailed, check, compare_tensors, expect, expect_type
from checks.properties import PROPERTY
from course.containers import AutoencoderParams


def _rows(fx, users: int = 12) -> torch.Tensor:
    """The first fixture users' watched rows, and a user who watched nothing."""
    return torch.cat([fx.autoencoder.watched[:users], torch.zeros((1, fx.autoencoder.watched.shape[1]))])


def _params(fx, seed: int, hidden: int = 8) -> AutoencoderParams:
    """Random parameters, larger than an init's, with a nonzero bias, so every mistake shows."""
    generator = torch.Generator().manual_seed(seed)
    movies = fx.autoencoder.watched.shape[1]
    return AutoencoderParams(*(t.requires_grad_(True) for t in (
        torch.randn((movies, hidden), generator=generator), torch.randn(hidden, generator=generator),
        torch.randn((movies, hidden), generator=generator), torch.randn(movies, generator=generator))))


# ---------------------------------------------------------------- 13.1 normalise_history

@check("13.1", points=2, title="each watched row divided by its length; an empty row stays zeros")
def normalise(learner, ref, fx):
    rows = _rows(fx)
    got = learner.normalise_history(rows.clone())
    expect_type(got, torch.Tensor, "normalise_history's result")
    want = ref.normalise_history(rows)
    expect(tuple(got.shape) == tuple(want.shape),
           f"the result should keep the shape of the rows {tuple(want.shape)}, not {tuple(got.shape)}.")
    expect(bool(torch.isfinite(got).all()),
           "the last row (a user who watched nothing) came back with NaN or inf: its length is 0, so clamp the "
           "length at a tiny number before dividing (0 / 0 is NaN).")
    expect(bool((got[-1] == 0).all()), "a user who watched nothing should keep a row of zeros.")
    if not torch.allclose(got.to(torch.float64), want.to(torch.float64), atol=1e-6):
        count = rows.sum(dim=1, keepdim=True).clamp(min=1.0)
        if torch.allclose(got.to(torch.float64), (rows / count).to(torch.float64), atol=1e-6):
            raise CheckFailed("your rows are divided by their number of movies h: divide by their length, "
                              "sqrt(h) for a row of ones, so each row has length 1 (the L2 norm, not the L1).")
        raise CheckFailed("your rows differ from each row divided by its Euclidean length (row.norm()).")
    booleans = learner.normalise_history(rows.to(torch.bool))
    expect_type(booleans, torch.Tensor, "normalise_history's result")
    expect(booleans.dtype == torch.float32, f"a bool row should come back as float32 numbers, not {booleans.dtype}: "
                                            f"convert with .to(torch.float32) first.")
    return compare_tensors(got, want, "the normalised rows", atol=1e-6)


@check("13.1", points=1, title="property: any nonempty row comes out with length 1, pointing the same way")
def normalise_property(learner, ref, fx):
    learner.normalise_history(torch.ones((1, 3)))

    @PROPERTY
    @given(st.integers(1, 6), st.integers(1, 12), st.data())
    def prop(users, movies, data):
        values = data.draw(st.lists(st.sampled_from([0.0, 1.0, 2.5]), min_size=users * movies,
                                    max_size=users * movies))
        rows = torch.tensor(values, dtype=torch.float32).reshape(users, movies)
        got = learner.normalise_history(rows.clone()).to(torch.float64)
        lengths = got.norm(dim=1)
        full = rows.abs().sum(dim=1) > 0
        expect(bool(torch.allclose(lengths[full], torch.ones_like(lengths[full]), atol=1e-5)),
               f"a nonempty row should have length 1 after normalising, but lengths are {lengths[full].tolist()}.")
        expect(bool(((got > 0) == (rows > 0)).all()), "normalising should keep every zero a zero and every "
                                                       "watched movie positive.")
    prop()
    return "30 random matrices"


# ---------------------------------------------------------------- 13.2 input_dropout

@check("13.2", points=3, title="dropout: the reference's draws, kept entries scaled by 1 / (1 - p)")
def dropout(learner, ref, fx):
    inputs = ref.normalise_history(_rows(fx, 40))
    got = learner.input_dropout(inputs.clone(), 0.3, torch.Generator().manual_seed(132))
    expect_type(got, torch.Tensor, "input_dropout's result")
    want = ref.input_dropout(inputs, 0.3, torch.Generator().manual_seed(132))
    expect(tuple(got.shape) == tuple(want.shape),
           f"the result should have the inputs' shape {tuple(want.shape)}, not {tuple(got.shape)}.")
    nonzero = inputs != 0
    kept = (got != 0) & nonzero
    if bool(nonzero.any()) and bool(kept.any()):
        ratio = (got[kept] / inputs[kept]).to(torch.float64)
        expect(bool(torch.allclose(ratio, torch.full_like(ratio, 1 / 0.7), atol=1e-5)),
               f"a kept entry is multiplied by {float(ratio.mean()):.4f} on average: multiply it by 1 / (1 - p) "
               f"(1 / 0.7 = {1 / 0.7:.4f}), so every entry keeps its expected value.")
    share = float(kept.sum()) / max(int(nonzero.sum()), 1)
    expect(abs(share - 0.7) < 0.05, f"you kept {share:.0%} of the watched entries with p = 0.3: keep an entry where "
                                    f"its draw is at least p, so about 1 - p = 70% stay.")
    if not torch.equal(got != 0, want != 0):
        raise CheckFailed("you keep other entries than the draws say: one torch.rand(inputs.shape, "
                          "generator=generator) and keep where draw >= p.")
    unchanged = learner.input_dropout(inputs.clone(), 0.0, torch.Generator().manual_seed(1))
    expect_type(unchanged, torch.Tensor, "input_dropout's result")
    expect(torch.equal(unchanged, inputs), "with p = 0 the inputs should come back unchanged.")
    return compare_tensors(got, want, "the dropped-out inputs", atol=1e-6)


@check("13.2", points=1, title="dropout with p = 0 draws nothing: the generator does not move")
def dropout_zero(learner, ref, fx):
    inputs = torch.ones((3, 5))
    generator = torch.Generator().manual_seed(7)
    # The call runs next to the learner's code; the generator's state comes back with it.
    learner.input_dropout(inputs, 0.0, generator)
    after = torch.rand(1, generator=generator)
    fresh = torch.rand(1, generator=torch.Generator().manual_seed(7))
    expect(torch.equal(after, fresh), "with p = 0 your input_dropout still draws from the generator: return the "
                                      "inputs before drawing, so a run without dropout draws the same numbers as "
                                      "before.")
    return "no draw"


# ---------------------------------------------------------------- 13.3 autoencoder_logits

@check("13.3", points=3, title="the two towers: tanh(x W + b) V^T + c")
def logits(learner, ref, fx):
    params = _params(fx, 133)
    inputs = ref.normalise_history(_rows(fx))
    got = learner.autoencoder_logits(params.clone(), inputs.clone())
    expect_type(got, torch.Tensor, "autoencoder_logits' result")
    want = ref.autoencoder_logits(params, inputs)
    expect(tuple(got.shape) == tuple(want.shape),
           f"the logits should have shape {tuple(want.shape)} (users x movies), not {tuple(got.shape)}.")
    if not torch.allclose(got, want, atol=1e-4):
        if torch.allclose(got, ref.autoencoder_logits(params, inputs, nonlinear=False), atol=1e-4):
            raise CheckFailed("your user tower has no tanh: h = tanh(inputs @ W + b) when nonlinear is True.")
        if torch.allclose(got, want - params.c.detach(), atol=1e-4):
            raise CheckFailed("your scores lack each movie's bias c: add params.c to every row.")
        raise CheckFailed("your logits differ from tanh(inputs @ W + b) @ V.T + c.")
    linear = learner.autoencoder_logits(params.clone(), inputs.clone(), nonlinear=False)
    expect_type(linear, torch.Tensor, "autoencoder_logits' result")
    expect(torch.allclose(linear, ref.autoencoder_logits(params, inputs, nonlinear=False), atol=1e-4),
           "with nonlinear=False the user tower should be inputs @ W + b, without the tanh.")
    return compare_tensors(got.detach(), want.detach(), "the logits", atol=1e-4)


# ---------------------------------------------------------------- 13.4 multinomial_loss

@check("13.4", points=3, title="minus the log-likelihood of every liked movie, the mean over users")
def loss(learner, ref, fx):
    generator = torch.Generator().manual_seed(134)
    logits = torch.randn((16, 30), generator=generator) * 3
    liked = (torch.rand((16, 30), generator=generator) < 0.2).to(torch.float32)
    got = learner.multinomial_loss(logits.clone(), liked.clone())
    expect_type(got, torch.Tensor, "multinomial_loss' result")
    expect(got.dim() == 0, f"multinomial_loss should return one number (a 0-d tensor), not shape {tuple(got.shape)}.")
    want = ref.multinomial_loss(logits, liked)
    if abs(float(got) - float(want)) > 1e-4:
        if abs(float(got) - float(want) * 16) < 1e-3:
            raise CheckFailed("your loss is the sum over the users: take the mean over rows.")
        if abs(float(got) - float(want) / 30) < 1e-4:
            raise CheckFailed("your loss is the mean over every cell: sum over each row's movies, then take the mean "
                              "over rows.")
        per_row = -(liked * torch.log_softmax(logits, dim=0)).sum(dim=1).mean()
        if abs(float(got) - float(per_row)) < 1e-4:
            raise CheckFailed("your softmax runs over the users (dim=0): each user's softmax is over the catalogue, "
                              "dim=1.")
        raise CheckFailed(f"your loss is off by {abs(float(got) - float(want)):.3g} from the mean over rows of "
                          f"-sum(liked * log_softmax(logits)).")
    big = torch.zeros((2, 4))
    big[0, 1], big[1, 2] = 300.0, 200.0
    value = learner.multinomial_loss(big, torch.tensor([[1.0, 1.0, 0, 0], [0, 0, 1.0, 0]]))
    expect_type(value, torch.Tensor, "multinomial_loss' result")
    expect(bool(torch.isfinite(value)), "with logits of 300 your loss is not finite: exp(300) overflows float32 and "
                                        "log(softmax) gives log(0); use torch.log_softmax.")
    return "exact" if float(got) == float(want) else f"approx, max abs diff {abs(float(got) - float(want)):.1e}"


@check("13.4", points=1, title="the loss sends gradients to the logits")
def loss_gradient(learner, ref, fx):
    logits = torch.zeros((2, 4), requires_grad=True)
    liked = torch.tensor([[1.0, 0, 1.0, 0], [0, 0, 0, 1.0]])
    out = learner.procedure("call_and_backward", "multinomial_loss", logits, liked)
    expect_type(out, torch.Tensor, "multinomial_loss' result")
    expect(out.requires_grad, "your loss does not depend on the logits through autograd (a .detach(), .item() or "
                              "numpy on the way): nothing could be learnt from it.")
    want = torch.softmax(torch.zeros((2, 4)), dim=1) * liked.sum(dim=1, keepdim=True) / 2 - liked / 2
    expect(logits.grad is not None and torch.allclose(logits.grad, want, atol=1e-6),
           "the gradient of the loss for a row is (number liked * softmax - liked) / rows: yours is not.")
    return "gradients flow"


# ---------------------------------------------------------------- 13.5 train_autoencoder

def _short_run(module, fx, epochs: int = 6, **changes):
    a = fx.autoencoder
    cfg = replace(a.cfg, hidden=8, epochs=epochs, **changes)
    params = _params(fx, 135)
    params = AutoencoderParams(*(p.detach().mul(0.5).requires_grad_(True) for p in params.as_list()))
    losses = module.train_autoencoder(params, a.watched[:60].clone(), a.liked[:60].clone(), cfg,
                                      torch.Generator().manual_seed(135))
    return params, losses


@check("13.5", points=4, title="a short seeded training run follows the reference step by step", timeout=30)
def short_run(learner, ref, fx):
    got_params, got = _short_run(learner, fx)
    expect_type(got, list, "train_autoencoder's result")
    expect(len(got) == 6, f"train_autoencoder should return one loss per step (6), not {len(got)}.")
    expect(all(isinstance(v, float) for v in got), "the losses should be Python floats (float(loss.detach())).")
    want_params, want = _short_run(ref, fx)

    def close(a: float, b: float) -> bool:   # float32 sums of a few thousand terms
        return abs(a - b) <= 1e-5 * max(1.0, abs(b))

    if not close(got[0], want[0]):
        _, plain = _short_run(ref, fx, weight_decay=0.0)
        if close(got[0], plain[0]):
            raise CheckFailed("your first loss lacks the weight decay: add cfg.weight_decay times the sum of the "
                              "squares of W and V to the loss.")
        _, undropped = _short_run(ref, fx, dropout=0.0)
        if close(got[0], undropped[0]):
            raise CheckFailed("your first loss is the one without input dropout: pass the inputs through "
                              "input_dropout(inputs, cfg.dropout, generator) at every step.")
        a = fx.autoencoder
        params = _params(fx, 135)
        small = AutoencoderParams(*(p.detach().mul(0.5) for p in params.as_list()))
        everything = sum((p ** 2).sum() for p in small.as_list())
        weights = (small.W ** 2).sum() + (small.V ** 2).sum()
        if close(got[0], want[0] + a.cfg.weight_decay * float(everything - weights)):
            raise CheckFailed("your weight decay also counts the biases b and c: decay W and V only (a bias is one "
                              "number per unit or movie, and c holds each movie's popularity).")
        raise CheckFailed(f"your first loss is {got[0]:.4f}, not the expected one: normalise the watched rows, drop "
                          f"out with the generator, logits with cfg.nonlinear, the multinomial loss against liked, "
                          f"plus the weight decay.")
    for step, (a, b) in enumerate(zip(got, want)):
        if not close(a, b):
            raise CheckFailed(f"your losses follow the expected ones until step {step}, then differ: keep one "
                              f"AdamState for the whole run (its moments and step count carry over), at cfg.lr.")
    for name, a, b in zip(AutoencoderParams.NAMES, got_params.as_list(), want_params.as_list()):
        compare_tensors(a.detach(), b.detach(), f"{name} after 6 steps", atol=1e-4, rtol=1e-3)
    return "6 steps match"


@check("13.5", points=2, title="the ablation's switches: no normalisation, no tanh, squared error", timeout=30)
def switches(learner, ref, fx):
    for changes, what in (({"normalise": False}, "with cfg.normalise False the inputs are the watched rows as they "
                                                 "are"),
                          ({"nonlinear": False}, "with cfg.nonlinear False the user tower has no tanh"),
                          ({"loss": "squared"}, "with cfg.loss == 'squared' the loss is ((logits - liked) ** 2)"
                                                ".sum(dim=1).mean()")):
        _, got = _short_run(learner, fx, epochs=3, **changes)
        expect_type(got, list, "train_autoencoder's result")
        _, want = _short_run(ref, fx, epochs=3, **changes)
        expect(len(got) == len(want) and all(abs(a - b) <= 1e-5 * max(1.0, abs(b)) for a, b in zip(got, want)),
               f"your losses differ from the expected ones with {changes}: {what}.")
    return "3 switches"


@check("13.5", points=2, title="training lowers the loss on the fixture", timeout=60)
def learns(learner, ref, fx):
    _, losses = _short_run(learner, fx, epochs=40)
    expect_type(losses, list, "train_autoencoder's result")
    expect(len(losses) == 40, f"train_autoencoder should return one loss per step (40), not {len(losses)}.")
    first, last = float(np.mean(losses[:5])), float(np.mean(losses[-5:]))
    expect(last < first - 0.5, f"after 40 steps the loss went from {first:.3f} to {last:.3f}: it should go down. "
                               f"Is lesson 12's adam_step called on the loss, at cfg.lr?")
    return f"loss {first:.3f} -> {last:.3f}"


# ---------------------------------------------------------------- 13.6 newcomer_scores

@check("13.6", points=3, title="a newcomer's lift: their logits minus those of an empty history")
def newcomer(learner, ref, fx):
    params = _params(fx, 136)
    inputs = ref.normalise_history(_rows(fx))
    got = learner.newcomer_scores(params.clone(), inputs.clone())
    expect_type(got, torch.Tensor, "newcomer_scores' result")
    want = ref.newcomer_scores(params, inputs)
    expect(tuple(got.shape) == tuple(want.shape),
           f"the scores should have shape {tuple(want.shape)} (users x movies), not {tuple(got.shape)}.")
    expect(bool(torch.allclose(got[-1], torch.zeros_like(got[-1]), atol=1e-5)),
           "the user who named no movie should get a lift of 0.0 for every movie: subtract the logits of an empty "
           "history (a row of zeros through both towers), not only the bias c.")
    if not torch.allclose(got, want, atol=1e-4):
        if torch.allclose(got, ref.autoencoder_logits(params, inputs), atol=1e-4):
            raise CheckFailed("your scores are the plain logits: subtract the logits of an empty history.")
        raise CheckFailed("your lift differs from autoencoder_logits(inputs) - autoencoder_logits(empty history).")
    linear = learner.newcomer_scores(params.clone(), inputs.clone(), nonlinear=False)
    expect_type(linear, torch.Tensor, "newcomer_scores' result")
    expect(torch.allclose(linear, ref.newcomer_scores(params, inputs, nonlinear=False), atol=1e-4),
           "with nonlinear=False pass it on to both autoencoder_logits calls.")
    return compare_tensors(got.detach(), want.detach(), "the lift", atol=1e-4)


# ---------------------------------------------------------------- 13.7 similar_movies

def _neighbours(embeddings: torch.Tensor, row: int, k: int, cosine: bool = True) -> torch.Tensor:
    rows = embeddings / embeddings.norm(dim=1, keepdim=True) if cosine else embeddings
    score = rows @ rows[row]
    score[row] = float("-inf")
    return torch.sort(score, descending=True, stable=True).indices[:k]


@check("13.7", points=3, title="the nearest movies by the cosine of both embeddings, each made a unit vector")
def similar(learner, ref, fx):
    params = fx.autoencoder.params
    W, V = params.W.detach(), params.V.detach()
    unit_sum = W / W.norm(dim=1, keepdim=True) + V / V.norm(dim=1, keepdim=True)
    for row in (0, 5, 17, 40):
        got = learner.similar_movies(params.clone(), row, 6)
        expect_type(got, torch.Tensor, "similar_movies' result")
        expect(tuple(got.shape) == (6,), f"similar_movies(..., k=6) should return 6 rows, not shape "
                                         f"{tuple(got.shape)}.")
        expect(row not in got.tolist(), f"movie {row} is among its own nearest movies: leave the movie itself out "
                                        f"(set its own cosine to -inf).")
        want = ref.similar_movies(params, row, 6)
        if not torch.equal(got.to(torch.int64), want):
            mistakes = {
                "from W alone: a movie is known by both its embeddings, the row of W and the row of V, each divided "
                "by its length, then added": _neighbours(W, row, 6),
                "from V alone: a movie is known by both its embeddings, the row of W and the row of V, each divided "
                "by its length, then added": _neighbours(V, row, 6),
                "from W + V as they are: divide each row of W and of V by its length first, so neither side "
                "outweighs the other": _neighbours(W + V, row, 6),
                "from the plain dot product: divide the summed rows by their length too, so the cosine ranks them "
                "(a long row is not a neighbour of everything)": _neighbours(unit_sum, row, 6, cosine=False),
            }
            for words, mistake in mistakes.items():
                if torch.equal(got.to(torch.int64), mistake):
                    raise CheckFailed(f"your neighbours come {words}.")
            raise CheckFailed(f"the neighbours of movie {row} differ from the expected ones: W / |W| + V / |V| per "
                              f"movie, cosine, nearest first.")
    return "4 movies"
