"""Wrong implementations of lesson 8."""
import torch

from checks.mutants import mutant


@mutant("forgets the square root (squared distances)", symptom="square root")
def pairwise_distances(embeddings):
    squared_norms = (embeddings ** 2).sum(dim=1)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2.0 * embeddings @ embeddings.T
    squared = squared.clamp(min=0.0)
    squared.fill_diagonal_(0.0)
    return squared


@mutant("does not clamp before the square root (NaN for equal rows)", symptom="NaN")
def pairwise_distances(embeddings):  # noqa: F811
    squared_norms = (embeddings ** 2).sum(dim=1)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2.0 * embeddings @ embeddings.T
    distances = squared.sqrt()
    distances.fill_diagonal_(0.0)
    return distances


@mutant("adds the cross term: |a|^2 + |b|^2 + 2ab", symptom="subtracted")
def pairwise_distances(embeddings):  # noqa: F811
    squared_norms = (embeddings ** 2).sum(dim=1)
    squared = squared_norms[:, None] + squared_norms[None, :] + 2.0 * embeddings @ embeddings.T
    distances = squared.clamp(min=0.0).sqrt()
    distances.fill_diagonal_(0.0)
    return distances


@mutant("keeps the post's nested Python loop", symptom="loop")
def pairwise_distances(embeddings):  # noqa: F811
    n = embeddings.shape[0]
    distances = torch.zeros((n, n), dtype=embeddings.dtype)
    for i in range(n):
        for j in range(n):
            distances[i, j] = torch.sqrt(torch.sum((embeddings[i] - embeddings[j]) ** 2))
    return distances


@mutant("leaves the diagonal as rounding made it", symptom="diagonal")
def pairwise_distances(embeddings):  # noqa: F811
    squared_norms = (embeddings ** 2).sum(dim=1)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2.0 * embeddings @ embeddings.T
    return squared.clamp(min=0.0).sqrt()


@mutant("counts a movie as its own nearest neighbour", symptom="own neighbour")
def most_similar(embeddings, k):
    distances = pairwise_distances(embeddings)
    return torch.sort(distances, dim=1, stable=True).indices[:, :k]


@mutant("sorts descending (farthest first)", symptom="nearest first")
def most_similar(embeddings, k):  # noqa: F811
    distances = pairwise_distances(embeddings)
    distances.fill_diagonal_(float("-inf"))
    return torch.sort(distances, dim=1, descending=True, stable=True).indices[:, 1:k + 1]


@mutant("uses topk, whose order of equal distances is not defined", symptom="lower row")
def most_similar(embeddings, k):  # noqa: F811
    distances = pairwise_distances(embeddings)
    distances.fill_diagonal_(float("inf"))
    return torch.topk(distances, k, dim=1, largest=False).indices


@mutant("lists the movie itself among its similar titles", symptom="itself")
def similar_titles(title, k, embeddings, top_movies, id_by_title, title_by_id):
    row = top_movies.index(id_by_title[title])
    distances = ((embeddings - embeddings[row]) ** 2).sum(dim=1).sqrt()
    order = torch.sort(distances, stable=True).indices[:k]
    return [title_by_id[top_movies[int(i)]] for i in order]


@mutant("answers an unknown title with an empty list", symptom="KeyError")
def similar_titles(title, k, embeddings, top_movies, id_by_title, title_by_id):  # noqa: F811
    if id_by_title.get(title) not in top_movies:
        return []
    row = top_movies.index(id_by_title[title])
    distances = ((embeddings - embeddings[row]) ** 2).sum(dim=1).sqrt()
    distances[row] = float("inf")
    order = torch.sort(distances, stable=True).indices[:k]
    return [title_by_id[top_movies[int(i)]] for i in order]


# ---------------------------------------------------------------- 8.4

def _block_distances(embeddings, start, block_rows):
    squared_norms = (embeddings ** 2).sum(dim=1)
    block = embeddings[start:start + block_rows]
    squared = squared_norms[start:start + block_rows, None] + squared_norms[None, :] - 2.0 * block @ embeddings.T
    return squared.clamp(min=0.0).sqrt()


@mutant("puts +inf on the block's own diagonal instead of at the block's offset", symptom="own neighbour")
def most_similar_blocked(embeddings, k, block_rows=1024):
    parts = []
    for start in range(0, embeddings.shape[0], block_rows):
        distances = _block_distances(embeddings, start, block_rows)
        distances.fill_diagonal_(float("inf"))
        parts.append(torch.sort(distances, dim=1, stable=True).indices[:, :k])
    return torch.cat(parts)


@mutant("computes the whole matrix and cuts it into blocks afterwards", symptom="whole")
def most_similar_blocked(embeddings, k, block_rows=1024):  # noqa: F811
    distances = pairwise_distances(embeddings)
    distances.fill_diagonal_(float("inf"))
    return torch.cat([torch.sort(part, dim=1, stable=True).indices[:, :k] for part in distances.split(block_rows)])


@mutant("uses topk in each block, whose order of equal distances is not defined", symptom="lower row")
def most_similar_blocked(embeddings, k, block_rows=1024):  # noqa: F811
    parts = []
    for start in range(0, embeddings.shape[0], block_rows):
        distances = _block_distances(embeddings, start, block_rows)
        rows = torch.arange(distances.shape[0])
        distances[rows, start + rows] = float("inf")
        parts.append(torch.topk(distances, k, dim=1, largest=False).indices)
    return torch.cat(parts)


@mutant("leaves out the last, shorter block", symptom="shorter block")
def most_similar_blocked(embeddings, k, block_rows=1024):  # noqa: F811
    parts = []
    for start in range(0, embeddings.shape[0] - block_rows + 1, block_rows):
        distances = _block_distances(embeddings, start, block_rows)
        rows = torch.arange(distances.shape[0])
        distances[rows, start + rows] = float("inf")
        parts.append(torch.sort(distances, dim=1, stable=True).indices[:, :k])
    return torch.cat(parts) if parts else torch.empty((0, k), dtype=torch.int64)
