"""Wrong implementations of lesson 10."""
import torch

from checks.mutants import mutant


@mutant("recommends movies the user has already seen", symptom="seen movie")
def rank_unseen(scores, seen, k):
    return torch.sort(scores.to(torch.float64), dim=1, descending=True, stable=True).indices[:, :k]


@mutant("sorts ascending (worst first)", symptom="best first")
def rank_unseen(scores, seen, k):  # noqa: F811
    masked = scores.to(torch.float64).masked_fill(seen, float("inf"))
    return torch.sort(masked, dim=1, stable=True).indices[:, :k]


@mutant("uses topk, whose order of equal scores is not defined", symptom="lower row")
def rank_unseen(scores, seen, k):  # noqa: F811
    masked = scores.to(torch.float64).masked_fill(seen, float("-inf"))
    return torch.topk(masked, k, dim=1, sorted=True).indices


@mutant("ideal DCG always counts k hits", symptom="perfect ranking")
def ranking_metrics(ranked, relevant, k):
    is_hit = relevant.gather(1, ranked).to(torch.float64)
    top = is_hit[:, :k]
    num_relevant = relevant.sum(dim=1).to(torch.float64)
    hits = top.sum(dim=1)
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    dcg = (top * discount).sum(dim=1)
    first = torch.where(is_hit.any(dim=1), is_hit.argmax(dim=1) + 1, 0).to(torch.float64)
    reciprocal = torch.where(first > 0, 1.0 / first.clamp(min=1), 0.0)
    return {"hr": (hits > 0).to(torch.float64), "recall": hits / num_relevant,
            "ndcg": dcg / discount.sum(), "mrr": reciprocal}


@mutant("recall divides the hits by k (that is precision)", symptom="number of relevant")
def ranking_metrics(ranked, relevant, k):  # noqa: F811
    is_hit = relevant.gather(1, ranked).to(torch.float64)
    top = is_hit[:, :k]
    num_relevant = relevant.sum(dim=1).to(torch.float64)
    hits = top.sum(dim=1)
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    dcg = (top * discount).sum(dim=1)
    ideal = torch.cumsum(discount, dim=0)[num_relevant.clamp(max=k).to(torch.int64) - 1]
    first = torch.where(is_hit.any(dim=1), is_hit.argmax(dim=1) + 1, 0).to(torch.float64)
    reciprocal = torch.where(first > 0, 1.0 / first.clamp(min=1), 0.0)
    return {"hr": (hits > 0).to(torch.float64), "recall": hits / k, "ndcg": dcg / ideal, "mrr": reciprocal}


@mutant("reciprocal rank only within the top k", symptom="whole ranking")
def ranking_metrics(ranked, relevant, k):  # noqa: F811
    is_hit = relevant.gather(1, ranked).to(torch.float64)
    top = is_hit[:, :k]
    num_relevant = relevant.sum(dim=1).to(torch.float64)
    hits = top.sum(dim=1)
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    dcg = (top * discount).sum(dim=1)
    ideal = torch.cumsum(discount, dim=0)[num_relevant.clamp(max=k).to(torch.int64) - 1]
    first = torch.where(top.any(dim=1), top.argmax(dim=1) + 1, 0).to(torch.float64)
    reciprocal = torch.where(first > 0, 1.0 / first.clamp(min=1), 0.0)
    return {"hr": (hits > 0).to(torch.float64), "recall": hits / num_relevant, "ndcg": dcg / ideal,
            "mrr": reciprocal}


@mutant("every metric is 1.0, whatever the ranking", symptom="nothing relevant")
def ranking_metrics(ranked, relevant, k):  # noqa: F811
    ones = torch.ones(ranked.shape[0], dtype=torch.float64)
    return {"hr": ones, "recall": ones.clone(), "ndcg": ones.clone(), "mrr": ones.clone()}


@mutant("coverage divides by the number of users", symptom="catalogue")
def catalogue_coverage(ranked, num_movies, k):
    return float(torch.unique(ranked[:, :k]).numel()) / ranked.shape[0]


@mutant("popularity adds the ratings up instead of counting raters", symptom="count")
def most_popular_scores(interactions):
    movies = interactions.col_indices()
    return torch.zeros(interactions.shape[1], dtype=torch.float64).index_add_(0, movies, interactions.values())


@mutant("popularity counts every stored entry, explicit zeros too", symptom="stored 0")
def most_popular_scores(interactions):  # noqa: F811
    return torch.bincount(interactions.col_indices(), minlength=interactions.shape[1]).to(torch.float64)


@mutant("Bayesian prior is the mean of the movies' means", symptom="global mean")
def bayesian_average_scores(rating_sum, rating_count, prior_weight):
    rating_sum = rating_sum.to(torch.float64)
    rating_count = rating_count.to(torch.float64)
    rated = rating_count > 0
    prior = (rating_sum[rated] / rating_count[rated]).mean()
    return (rating_sum + prior_weight * prior) / (rating_count + prior_weight)


@mutant("EASE keeps the diagonal (each movie recommends itself)", symptom="diagonal")
def ease_weights(interactions, l2):
    x = (interactions.to_dense() != 0).to(torch.float64)
    precision = torch.linalg.inv(x.T @ x + l2 * torch.eye(x.shape[1], dtype=torch.float64))
    return -precision / precision.diagonal()[None, :]


@mutant("EASE divides the rows instead of the columns", symptom="transposed")
def ease_weights(interactions, l2):  # noqa: F811
    x = (interactions.to_dense() != 0).to(torch.float64)
    precision = torch.linalg.inv(x.T @ x + l2 * torch.eye(x.shape[1], dtype=torch.float64))
    weights = -precision / precision.diagonal()[:, None]
    weights.fill_diagonal_(0.0)
    return weights


@mutant("bootstrap resamples the two predictors' users independently (not paired)", symptom="paired")
def paired_bootstrap(metric_a, metric_b, num_samples, confidence, generator):
    a, b = metric_a.to(torch.float64), metric_b.to(torch.float64)
    users = a.shape[0]
    picks_a = torch.randint(0, users, (num_samples, users), generator=generator)
    picks_b = torch.randint(0, users, (num_samples, users), generator=generator)
    means = a[picks_a].mean(dim=1) - b[picks_b].mean(dim=1)
    tail = (1.0 - confidence) / 2.0
    bounds = torch.quantile(means, torch.tensor([tail, 1.0 - tail], dtype=torch.float64))
    return float((a - b).mean()), float(bounds[0]), float(bounds[1])


@mutant("EASE on the stored ratings instead of a 0/1 matrix", symptom="whatever the rating")
def ease_weights(interactions, l2):  # noqa: F811
    x = interactions.to_dense().to(torch.float64)
    precision = torch.linalg.inv(x.T @ x + l2 * torch.eye(x.shape[1], dtype=torch.float64))
    weights = -precision / precision.diagonal()[None, :]
    weights.fill_diagonal_(0.0)
    return weights


@mutant("coverage is NaN (0/0), which a comparison written abs(got - want) > tol takes for exact", symptom="finite")
def catalogue_coverage(ranked, num_movies, k):  # noqa: F811
    return float("nan")

