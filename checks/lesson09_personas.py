"""Checks for lesson 9: a brand-new user's context, scores and recommendations."""
from __future__ import annotations

import difflib

import torch

from checks import fixtures
from checks.compare import far_entries
from checks.framework import CheckFailed, check, compare_tensors, expect, expect_type

# ---------------------------------------------------------------- 9.1 resolve_title


def _misspelt(fx) -> tuple[str, str]:
    """A catalogue title and a one-letter typo of it whose closest title (difflib) is that title."""
    titles = list(fx.data.maps.id_by_title)
    for movie in fx.data.top_movies:
        title = fx.data.maps.title_by_id[movie]
        if len(title) < 8:
            continue
        typo = title[:2] + title[3:]  # one letter dropped
        if typo not in fx.data.maps.id_by_title and difflib.get_close_matches(typo, titles, n=1, cutoff=0.5) == [title]:
            return title, typo
    raise AssertionError("the fixture has no title suitable for a typo")  # a defect of the fixture, not the learner


@check("9.1", points=1, title="an exact title gives its movie id")
def exact_title(learner, ref, fx):
    maps = fx.data.maps
    top = fx.data.top_movies
    for movie in (top[0], top[len(top) // 2], max(maps.title_by_id)):
        title = maps.title_by_id[movie]
        got = learner.resolve_title(title, dict(maps.id_by_title))
        expect(isinstance(got, int) and not isinstance(got, bool),
               f"resolve_title({title!r}) returned {got!r} ({type(got).__name__}); it should return the movie id, "
               f"a plain int.")
        expect(got == maps.id_by_title[title], f"resolve_title({title!r}) returned {got}, which is not that title's "
                                               f"movie id in id_by_title.")
    return "3 titles"


@check("9.1", points=2, title="a misspelt title raises an error that suggests the closest title")
def misspelt_title(learner, ref, fx):
    maps = fx.data.maps
    title, typo = _misspelt(fx)
    learner.resolve_title(title, dict(maps.id_by_title))
    try:
        got = learner.resolve_title(typo, dict(maps.id_by_title))
    except KeyError as e:
        message = str(e)
    except Exception as e:  # noqa: BLE001 - the wrong kind of error
        raise CheckFailed(f"resolve_title({typo!r}) raised {type(e).__name__}; it should raise UnknownTitleError "
                          f"(a KeyError), so callers can catch a missing title like a missing key.") from None
    else:
        raise CheckFailed(f"resolve_title({typo!r}), a title that is not in the catalogue, returned {got!r}; it "
                          f"should raise UnknownTitleError, never guess or return a placeholder: a wrong movie "
                          f"would silently change the recommendations.")
    expect(title in message, f"resolve_title({typo!r}) raised an error whose message does not suggest the closest "
                             f"title: a one-letter typo should be easy to fix (difflib.get_close_matches). Your "
                             f"message: {message!r}")
    expect(typo in message, f"the error message of resolve_title({typo!r}) should name the title that was not found.")
    return "suggests the closest title"


# ---------------------------------------------------------------- 9.2 persona_context

LIKED, DISLIKED = ["Comedy", "Sci-Fi"], ["Horror"]


def _persona(fx):
    """Two favourites with a context slot and one top movie without."""
    index = fx.data.context_index
    with_slot = [m for m in fx.data.top_movies if m in index.movie_slot]
    without = [m for m in fx.data.top_movies if m not in index.movie_slot]
    return [with_slot[0], with_slot[5], without[0]], index


def _context(learner, liked, disliked, favourites, index, strength=None):
    args = (list(liked), list(disliked), list(favourites), index)
    out = learner.persona_context(*args) if strength is None else learner.persona_context(*args, strength=strength)
    expect_type(out, torch.Tensor, "persona_context's result")
    expect(tuple(out.shape) == (index.size,), f"the context vector should have shape {(index.size,)} "
                                              f"(context_index.size slots), not {tuple(out.shape)}.")
    expect(out.dtype == torch.float32, f"the context vector has dtype {out.dtype}; it should be float32, like the "
                                       f"training users' context rows.")
    return out


@check("9.2", points=3, title="+strength for liked genres and favourites, -strength for disliked, 0 elsewhere")
def context_slots(learner, ref, fx):
    favourites, index = _persona(fx)
    with_slot = favourites[:2]
    try:
        _context(learner, LIKED, DISLIKED, favourites, index)
    except KeyError:
        raise CheckFailed(f"persona_context raised KeyError for favourite movie {favourites[2]}, a catalogue movie "
                          f"without a context slot: such favourites should be skipped (the user tower has no "
                          f"input for them).") from None
    for strength in (2.0, 1.5):
        out = _context(learner, LIKED, DISLIKED, favourites, index, strength=strength)
        for genre in LIKED:
            value = float(out[index.genre_slot[genre]])
            expect(value == strength, f"with strength={strength}, the slot of the liked genre {genre!r} holds {value}; "
                                      f"it should hold +{strength}.")
        for genre in DISLIKED:
            value = float(out[index.genre_slot[genre]])
            expect(value == -strength, f"with strength={strength}, the slot of the disliked genre {genre!r} holds "
                                       f"{value}; it should hold -{strength}: a genre the user hates counts against "
                                       f"its movies.")
        for movie in with_slot:
            value = float(out[index.movie_slot[movie]])
            expect(value == strength, f"with strength={strength}, the slot of favourite movie {movie} holds {value}; "
                                      f"it should hold +{strength}: favourite movies are the watch history of a "
                                      f"new user.")
        used = {index.genre_slot[g] for g in LIKED + DISLIKED} | {index.movie_slot[m] for m in with_slot}
        others = [i for i in range(index.size) if i not in used and float(out[i]) != 0.0]
        expect(not others, f"{len(others)} slot(s) that no liked or disliked genre or favourite movie uses are not 0 "
                           f"(first: slot {others[0] if others else ''}).")
    return "exact"


@check("9.2", points=1, title="an unknown genre raises ValueError naming the valid genres")
def unknown_genre(learner, ref, fx):
    favourites, index = _persona(fx)
    _context(learner, LIKED, DISLIKED, favourites[:2], index)
    valid = sorted(index.genre_slot)
    for liked, disliked in ((["Scifi"], []), (["Comedy"], ["Horor"])):
        bad = (liked + disliked)[-1]
        try:
            learner.persona_context(liked, disliked, [], index)
        except ValueError as e:
            message = str(e)
        except Exception as e:  # noqa: BLE001
            raise CheckFailed(f"an unknown genre {bad!r} raised {type(e).__name__}; it should raise ValueError, "
                              f"with a message that lists the valid genres.") from None
        else:
            raise CheckFailed(f"persona_context accepted the unknown genre {bad!r}: it should raise ValueError, or a "
                              f"typo would silently give a user with no taste.")
        missing = [g for g in valid if g not in message]
        expect(not missing, f"the ValueError for the unknown genre {bad!r} should name the valid genres, so the "
                            f"user can fix the typo; {len(missing)} of {len(valid)} are missing (e.g. {missing[:1]}).")
    return "ValueError"


# ---------------------------------------------------------------- 9.3 score_catalogue

def _scores(learner, params, context, combined):
    out = learner.score_catalogue(params.clone(), context.clone(), combined.clone())
    expect_type(out, torch.Tensor, "score_catalogue's result")
    m = combined.shape[0]
    expect(tuple(out.shape) == (m,), f"score_catalogue should return one score per movie, shape {(m,)}, "
                                     f"not {tuple(out.shape)}.")
    return out.detach()


def _diagnose_scores(out, params, context, combined, expected):
    with torch.no_grad():
        untanhed = combined @ (context @ params.user_W + params.user_b)
    if torch.allclose(out.double(), untanhed.double(), atol=1e-5):
        raise CheckFailed("your scores use the user embedding without its tanh: the user tower ends with tanh, as "
                          "in lesson 5.")
    if bool(((out > 0) & (out < 1)).all()) and not bool(((expected > 0) & (expected < 1)).all()):
        raise CheckFailed("all your scores lie between 0 and 1, as if squashed (sigmoid?): a score is the plain dot "
                          "product of the user embedding and a movie's combined embedding, a debiased rating.")


@check("9.3", points=2, title="scores of the whole catalogue match the reference")
def scores_reference(learner, ref, fx):
    favourites, index = _persona(fx)
    context = ref.persona_context(LIKED, DISLIKED, favourites, index)
    params, combined = fx.trained.params, fx.embeddings.combined
    out = _scores(learner, params, context, combined)
    with torch.no_grad():
        expected = ref.score_catalogue(params, context, combined)
    _diagnose_scores(out, params, context, combined, expected)
    return compare_tensors(out, expected, "the scores", atol=1e-5)


@check("9.3", points=2, title="each score equals lesson 5's predict() for that movie")
def scores_equal_predict(learner, ref, fx):
    from solutions.lesson05_weights import predict
    from solutions.lesson07_embeddings import movie_embeddings

    # Fresh weights and a different user, so nothing can be memorised from the fixture.
    params = fixtures.new_parameters(seed=99)
    genres = fx.data.movie_genres
    combined = movie_embeddings(params, genres).combined
    context = fx.data.user_context[3].clone()
    out = _scores(learner, params, context, combined)
    m = genres.shape[0]
    with torch.no_grad():
        expected = predict(params, context.expand(m, -1), genres, torch.arange(m))
    _diagnose_scores(out, params, context, combined, expected)
    wrong = far_entries(out, expected, 1e-5)
    if bool(wrong.any()):
        raise CheckFailed(f"for {int(wrong.sum())} of {m} movies (first: row {int(torch.nonzero(wrong)[0])}) your "
                          f"score differs from lesson 5's predict() for the same user and movie: a score is the "
                          f"dot product of the user embedding with that movie's combined embedding.")
    return f"all {m} movies"


# ---------------------------------------------------------------- 9.4 recommend

SCORES = torch.tensor([0.5, 2.0, 1.0, 2.0, -1.0, 3.0, 0.0, 2.5])
EXCLUDE = [5, 7]   # the two best: movies the user already named as favourites


def _recommend(learner, scores, exclude, n):
    out = learner.recommend(scores.clone(), list(exclude), n)
    expect_type(out, list, "recommend's result")
    bad = [r for r in out if not isinstance(r, int) or isinstance(r, bool)]
    if bad:
        raise CheckFailed(f"recommend should return plain Python ints (rows), but it returned {bad[0]!r} "
                          f"({type(bad[0]).__name__}): use int(i) on each tensor element.")
    return out


@check("9.4", points=2, title="the n best rows, best first, without the user's favourites")
def recommend_small(learner, ref, fx):
    out = _recommend(learner, SCORES, EXCLUDE, 3)
    listed = [r for r in out if r in EXCLUDE]
    expect(not listed, f"with scores {SCORES.tolist()} and exclude_rows {EXCLUDE}, you recommend row {listed[0] if listed else None}, "
                       f"a movie the user already likes: leave out exclude_rows.")
    expect(len(out) == 3, f"recommend(..., n=3) returned {len(out)} rows; it should return 3.")
    values = [float(SCORES[r]) for r in out]
    expect(values == sorted(values, reverse=True), f"with scores {SCORES.tolist()} (rows {EXCLUDE} excluded) your "
                                                   f"rows {out} are not best first: sort by decreasing score.")
    expect(out[:2] == [1, 3] or sorted(out[:2]) != [1, 3],
           f"rows 1 and 3 both score 2.0; you list them as {out[:2]}: equal scores go to the lower row.")
    expect(out == [1, 3, 2], f"with scores {SCORES.tolist()} and rows {EXCLUDE} excluded, the 3 best rows are "
                             f"not {out}.")
    # Three equal scores for three places: their order is the tie-break, nothing else.
    tied = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0])
    ties = _recommend(learner, tied, [], 3)
    expect(ties == [2, 3, 4], f"with scores {tied.tolist()} and n=3 you return {ties}; rows 2, 3 and 4 tie at 1.0, "
                              f"and equal scores go to the lower row: [2, 3, 4]. A stable sort keeps ties in row "
                              f"order; torch.topk does not promise any order for them.")
    everything = _recommend(learner, SCORES, EXCLUDE, 20)
    expect(len(everything) == len(SCORES) - len(EXCLUDE),
           f"with {len(SCORES)} movies, {len(EXCLUDE)} excluded and n=20, recommend should return the "
           f"{len(SCORES) - len(EXCLUDE)} movies left, not {len(everything)}.")
    return "exact"


@check("9.4", points=1, title="the top 10 of a fixture user match the reference")
def recommend_fixture(learner, ref, fx):
    favourites, index = _persona(fx)
    context = ref.persona_context(LIKED, DISLIKED, favourites, index)
    with torch.no_grad():
        scores = ref.score_catalogue(fx.trained.params, context, fx.embeddings.combined)
    row_of = {m: r for r, m in enumerate(fx.data.top_movies)}
    exclude = [row_of[m] for m in favourites]
    out = _recommend(learner, scores, exclude, 10)
    expected = ref.recommend(scores.clone(), exclude, 10)
    expect(not set(out) & set(exclude), "you recommend a movie the user already likes: leave out exclude_rows.")
    expect(out == expected, f"your top 10 rows differ from the expected ones from position "
                            f"{next((i for i, (a, b) in enumerate(zip(out, expected)) if a != b), min(len(out), 10)) + 1}.")
    return "exact"


# ---------------------------------------------------------------- 9.5 format_recommendations

GREETING = dict(name="Test Persona", liked_genres=["Horror", "Thriller"], disliked_genres=["Children"],
                favourite_titles=["First Favourite (1999)", "Second Favourite (2001)"],
                recommended_titles=["Alpha (1979)", "Beta (1986)", "Gamma (2004)"])


@check("9.5", points=2, title="the greeting follows the documented layout")
def greeting(learner, ref, fx):
    for case in (GREETING, dict(GREETING, disliked_genres=[], name="No Dislikes")):
        out = learner.format_recommendations(**{k: list(v) if isinstance(v, list) else v for k, v in case.items()})
        expect_type(out, str, "format_recommendations' result")
        got = [line.rstrip() for line in out.rstrip("\n").split("\n")]
        want = ref.format_recommendations(**case).split("\n")
        if got == want:
            continue
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        numbered = [line for line in got if any(line.endswith(t) for t in case["recommended_titles"])]
        if numbered and not any(line.startswith("1. ") for line in numbered):
            raise CheckFailed(f"your recommendations are not numbered from 1: the lines should read "
                              f"'1. {case['recommended_titles'][0]}', '2. ...'.")
        if first in (1, 2):
            raise CheckFailed(f"line {first + 1} of your greeting is {got[first]!r}; it should be {want[first]!r}: "
                              f"the genres are joined with ', ' inside square brackets.")
        if first >= len(got) or first >= len(want):
            raise CheckFailed(f"your greeting has {len(got)} lines; with {len(case['favourite_titles'])} favourites "
                              f"and {len(case['recommended_titles'])} recommendations it should have {len(want)}.")
        raise CheckFailed(f"line {first + 1} of your greeting is {got[first]!r}; it should be {want[first]!r}.")
    return "exact"
