"""Titles as people type them (`make recommend LIKES=...`, `make similar TITLE=...`):
accents folded both ways, the alternative titles MovieLens keeps in brackets, a year that
picks between films of one name, a name several films share answered with the choices, a
genre typed as a title pointed to LOVES=. The rule is commands/saved_model.py's
(``find_title``); these tests hold it to the titles of ml-latest-small's catalogue as `make
demo` builds it (skipped when the data is not installed) and to synthetic titles."""
from __future__ import annotations

import pytest

from commands import recommend
from commands.saved_model import AmbiguousTitle, UnknownTitle, find_title, fold, title_names

GENRES = ["Action", "Animation", "Comedy", "Drama", "Horror", "Sci-Fi"]


def pick(query: str, titles: list[str]) -> str:
    return titles[find_title(query, titles, GENRES)]


def choices(query: str, titles: list[str]) -> list[str]:
    with pytest.raises(AmbiguousTitle) as asked:
        find_title(query, titles, GENRES)
    return [titles[row] for row in asked.value.rows]


# ------------------------------------------------------------------ synthetic titles

# Most rated first, as a saved model's catalogue is.
SYNTHETIC = [
    "Heist: The First Job, The (2001)",
    "Heist: The Last Job, The (2003)",
    "Café Noir (Kaffee Schwarz, Der) (1999)",
    "Orchard Kings (1990)",
    "Night Train (a.k.a. Midnight Express Line) (1987)",
    "Heist, The (1978)",
    "Orchard Kings 2 (1993)",
    "Crown (1962)",
    "Crown (2010)",
    "Tide Runners: Return, The (2003)",
    "Tide Runners, The (2003)",
    "Mirror (1995)",
    "Mirror (1995)",               # MovieLens lists a few films twice, under one title
    "Señor Smith's Daughter (1970)",
    "X-Ray Eyes (1984)",
]


@pytest.mark.parametrize("query, title", [
    ("cafe noir", "Café Noir (Kaffee Schwarz, Der) (1999)"),           # accents folded
    ("CAFÉ NOIR", "Café Noir (Kaffee Schwarz, Der) (1999)"),
    ("senor smiths daughter", "Señor Smith's Daughter (1970)"),          # ... and apostrophes dropped
    ("der kaffee schwarz", "Café Noir (Kaffee Schwarz, Der) (1999)"),    # the original title, its article in front
    ("kaffee schwarz", "Café Noir (Kaffee Schwarz, Der) (1999)"),
    ("midnight express line", "Night Train (a.k.a. Midnight Express Line) (1987)"),   # a.k.a.
    ("orchard kings", "Orchard Kings (1990)"),         # the exact name, more rated than its sequel
    ("orchard kings 2", "Orchard Kings 2 (1993)"),
    ("heist 1978", "Heist, The (1978)"),                # a year picks the film
    ("the heist (1978)", "Heist, The (1978)"),
    ("heist 2001", "Heist: The First Job, The (2001)"),
    ("crown 2010", "Crown (2010)"),
    ("last job", "Heist: The Last Job, The (2003)"),   # whole words inside the name
    ("heist last", "Heist: The Last Job, The (2003)"),  # every word of it in the name
    ("mirror", "Mirror (1995)"),                        # one title listed twice is one film
    ("xray eyes", "X-Ray Eyes (1984)"),
    ("x ray eyes", "X-Ray Eyes (1984)"),
])
def test_synthetic_titles_are_found_as_typed(query, title):
    assert pick(query, SYNTHETIC) == title


@pytest.mark.parametrize("query, films", [
    # The exact name is the 1978 film, but a longer title that begins with it is rated more:
    # the name more likely means the series, so every film is offered, most rated first.
    ("heist", ["Heist: The First Job, The (2001)", "Heist: The Last Job, The (2003)", "Heist, The (1978)"]),
    ("crown", ["Crown (1962)", "Crown (2010)"]),                  # two films of one name
    ("tide runners 2003", ["Tide Runners: Return, The (2003)", "Tide Runners, The (2003)"]),
])
def test_a_name_several_films_share_is_answered_with_the_choices(query, films):
    assert choices(query, SYNTHETIC) == films


def test_the_choices_are_a_sentence_with_titles_years_and_how_to_pick():
    with pytest.raises(AmbiguousTitle) as asked:
        find_title("crown", SYNTHETIC)
    assert str(asked.value) == ('"crown" matches 2 movies: "Crown (1962)" or "Crown (2010)"; say which: add its '
                                'year ("crown 1962") or copy its title as listed')
    with pytest.raises(AmbiguousTitle) as asked:   # one year for both: the year cannot pick
        find_title("tide runners 2003", SYNTHETIC)
    assert str(asked.value).endswith("say which: give more of its title, or copy it as listed")
    # Copying a listed title picks it, even when the choice was between identical names.
    assert pick("Tide Runners: Return, The (2003)", SYNTHETIC) == "Tide Runners: Return, The (2003)"


def test_a_long_list_of_choices_names_the_most_rated_and_counts_the_rest():
    titles = [f"Night {n} (19{n + 10})" for n in range(12)]
    with pytest.raises(AmbiguousTitle) as asked:
        find_title("night", titles)
    assert len(asked.value.rows) == 12
    assert '"Night 7 (1917)" and 4 more (the most rated are listed)' in str(asked.value)
    assert "Night 8 (1918)" not in str(asked.value)


def test_an_unknown_year_suggests_the_film_of_that_name():
    with pytest.raises(UnknownTitle) as unknown:
        find_title("orchard kings 1991", SYNTHETIC)
    assert not isinstance(unknown.value, AmbiguousTitle)
    assert str(unknown.value).startswith('no movie called "orchard kings" from 1991 in the model\'s catalogue; '
                                         'did you mean "Orchard Kings (1990)"')


def test_a_year_that_is_part_of_the_name_stays_in_it():
    titles = ["Runner (1982)", "Runner 2049 (2017)", "Death Race 2000 (1975)"]
    assert pick("runner 2049", titles) == "Runner 2049 (2017)"
    assert pick("death race 2000", titles) == "Death Race 2000 (1975)"
    assert pick("runner 1982", titles) == "Runner (1982)"


def test_a_genre_typed_as_a_title_is_pointed_to_loves():
    for query, genre in (("Horror", "Horror"), ("sci fi", "Sci-Fi"), ("comedy movies", "Comedy")):
        with pytest.raises(UnknownTitle) as unknown:
            find_title(query, SYNTHETIC, GENRES, recommend.GENRE_ADVICE)
        assert str(unknown.value) == (f'"{query}" is a genre, not a movie title: genres go in LOVES= (or HATES=), '
                                      f'for example LOVES={genre}')
    # A film of that very name is offered with its year, which is how to ask for the film.
    with pytest.raises(UnknownTitle, match='add the year: "drama 1999"'):
        find_title("drama", ["Drama (1999)", *SYNTHETIC], GENRES)
    assert pick("drama 1999", ["Drama (1999)", *SYNTHETIC]) == "Drama (1999)"


def test_accents_fold_both_ways():
    assert fold("Amélie Léon Señor Ærø Straße Alien³") == "amelie leon senor aero strasse alien3"
    assert title_names("Amelie (2001)")[0] == title_names("Amélie (2001)")[0]


# ------------------------------------------------------------------ ml-latest-small's catalogue

@pytest.fixture(scope="module")
def catalogue() -> list[str]:
    """The titles of the catalogue `make demo` saves for ml-latest-small: lesson 1's top
    movies (more than 10 ratings), most rated first."""
    from course.config import CONFIGS
    from course.paths import data_dir
    from solutions import lesson01_cleaning as l1
    from solutions.pipeline import read_movielens

    folder = data_dir() / "ml-latest-small"
    if not (folder / "ratings.csv").exists():
        pytest.skip("ml-latest-small is not installed (make data)")
    ratings, movies = read_movielens(folder)
    counts = l1.count_ratings_per_movie(l1.clean_ratings(ratings))
    top = l1.select_top_movies(counts, CONFIGS["ml-latest-small"].data.min_ratings_per_movie)
    title_by_id = dict(zip(movies["movieId"], movies["title"]))
    return [title_by_id[m] for m in top]


@pytest.mark.parametrize("query, title", [
    ("amelie", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
    ("Amélie", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
    ("le fabuleux destin d'amelie poulain", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
    ("leon", "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)"),
    ("Léon", "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)"),
    ("leon the professional", "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)"),
    ("Cidade de Deus", "City of God (Cidade de Deus) (2002)"),
    ("city of god", "City of God (Cidade de Deus) (2002)"),
    ("Se7en", "Seven (a.k.a. Se7en) (1995)"),
    ("seven", "Seven (a.k.a. Se7en) (1995)"),
    ("alien 3", "Alien³ (a.k.a. Alien 3) (1992)"),
    ("ladri di biciclette", "Bicycle Thieves (a.k.a. The Bicycle Thief) (a.k.a. The Bicycle Thieves) "
                            "(Ladri di biciclette) (1948)"),
    ("matrix", "Matrix, The (1999)"),
    ("matrix 1999", "Matrix, The (1999)"),
    ("toy story", "Toy Story (1995)"),
    ("godfather", "Godfather, The (1972)"),
    ("lord of the rings 1978", "Lord of the Rings, The (1978)"),
    ("lord of the rings 2001", "Lord of the Rings: The Fellowship of the Ring, The (2001)"),
    ("return of the king", "Lord of the Rings: The Return of the King, The (2003)"),
    ("star wars new hope", "Star Wars: Episode IV - A New Hope (1977)"),
    ("harry potter stone", "Harry Potter and the Sorcerer's Stone (a.k.a. Harry Potter and the Philosopher's Stone) "
                           "(2001)"),
    ("king kong 1933", "King Kong (1933)"),
    ("shawshank", "Shawshank Redemption, The (1994)"),
    ("schindlers list", "Schindler's List (1993)"),
    ("spiderman", "Spider-Man (2002)"),
    ("et", "E.T. the Extra-Terrestrial (1982)"),
    ("walle", "WALL·E (2008)"),
    ("wall-e", "WALL·E (2008)"),
])
def test_movielens_titles_are_found_as_people_type_them(catalogue, query, title):
    assert pick(query, catalogue) == title


def test_matrix_2003_is_reloaded_or_revolutions(catalogue):
    assert choices("matrix 2003", catalogue) == ["Matrix Reloaded, The (2003)", "Matrix Revolutions, The (2003)"]


def test_lord_of_the_rings_offers_the_trilogy_and_the_cartoon(catalogue):
    assert choices("lord of the rings", catalogue) == [
        "Lord of the Rings: The Fellowship of the Ring, The (2001)",
        "Lord of the Rings: The Two Towers, The (2002)",
        "Lord of the Rings: The Return of the King, The (2003)",
        "Lord of the Rings, The (1978)"]
    with pytest.raises(AmbiguousTitle, match=r'say which: add its year \("lord of the rings 2001"\)'):
        find_title("lord of the rings", catalogue)


@pytest.mark.parametrize("query, some", [
    ("king kong", {"King Kong (1933)", "King Kong (1976)", "King Kong (2005)"}),
    ("kill bill", {"Kill Bill: Vol. 1 (2003)", "Kill Bill: Vol. 2 (2004)"}),
    ("star wars", {"Star Wars: Episode IV - A New Hope (1977)",
                   "Star Wars: Episode V - The Empire Strikes Back (1980)"}),
    ("the professional", {"Léon: The Professional (a.k.a. The Professional) (Léon) (1994)",
                          "Professional, The (Le professionnel) (1981)"}),
])
def test_movielens_names_several_films_share_are_asked_about(catalogue, query, some):
    assert some <= set(choices(query, catalogue))


def test_horror_in_likes_is_a_genre(catalogue):
    with pytest.raises(UnknownTitle, match="LOVES=Horror"):
        find_title("Horror", catalogue, GENRES, recommend.GENRE_ADVICE)
