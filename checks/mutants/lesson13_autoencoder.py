"""Wrong implementations of lesson 13.

Each mutant spells out its whole body: a helper of this file would call the mutants
defined here under the reference's names, not the reference."""
import torch

from checks.mutants import mutant


@mutant("divides each row by its number of movies (L1), not its length", symptom="L2 norm")
def normalise_history(watched):
    watched = watched.to(torch.float32)
    return watched / watched.sum(dim=1, keepdim=True).clamp(min=1.0)


@mutant("divides by the length without a clamp: NaN for an empty row", symptom="clamp")
def normalise_history(watched):  # noqa: F811
    watched = watched.to(torch.float32)
    return watched / watched.norm(dim=1, keepdim=True)


@mutant("drops entries but forgets to rescale the kept ones", symptom="1 / (1 - p)")
def input_dropout(inputs, p, generator):
    if p == 0:
        return inputs
    keep = torch.rand(inputs.shape, generator=generator) >= p
    return inputs * keep


@mutant("keeps an entry where its draw is below p (keeps a share p)", symptom="at least p")
def input_dropout(inputs, p, generator):  # noqa: F811
    if p == 0:
        return inputs
    keep = torch.rand(inputs.shape, generator=generator) < p
    return inputs * keep / (1.0 - p)


@mutant("draws even when p is 0", symptom="generator")
def input_dropout(inputs, p, generator):  # noqa: F811
    keep = torch.rand(inputs.shape, generator=generator) >= p
    return inputs * keep / (1.0 - p)


@mutant("the user tower forgets the tanh", symptom="tanh")
def autoencoder_logits(params, inputs, nonlinear=True):
    return (inputs @ params.W + params.b) @ params.V.T + params.c


@mutant("the scores lack each movie's bias", symptom="bias c")
def autoencoder_logits(params, inputs, nonlinear=True):  # noqa: F811
    hidden = inputs @ params.W + params.b
    if nonlinear:
        hidden = torch.tanh(hidden)
    return hidden @ params.V.T


@mutant("sums the loss over the users", symptom="mean over rows")
def multinomial_loss(logits, liked):
    return -(liked * torch.log_softmax(logits, dim=1)).sum()


@mutant("log of softmax: -inf times 0 for a large logit", symptom="log_softmax")
def multinomial_loss(logits, liked):  # noqa: F811
    return -(liked * torch.log(torch.softmax(logits, dim=1))).sum(dim=1).mean()


@mutant("softmax over the users instead of the catalogue", symptom="dim=1")
def multinomial_loss(logits, liked):  # noqa: F811
    return -(liked * torch.log_softmax(logits, dim=0)).sum(dim=1).mean()


@mutant("forgets the weight decay", symptom="weight decay")
def train_autoencoder(params, watched, liked, cfg, generator):
    state = new_adam_state(params)
    inputs = normalise_history(watched) if cfg.normalise else watched.to(torch.float32)
    losses = []
    for _ in range(cfg.epochs):
        logits = autoencoder_logits(params, input_dropout(inputs, cfg.dropout, generator), cfg.nonlinear)
        loss = ((logits - liked) ** 2).sum(dim=1).mean() if cfg.loss == "squared" else multinomial_loss(logits, liked)
        adam_step(params, loss, state, cfg.lr, cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses


@mutant("decays the biases too", symptom="biases")
def train_autoencoder(params, watched, liked, cfg, generator):  # noqa: F811
    state = new_adam_state(params)
    inputs = normalise_history(watched) if cfg.normalise else watched.to(torch.float32)
    losses = []
    for _ in range(cfg.epochs):
        logits = autoencoder_logits(params, input_dropout(inputs, cfg.dropout, generator), cfg.nonlinear)
        loss = ((logits - liked) ** 2).sum(dim=1).mean() if cfg.loss == "squared" else multinomial_loss(logits, liked)
        loss = loss + cfg.weight_decay * sum((p ** 2).sum() for p in params.as_list())
        adam_step(params, loss, state, cfg.lr, cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses


@mutant("a fresh Adam state at every step", symptom="AdamState")
def train_autoencoder(params, watched, liked, cfg, generator):  # noqa: F811
    inputs = normalise_history(watched) if cfg.normalise else watched.to(torch.float32)
    losses = []
    for _ in range(cfg.epochs):
        logits = autoencoder_logits(params, input_dropout(inputs, cfg.dropout, generator), cfg.nonlinear)
        loss = ((logits - liked) ** 2).sum(dim=1).mean() if cfg.loss == "squared" else multinomial_loss(logits, liked)
        loss = loss + cfg.weight_decay * ((params.W ** 2).sum() + (params.V ** 2).sum())
        adam_step(params, loss, new_adam_state(params), cfg.lr, cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses


@mutant("never drops anything out", symptom="input_dropout")
def train_autoencoder(params, watched, liked, cfg, generator):  # noqa: F811
    state = new_adam_state(params)
    inputs = normalise_history(watched) if cfg.normalise else watched.to(torch.float32)
    losses = []
    for _ in range(cfg.epochs):
        loss = multinomial_loss(autoencoder_logits(params, inputs, cfg.nonlinear), liked)
        loss = loss + cfg.weight_decay * ((params.W ** 2).sum() + (params.V ** 2).sum())
        adam_step(params, loss, state, cfg.lr, cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses


@mutant("ignores the ablation's switches (always normalised, tanh, softmax)", symptom="cfg.normalise")
def train_autoencoder(params, watched, liked, cfg, generator):  # noqa: F811
    state = new_adam_state(params)
    inputs = normalise_history(watched)
    losses = []
    for _ in range(cfg.epochs):
        loss = multinomial_loss(autoencoder_logits(params, input_dropout(inputs, cfg.dropout, generator)), liked)
        loss = loss + cfg.weight_decay * ((params.W ** 2).sum() + (params.V ** 2).sum())
        adam_step(params, loss, state, cfg.lr, cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses


@mutant("subtracts only the bias c, not the empty history's logits", symptom="empty history")
def newcomer_scores(params, inputs, nonlinear=True):
    return autoencoder_logits(params, inputs, nonlinear) - params.c


@mutant("returns the plain logits", symptom="empty history")
def newcomer_scores(params, inputs, nonlinear=True):  # noqa: F811
    return autoencoder_logits(params, inputs, nonlinear)


@mutant("ranks by the dot product of the summed embeddings, not the cosine", symptom="cosine")
def similar_movies(params, movie_row, k):
    with torch.no_grad():
        both = params.W / params.W.norm(dim=1, keepdim=True) + params.V / params.V.norm(dim=1, keepdim=True)
        dot = both @ both[movie_row]
        dot[movie_row] = float("-inf")
        return torch.sort(dot, descending=True, stable=True).indices[:k]


@mutant("keeps the movie among its own neighbours", symptom="itself")
def similar_movies(params, movie_row, k):  # noqa: F811
    with torch.no_grad():
        both = params.W / params.W.norm(dim=1, keepdim=True) + params.V / params.V.norm(dim=1, keepdim=True)
        unit = both / both.norm(dim=1, keepdim=True)
        return torch.sort(unit @ unit[movie_row], descending=True, stable=True).indices[:k]


@mutant("neighbours from the input embeddings W alone", symptom="both")
def similar_movies(params, movie_row, k):  # noqa: F811
    with torch.no_grad():
        unit = params.W / params.W.norm(dim=1, keepdim=True)
        cosine = unit @ unit[movie_row]
        cosine[movie_row] = float("-inf")
        return torch.sort(cosine, descending=True, stable=True).indices[:k]


@mutant("adds W and V without making each a unit vector first", symptom="length")
def similar_movies(params, movie_row, k):  # noqa: F811
    with torch.no_grad():
        both = params.W + params.V
        unit = both / both.norm(dim=1, keepdim=True)
        cosine = unit @ unit[movie_row]
        cosine[movie_row] = float("-inf")
        return torch.sort(cosine, descending=True, stable=True).indices[:k]
