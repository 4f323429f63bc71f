"""Wrong implementations of lesson 2."""
from checks.mutants import mutant
from course.containers import ContextIndex


@mutant("numbers movies from 1 instead of 0", symptom="row 0")
def build_movie_index(top_movies):
    return {movie_id: row + 1 for row, movie_id in enumerate(top_movies)}


@mutant("numbers genres in set order, not sorted", symptom="sorted")
def build_genre_index(genres_by_id):
    all_genres = {genre for genres in genres_by_id.values() for genre in genres}
    return {genre: column for column, genre in enumerate(all_genres)}


@mutant("numbers genres in order of first appearance", symptom="sorted")
def build_genre_index(genres_by_id):  # noqa: F811
    seen = {}
    for genres in genres_by_id.values():
        for genre in genres:
            seen.setdefault(genre, len(seen))
    return seen


@mutant("puts genres at slot j, overlapping the movie slots", symptom="right after")
def build_user_context_index(top_movies, genre_index, num_context_movies):
    movie_slot = {m: i for i, m in enumerate(top_movies[:num_context_movies])}
    return ContextIndex(movie_slot, dict(genre_index), len(movie_slot) + len(genre_index))


@mutant("offsets genres by num_context_movies even when there are fewer movies", symptom="gaps")
def build_user_context_index(top_movies, genre_index, num_context_movies):  # noqa: F811
    movie_slot = {m: i for i, m in enumerate(top_movies[:num_context_movies])}
    genre_slot = {g: num_context_movies + j for g, j in genre_index.items()}
    return ContextIndex(movie_slot, genre_slot, num_context_movies + len(genre_index))


@mutant("takes the last num_context_movies movies (least rated)", symptom="most-rated")
def build_user_context_index(top_movies, genre_index, num_context_movies):  # noqa: F811
    context = top_movies[-num_context_movies:]
    movie_slot = {m: i for i, m in enumerate(context)}
    genre_slot = {g: len(context) + j for g, j in genre_index.items()}
    return ContextIndex(movie_slot, genre_slot, len(context) + len(genre_index))
