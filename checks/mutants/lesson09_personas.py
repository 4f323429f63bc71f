"""Wrong implementations of lesson 9."""
import difflib

import torch

from checks.mutants import mutant


@mutant("returns None for a title it cannot find", symptom="should raise")
def resolve_title(title, id_by_title):
    return id_by_title.get(title)


@mutant("silently takes the closest title instead of raising", symptom="should raise")
def resolve_title(title, id_by_title):  # noqa: F811
    if title in id_by_title:
        return id_by_title[title]
    return id_by_title[difflib.get_close_matches(title, list(id_by_title), n=1, cutoff=0.0)[0]]


@mutant("raises a bare KeyError without suggesting anything", symptom="closest")
def resolve_title(title, id_by_title):  # noqa: F811
    return id_by_title[title]


@mutant("gives disliked genres +strength too", symptom="disliked")
def persona_context(liked_genres, disliked_genres, favourite_ids, context_index, strength=2.0):
    context = torch.zeros(context_index.size, dtype=torch.float32)
    for genre in [*liked_genres, *disliked_genres]:
        if genre not in context_index.genre_slot:
            raise ValueError(f"unknown genre {genre!r}; the genres are: {', '.join(sorted(context_index.genre_slot))}")
        context[context_index.genre_slot[genre]] = strength
    for movie_id in favourite_ids:
        if movie_id in context_index.movie_slot:
            context[context_index.movie_slot[movie_id]] = strength
    return context


@mutant("ignores the favourite movies", symptom="favourite")
def persona_context(liked_genres, disliked_genres, favourite_ids, context_index, strength=2.0):  # noqa: F811
    from solutions.lesson09_personas import persona_context as reference
    return reference(liked_genres, disliked_genres, [], context_index, strength)


@mutant("looks up every favourite's slot, crashing on movies without one", symptom="skipped")
def persona_context(liked_genres, disliked_genres, favourite_ids, context_index, strength=2.0):  # noqa: F811
    from solutions.lesson09_personas import persona_context as reference
    context = reference(liked_genres, disliked_genres, [], context_index, strength)
    for movie_id in favourite_ids:
        context[context_index.movie_slot[movie_id]] = strength
    return context


@mutant("lets an unknown genre raise KeyError from the dict lookup", symptom="ValueError")
def persona_context(liked_genres, disliked_genres, favourite_ids, context_index, strength=2.0):  # noqa: F811
    context = torch.zeros(context_index.size, dtype=torch.float32)
    for genre in liked_genres:
        context[context_index.genre_slot[genre]] = strength
    for genre in disliked_genres:
        context[context_index.genre_slot[genre]] = -strength
    for movie_id in favourite_ids:
        if movie_id in context_index.movie_slot:
            context[context_index.movie_slot[movie_id]] = strength
    return context


@mutant("squashes the scores with a sigmoid", symptom="dot product")
def score_catalogue(params, user_context, combined_embeddings):
    with torch.no_grad():
        user = torch.tanh(user_context @ params.user_W + params.user_b)
        return torch.sigmoid(combined_embeddings @ user)


@mutant("forgets the tanh of the user tower", symptom="tanh")
def score_catalogue(params, user_context, combined_embeddings):  # noqa: F811
    with torch.no_grad():
        return combined_embeddings @ (user_context @ params.user_W + params.user_b)


@mutant("recommends the favourites too", symptom="already likes")
def recommend(scores, exclude_rows, n=10):
    order = torch.sort(-scores.to(torch.float64), stable=True).indices
    return [int(i) for i in order[:n]]


@mutant("sorts ascending (worst first)", symptom="best first")
def recommend(scores, exclude_rows, n=10):  # noqa: F811
    masked = scores.clone().to(torch.float64)
    if exclude_rows:
        masked[torch.tensor(exclude_rows, dtype=torch.int64)] = float("inf")
    order = torch.sort(masked, stable=True).indices
    kept = order[torch.isfinite(masked[order])]
    return [int(i) for i in kept[:n]]


@mutant("returns tensor elements instead of ints", symptom="plain Python ints")
def recommend(scores, exclude_rows, n=10):  # noqa: F811
    masked = scores.clone().to(torch.float64)
    if exclude_rows:
        masked[torch.tensor(exclude_rows, dtype=torch.int64)] = float("-inf")
    order = torch.sort(-masked, stable=True).indices
    return list(order[torch.isfinite(masked[order])][:n])


@mutant("breaks ties toward the higher row (sorts ascending, then reverses)", symptom="lower row")
def recommend(scores, exclude_rows, n=10):  # noqa: F811
    masked = scores.clone().to(torch.float64)
    if exclude_rows:
        masked[torch.tensor(exclude_rows, dtype=torch.int64)] = float("-inf")
    order = torch.sort(masked, stable=True).indices.flip(0)
    kept = order[torch.isfinite(masked[order])]
    return [int(i) for i in kept[:n]]


@mutant("takes torch.topk, whose order of equal scores is not the lower row first", symptom="topk")
def recommend(scores, exclude_rows, n=10):  # noqa: F811
    masked = scores.clone().to(torch.float64)
    if exclude_rows:
        masked[torch.tensor(exclude_rows, dtype=torch.int64)] = float("-inf")
    left = int(torch.isfinite(masked).sum())
    return [int(i) for i in masked.topk(min(n, left)).indices]


@mutant("lists the recommendations without numbers", symptom="numbered")
def format_recommendations(name, liked_genres, disliked_genres, favourite_titles, recommended_titles):
    return "\n".join([f"Hello, {name}", f"Because you like: [{', '.join(liked_genres)}]",
                      f"And hate: [{', '.join(disliked_genres)}]", "", "And enjoyed these movies:",
                      *favourite_titles, "", "You should watch:", *recommended_titles])


@mutant("prints the genre lists with Python's list repr", symptom="joined with ', '")
def format_recommendations(name, liked_genres, disliked_genres, favourite_titles, recommended_titles):  # noqa: F811
    return "\n".join([f"Hello, {name}", f"Because you like: {liked_genres}", f"And hate: {disliked_genres}", "",
                      "And enjoyed these movies:", *favourite_titles, "", "You should watch:",
                      *(f"{i}. {t}" for i, t in enumerate(recommended_titles, 1))])
