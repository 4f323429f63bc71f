"""Wrong implementations of lesson 7."""
import torch

from checks.mutants import mutant
from course.containers import MovieEmbeddings


@mutant("puts the id embedding before the feature embedding", symptom="must come first")
def movie_embeddings(params, movie_genres):
    with torch.no_grad():
        identity = torch.tanh(params.item_embedding_table @ params.item_id_W + params.item_id_b)
        feature = torch.tanh(movie_genres @ params.item_feature_W + params.item_feature_b)
        return MovieEmbeddings(id=identity, feature=feature, combined=torch.cat([identity, feature], dim=1))


@mutant("forgets the tanh of the id layer", symptom="tanh")
def movie_embeddings(params, movie_genres):  # noqa: F811
    with torch.no_grad():
        identity = params.item_embedding_table @ params.item_id_W + params.item_id_b
        feature = torch.tanh(movie_genres @ params.item_feature_W + params.item_feature_b)
        return MovieEmbeddings(id=identity, feature=feature, combined=torch.cat([feature, identity], dim=1))


@mutant("uses the raw embedding table as the id embedding", symptom="raw embedding table")
def movie_embeddings(params, movie_genres):  # noqa: F811
    with torch.no_grad():
        identity = params.item_embedding_table.clone()
        feature = torch.tanh(movie_genres @ params.item_feature_W + params.item_feature_b)
        return MovieEmbeddings(id=identity, feature=feature, combined=torch.cat([feature, identity], dim=1))


@mutant("loops over the movies with lesson 5's item tower and keeps the autograd graph", symptom="gradients")
def movie_embeddings(params, movie_genres):  # noqa: F811
    from solutions.lesson05_weights import item_tower
    rows = []
    for row in range(movie_genres.shape[0]):
        rows.append(item_tower(params, movie_genres[row:row + 1], torch.tensor([row])))
    combined = torch.cat(rows)
    f = params.item_feature_W.shape[1]
    return MovieEmbeddings(id=combined[:, f:], feature=combined[:, :f], combined=combined)


@mutant("copies the feature layer's bias into the id layer", symptom="id embedding")
def movie_embeddings(params, movie_genres):  # noqa: F811
    with torch.no_grad():
        identity = torch.tanh(params.item_embedding_table @ params.item_id_W + params.item_feature_b)
        feature = torch.tanh(movie_genres @ params.item_feature_W + params.item_feature_b)
        return MovieEmbeddings(id=identity, feature=feature, combined=torch.cat([feature, identity], dim=1))


@mutant("drops the tanh of the feature layer", symptom="tanh")
def movie_embeddings(params, movie_genres):  # noqa: F811
    with torch.no_grad():
        identity = torch.tanh(params.item_embedding_table @ params.item_id_W + params.item_id_b)
        feature = movie_genres @ params.item_feature_W + params.item_feature_b
        return MovieEmbeddings(id=identity, feature=feature, combined=torch.cat([feature, identity], dim=1))
