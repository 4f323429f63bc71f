"""Wrong implementations of lesson 1 that a learner could plausibly write."""
from checks.mutants import mutant


@mutant("fills missing values with 0 instead of dropping the rows", symptom="missing value")
def clean_ratings(ratings):
    return ratings.fillna(0).reset_index(drop=True).astype({"userId": "int64", "movieId": "int64"})


@mutant("drops rows with a NaN rating only (a NaN movieId survives as a float id)", symptom="missing value")
def clean_ratings(ratings):  # noqa: F811 - each mutant is its own replacement
    return ratings.dropna(subset=["rating"]).reset_index(drop=True)


@mutant("cleans the caller's table in place", symptom="changed the table")
def clean_ratings(ratings):  # noqa: F811
    ratings.dropna(inplace=True)
    ratings.reset_index(drop=True, inplace=True)
    return ratings.astype({"userId": "int64", "movieId": "int64"})


@mutant("counts with value_counts (ties in order of first appearance)", symptom="ties")
def count_ratings_per_movie(ratings):
    return ratings["movieId"].value_counts().rename("num_ratings").rename_axis("movieId").astype("int64")


@mutant("uses >= for 'more than' min_ratings_per_movie", symptom="more than")
def select_top_movies(rating_counts, min_ratings_per_movie):
    return [int(m) for m in rating_counts[rating_counts >= min_ratings_per_movie].index]


@mutant("forgets to reset the index after filtering", symptom="index")
def keep_top_movie_ratings(ratings, top_movies):
    return ratings[ratings["movieId"].isin(top_movies)]


@mutant("keeps genres in file order instead of sorting them", symptom="sorted")
def build_movie_maps(movies, ratings, top_movies):
    maps = _reference_build_movie_maps(movies, ratings, top_movies)
    genres = {int(m): tuple(g.split("|")) for m, g in zip(movies["movieId"], movies["genres"]) if int(m) in set(top_movies)}
    return type(maps)(maps.title_by_id, maps.id_by_title, genres, maps.avg_rating_by_id, maps.num_ratings_by_id)


@mutant("lets the last movie with a shared title win (dict overwrite)", symptom="smaller")
def build_movie_maps(movies, ratings, top_movies):  # noqa: F811
    maps = _reference_build_movie_maps(movies, ratings, top_movies)
    id_by_title = {str(t): int(m) for m, t in zip(movies["movieId"], movies["title"])}
    return type(maps)(maps.title_by_id, id_by_title, maps.genres_by_id, maps.avg_rating_by_id, maps.num_ratings_by_id)


def _reference_build_movie_maps(movies, ratings, top_movies):
    from solutions.lesson01_cleaning import build_movie_maps as reference
    return reference(movies, ratings, top_movies)
