"""Wrong implementations of lesson 5."""
import torch

from checks.mutants import mutant
from course.containers import Params


def _draw(num_context_features, num_genres, num_movies, cfg, generator, weights=torch.randn):
    f, e, u = cfg.item_feature_dim, cfg.item_id_dim, cfg.user_dim
    return [
        weights((num_genres, f), generator=generator),
        weights(f, generator=generator),
        torch.rand((num_movies, e), generator=generator),
        weights((e, e), generator=generator),
        weights(e, generator=generator),
        weights((num_context_features, u), generator=generator),
        weights(u, generator=generator),
    ]


@mutant("forgets to scale the weights", symptom="weight_scale")
def init_parameters(num_context_features, num_genres, num_movies, cfg, generator):
    drawn = _draw(num_context_features, num_genres, num_movies, cfg, generator)
    return Params(*(t.requires_grad_(True) for t in drawn))


@mutant("hard-codes the blog's 0.1 instead of cfg.weight_scale", symptom="weight_scale")
def init_parameters(num_context_features, num_genres, num_movies, cfg, generator):  # noqa: F811
    drawn = _draw(num_context_features, num_genres, num_movies, cfg, generator)
    return Params(*((t * 0.1).requires_grad_(True) for t in drawn))


@mutant("draws the user tower first", symptom="order")
def init_parameters(num_context_features, num_genres, num_movies, cfg, generator):  # noqa: F811
    f, e, u = cfg.item_feature_dim, cfg.item_id_dim, cfg.user_dim
    user_W = torch.randn((num_context_features, u), generator=generator)
    user_b = torch.randn(u, generator=generator)
    rest = [
        torch.randn((num_genres, f), generator=generator),
        torch.randn(f, generator=generator),
        torch.rand((num_movies, e), generator=generator),
        torch.randn((e, e), generator=generator),
        torch.randn(e, generator=generator),
    ]
    return Params(*((t * cfg.weight_scale).requires_grad_(True) for t in [*rest, user_W, user_b]))


@mutant("draws the weights with torch.rand (uniform) instead of torch.randn", symptom="randn")
def init_parameters(num_context_features, num_genres, num_movies, cfg, generator):  # noqa: F811
    drawn = _draw(num_context_features, num_genres, num_movies, cfg, generator, weights=torch.rand)
    return Params(*((t * cfg.weight_scale).requires_grad_(True) for t in drawn))


@mutant("sets requires_grad before scaling, so the parameters are not leaves", symptom="leaf")
def init_parameters(num_context_features, num_genres, num_movies, cfg, generator):  # noqa: F811
    drawn = _draw(num_context_features, num_genres, num_movies, cfg, generator)
    return Params(*(t.requires_grad_(True) * cfg.weight_scale for t in drawn))


@mutant("ignores the generator (global random state)", symptom="generator")
def init_parameters(num_context_features, num_genres, num_movies, cfg, generator):  # noqa: F811
    drawn = _draw(num_context_features, num_genres, num_movies, cfg, None)
    return Params(*((t * cfg.weight_scale).requires_grad_(True) for t in drawn))


@mutant("uses sigmoid instead of tanh in the user tower", symptom="tanh")
def user_tower(params, user_context):
    return torch.sigmoid(user_context @ params.user_W + params.user_b)


@mutant("uses relu instead of tanh in the item towers", symptom="tanh")
def item_tower(params, movie_genres, movie_rows):
    feature = torch.relu(movie_genres @ params.item_feature_W + params.item_feature_b)
    identity = torch.relu(params.item_embedding_table[movie_rows] @ params.item_id_W + params.item_id_b)
    return torch.cat([feature, identity], dim=1)


@mutant("concatenates the id embedding before the feature embedding", symptom="feature first")
def item_tower(params, movie_genres, movie_rows):  # noqa: F811
    feature = torch.tanh(movie_genres @ params.item_feature_W + params.item_feature_b)
    identity = torch.tanh(params.item_embedding_table[movie_rows] @ params.item_id_W + params.item_id_b)
    return torch.cat([identity, feature], dim=1)


@mutant("multiplies the embedding matrices instead of a row-wise dot product", symptom="row-wise")
def predict(params, user_context, movie_genres, movie_rows):
    return user_tower(params, user_context) @ item_tower(params, movie_genres, movie_rows).T


@mutant("squeezes the predictions, losing the batch dimension for one pair", symptom="squeeze")
def predict(params, user_context, movie_genres, movie_rows):  # noqa: F811
    users = user_tower(params, user_context)
    items = item_tower(params, movie_genres, movie_rows)
    return (users.unsqueeze(1) @ items.unsqueeze(2)).squeeze()


def _zero(params):
    with torch.no_grad():
        for p in params.as_list():
            p.zero_()


def _zeroing_user_tower(params, user_context):
    _zero(params)
    return torch.tanh(user_context @ params.user_W + params.user_b)


def _zeroing_item_tower(params, movie_genres, movie_rows):
    _zero(params)
    feature = torch.tanh(movie_genres @ params.item_feature_W + params.item_feature_b)
    identity = torch.tanh(params.item_embedding_table[movie_rows] @ params.item_id_W + params.item_id_b)
    return torch.cat([feature, identity], dim=1)


_zeroing_user_tower.__name__, _zeroing_item_tower.__name__ = "user_tower", "item_tower"


# Before the checks computed their expected values first, from their own copy, this scored 8
# points: the reference, run after it on the same (now zero) parameters, agreed.
@mutant("zeroes the parameters it is given, then runs the towers on them", "changed the parameters",
        _zeroing_user_tower, _zeroing_item_tower)
def predict(params, user_context, movie_genres, movie_rows):  # noqa: F811
    _zero(params)
    return (user_tower(params, user_context) * item_tower(params, movie_genres, movie_rows)).sum(dim=1)
