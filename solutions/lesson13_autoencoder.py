"""Lesson 13: a user tower that reads the whole history.

Lesson 12's user tower sees a user through lesson 5's small layer on a context vector, and
its item tower knows a movie by its genres and one id row. Both are narrow, and its softmax
two-tower still ranks below EASE. Here both towers are rebuilt from raw tensors, the way a
denoising autoencoder of watch histories does it (Mult-DAE, Liang et al. 2018): the user
tower is one wide tanh layer over the user's whole watched row, the item tower one vector
and one bias per movie, the softmax over the catalogue is trained on every movie a user
liked at once, and half of each training row is hidden at every step, so the towers learn to
fill in what a history leaves out.
"""
from __future__ import annotations

import torch

from course.config import AutoencoderConfig
from course.containers import AutoencoderParams
from solutions.lesson12_retrieval import adam_step, new_adam_state


def normalise_history(watched: torch.Tensor) -> torch.Tensor:
    """Each row of ``watched`` ``[U, M]`` divided by its Euclidean length (L2 norm), float32.

    A user who watched h movies has a row of h ones: normalised, each of them is
    ``1 / sqrt(h)`` and every row has length 1, so a long history does not push the hidden
    layer harder than a short one. A row of zeros (nothing watched) stays zeros.
    """
    # BEGIN SOLUTION 13.1
    watched = watched.to(torch.float32)
    length = watched.norm(dim=1, keepdim=True)
    return watched / length.clamp(min=1e-12)
    # END SOLUTION


def input_dropout(inputs: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """``inputs`` with each entry dropped (set to 0.0) with probability ``p``, the rest
    multiplied by ``1 / (1 - p)``, so every entry keeps its expected value.

    One uniform draw per entry: ``torch.rand(inputs.shape, generator=generator)``; an entry
    is kept where its draw is at least ``p``. With ``p = 0`` nothing is drawn and ``inputs``
    comes back unchanged. Dropping part of what a user watched and asking the model for every
    movie they liked is what makes it a *denoising* autoencoder: it cannot simply copy its
    input, it has to learn which movies go together.
    """
    # BEGIN SOLUTION 13.2
    if p == 0:
        return inputs
    keep = torch.rand(inputs.shape, generator=generator, device=inputs.device) >= p
    return inputs * keep / (1.0 - p)
    # END SOLUTION


def autoencoder_logits(params: AutoencoderParams, inputs: torch.Tensor, nonlinear: bool = True) -> torch.Tensor:
    """Every movie's score for a batch of users: ``[B, M]``.

    User tower: ``h = tanh(inputs @ params.W + params.b)`` ``[B, H]`` (with ``nonlinear=False``,
    for the ablation, no tanh: ``h = inputs @ W + b``). Item tower: each movie's vector
    ``params.V`` ``[M, H]`` and bias ``params.c`` ``[M]``. The scores are ``h @ V.T + c``: a
    dot product of the two towers' outputs, plus what each movie scores for everyone.
    """
    # BEGIN SOLUTION 13.3
    hidden = inputs @ params.W + params.b
    if nonlinear:
        hidden = torch.tanh(hidden)
    return hidden @ params.V.T + params.c
    # END SOLUTION


def multinomial_loss(logits: torch.Tensor, liked: torch.Tensor) -> torch.Tensor:
    """The minus log-likelihood of the movies each user liked, under a softmax over the
    catalogue (a 0-d tensor).

    ``liked`` ``[B, M]`` is 1.0 where the user rated the movie ``relevant_rating`` or more.
    For each row: ``-sum(liked[b] * log_softmax(logits[b]))``, one term per liked movie (a
    user who liked 30 movies brings 30 terms); the loss is the mean of that over the rows.
    Use ``torch.log_softmax``: it subtracts the logsumexp, so no ``exp`` overflows.
    """
    # BEGIN SOLUTION 13.4
    return -(liked * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    # END SOLUTION


def init_autoencoder(num_movies: int, hidden: int, generator: torch.Generator) -> AutoencoderParams:
    """Fresh parameters: ``W`` and ``V`` drawn from a normal of standard deviation
    ``sqrt(2 / (M + H))`` (Glorot's, so the hidden layer starts neither saturated nor silent),
    ``b`` and ``c`` zeros. They require gradients."""
    scale = (2.0 / (num_movies + hidden)) ** 0.5
    W = torch.randn((num_movies, hidden), generator=generator) * scale
    V = torch.randn((num_movies, hidden), generator=generator) * scale
    return AutoencoderParams(*(p.requires_grad_(True) for p in
                               (W, torch.zeros(hidden), V, torch.zeros(num_movies))))


def train_autoencoder(params: AutoencoderParams, watched: torch.Tensor, liked: torch.Tensor,
                      cfg: AutoencoderConfig, generator: torch.Generator) -> list[float]:
    """Train ``params`` in place for ``cfg.epochs`` full-batch steps; return every step's loss.

    ``watched`` ``[N, M]`` holds 1.0 for each movie a training user rated, ``liked`` ``[N, M]``
    1.0 for those they rated ``relevant_rating`` or more. Each step: the inputs are
    :func:`normalise_history` of ``watched`` (or ``watched`` itself when ``cfg.normalise`` is
    False), then :func:`input_dropout` at ``cfg.dropout`` with ``generator``; their
    :func:`autoencoder_logits` (``nonlinear=cfg.nonlinear``); the loss is
    :func:`multinomial_loss` against ``liked`` (or, when ``cfg.loss == "squared"``, the
    squared error ``((logits - liked) ** 2).sum(dim=1).mean()``), plus ``cfg.weight_decay``
    times the sum of the squares of ``W`` and ``V`` (not of the biases); then lesson 12's
    ``adam_step`` at ``cfg.lr``, ``cfg.betas``, ``cfg.eps`` (one ``AdamState`` for the run,
    from lesson 12's ``new_adam_state``). The recorded loss includes the weight decay.
    """
    # BEGIN SOLUTION 13.5
    state = new_adam_state(params)
    inputs = normalise_history(watched) if cfg.normalise else watched.to(torch.float32)
    losses = []
    for _ in range(cfg.epochs):
        logits = autoencoder_logits(params, input_dropout(inputs, cfg.dropout, generator), cfg.nonlinear)
        if cfg.loss == "squared":
            loss = ((logits - liked) ** 2).sum(dim=1).mean()
        else:
            loss = multinomial_loss(logits, liked)
        if cfg.weight_decay:
            loss = loss + cfg.weight_decay * ((params.W ** 2).sum() + (params.V ** 2).sum())
        adam_step(params, loss, state, cfg.lr, cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses
    # END SOLUTION


def newcomer_scores(params: AutoencoderParams, inputs: torch.Tensor, nonlinear: bool = True) -> torch.Tensor:
    """Scores for users who named only a few movies: ``[B, M]``, how much their movies
    *lift* each movie above what the model gives someone who named none.

    :func:`autoencoder_logits` of ``inputs`` minus :func:`autoencoder_logits` of an empty
    history (a row of zeros, the same for every user). The bias ``c`` and the hidden layer's
    resting state cancel out: what is left is what the named movies change. Two titles move
    the hidden layer little, so the plain logits of a newcomer are mostly the popular films
    everyone gets; the lift ranks the films those two titles call for.
    """
    # BEGIN SOLUTION 13.6
    nobody = torch.zeros((1, inputs.shape[1]), dtype=inputs.dtype, device=inputs.device)
    return autoencoder_logits(params, inputs, nonlinear) - autoencoder_logits(params, nobody, nonlinear)
    # END SOLUTION


def similar_movies(params: AutoencoderParams, movie_row: int, k: int) -> torch.Tensor:
    """The rows of the ``k`` movies nearest to ``movie_row``, nearest first, the movie itself
    left out: int64 ``[k]``.

    A movie has two embeddings: its row of ``params.W`` (what watching it does to a user's
    hidden layer) and its row of ``params.V`` (the hidden layer it answers to). Divide each
    row of both by its length, add them (``W_i / |W_i| + V_i / |V_i|``: each side counts
    the same, whatever its scale), and rank every movie by the cosine of that sum with the
    movie's own. Two movies whose embeddings point the same way are watched, and asked for,
    by the same people, as a film and its sequel are. Ties go to the lower row (a stable sort).
    """
    # BEGIN SOLUTION 13.7
    with torch.no_grad():
        both = (params.W / params.W.norm(dim=1, keepdim=True).clamp(min=1e-12)
                + params.V / params.V.norm(dim=1, keepdim=True).clamp(min=1e-12))
        unit = both / both.norm(dim=1, keepdim=True).clamp(min=1e-12)
        cosine = unit @ unit[movie_row]
        cosine[movie_row] = float("-inf")
        return torch.sort(cosine, descending=True, stable=True).indices[:k]
    # END SOLUTION
