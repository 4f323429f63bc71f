"""`make recommend` and `make similar` answer from the model `make demo` saved, and say
plainly what is wrong: an unknown title (with suggestions), a title several films share
(with the choices), a genre among the titles (pointed to LOVES=), an unknown genre (with the
valid ones), a genre both loved and hated, no saved model (with the command that makes one),
and through make they say it without make's crash line. The model here is trained by the
demo on the synthetic fixture data; tests/test_titles.py holds the title matching to
MovieLens' own titles."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from commands import demo, recommend, saved_model, similar
from course.containers import Params
from course.paths import REPO


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    with contextlib.redirect_stdout(io.StringIO()):
        assert demo.main(["--synthetic", "fixture", "--out", str(out), "--no-progress", "--device", "cpu",
                          "--code", "reference"]) == 0
    return out / "models"


def run(main, argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def test_the_saved_model_is_plain_json_and_tensors(models):
    folder = models / "two-tower-mse"
    meta = json.loads((folder / "model.json").read_text())
    assert meta["format"] == saved_model.FORMAT and meta["kind"] == "two-tower-mse"
    tensors = torch.load(folder / "tensors.pt", weights_only=True)
    assert set(tensors) == {*Params.NAMES, "item_vectors"}
    assert meta["code"]["mode"] == "reference" and meta["code"]["path"] == "fast"
    assert list(tensors["item_vectors"].shape) == [len(meta["movies"]["id"]), tensors["user_b"].shape[0]]


def test_recommend_answers_in_the_hello_form(models):
    status, text, err = run(recommend.main, ["--likes", "first ghost; ENIGMA", "--loves", "horror",
                                             "--hates", "Drama", "--name", "Ada", "--models", str(models)])
    assert status == 0, err
    assert text.startswith("Hello, Ada\nBecause you like: [Horror]\nAnd hate: [Drama]")
    assert "First Ghost (1991)\nEnigma (1974)" in text
    listed = text.split("You should watch:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(listed) == 10 and listed[0].startswith("1. ") and listed[9].startswith("10. ")
    assert not any("First Ghost" in line or "Enigma" in line for line in listed)
    # make demo CODE=reference saves lesson 13's model too, and it answers, saying why.
    assert "Model: the autoencoder two-tower of lesson 13" in text
    assert "which answers a newcomer's few titles with the films they lift" in text
    assert "answered by lessons 9, 13 the reference's" in text


def test_lesson_13s_model_is_saved_as_its_four_tensors(models):
    folder = models / "autoencoder-two-tower"
    meta = json.loads((folder / "model.json").read_text())
    assert meta["kind"] == "autoencoder-two-tower" and meta["code"]["summary"] == "lessons 1-4, 12-13 the reference's"
    assert meta["code"]["path"] == "textbook" and meta["autoencoder"] == {"normalise": True, "nonlinear": True,
                                                                          "seed": 0}
    tensors = torch.load(folder / "tensors.pt", weights_only=True)
    assert set(tensors) == {"W", "b", "V", "c"}
    assert tensors["W"].shape == tensors["V"].shape and tensors["W"].shape[0] == len(meta["movies"]["id"])


def test_a_learner_without_lesson_13_gets_the_better_of_the_others(models):
    # Lesson 13's model trained by the reference in place of a learner's stub never answers.
    loaded = saved_model.available(models)
    stubbed = [saved_model.SavedModel(m.folder, {**m.meta, "code": {**m.code, "mode": "auto",
                                                                     "whose": {**m.code["whose"], "13": "reference"}}},
                                      m.tensors) if m.kind == "autoencoder-two-tower" else m for m in loaded]
    chosen, why = saved_model.choose(stubbed)
    assert chosen.kind == "softmax-two-tower" and "the better of the saved models by NDCG@10" in why
    assert "Lesson 13's model is saved too, trained by the reference's lesson 13 in place of your stub" in why
    written = [saved_model.SavedModel(m.folder, {**m.meta, "code": {**m.code, "mode": "auto",
                                                                     "whose": {**m.code["whose"], "13": "yours"}}},
                                      m.tensors) if m.kind == "autoencoder-two-tower" else m for m in loaded]
    assert saved_model.choose(written)[0].kind == "autoencoder-two-tower"


def test_recommend_suggests_titles_and_lists_genres(models):
    status, text, err = run(recommend.main, ["--likes", "wild dor", "--hates", "Dramma", "--models", str(models)])
    assert status == 2 and not text
    assert 'No movie called "wild dor"' in err and 'did you mean "Wild Door (2004)"' in err
    assert '"Dramma" is not a genre of this model; the genres are: ' in err and "Drama, Fantasy" in err


def test_without_a_saved_model_it_says_which_command_makes_one(tmp_path):
    for main, argv in ((recommend.main, ["--loves", "Comedy"]), (similar.main, ["--title", "matrix"])):
        status, text, err = run(main, [*argv, "--models", str(tmp_path)])
        assert status == 2
        assert "There is no saved model yet" in err and "`make demo` trains one" in err


def test_similar_lists_the_nearest_movies(models):
    status, text, err = run(similar.main, ["--title", "enigma", "-k", "4", "--models", str(models)])
    assert status == 0, err
    assert text.startswith("Movies most like Enigma (1974):\n1. ")
    assert "\n4. " in text and "\n5. " not in text
    status, _, err = run(similar.main, ["--title", "enigmaa", "--models", str(models)])
    assert status == 2 and 'did you mean "Enigma (1974)"' in err


@pytest.mark.parametrize("query, title", [
    ("matrix", "Matrix, The (1999)"),
    ("The Matrix", "Matrix, The (1999)"),
    ("the matrix (1999)", "Matrix, The (1999)"),
    ("toy story", "Toy Story (1995)"),
    ("TOY STORY 2", "Toy Story 2 (1999)"),
    ("a beautiful mind", "Beautiful Mind, A (2001)"),
    ("dumb and dumber", "Dumb & Dumber (Dumb and Dumber) (1994)"),
    ("hamlet 2000", "Hamlet (2000)"),
])
def test_titles_are_matched_forgivingly(query, title):
    titles = ["Toy Story (1995)", "Matrix, The (1999)", "Toy Story 2 (1999)", "Beautiful Mind, A (2001)",
              "Dumb & Dumber (Dumb and Dumber) (1994)", "Hamlet (1990)", "Hamlet (2000)"]
    assert titles[saved_model.find_title(query, titles)] == title


def test_a_same_name_without_year_asks_which():
    # Two films of one name are two different films: picking the most rated silently would
    # answer for a film the user may not mean, so the choices are listed, with how to pick.
    with pytest.raises(saved_model.AmbiguousTitle, match='"hamlet" matches 2 movies: "Hamlet [(]1990[)]" or '
                                                         '"Hamlet [(]2000[)]"; say which: add its year'):
        saved_model.find_title("hamlet", ["Hamlet (1990)", "Hamlet (2000)"])
    assert saved_model.find_title("hamlet 2000", ["Hamlet (1990)", "Hamlet (2000)"]) == 1


def test_a_genre_among_the_titles_is_pointed_to_loves(models):
    status, text, err = run(recommend.main, ["--likes", "first ghost; Horror", "--models", str(models)])
    assert status == 2 and not text
    assert err == ('"Horror" is a genre, not a movie title: genres go in LOVES= (or HATES=), '
                   "for example LOVES=Horror\n")
    status, _, err = run(similar.main, ["--title", "horror", "--models", str(models)])
    assert status == 2 and '"horror" is a genre, not a movie title' in err and "make recommend LOVES=Horror" in err


def test_a_genre_both_loved_and_hated_is_refused(models):
    status, text, err = run(recommend.main, ["--loves", "Horror, Comedy", "--hates", "horror", "--models", str(models)])
    assert status == 2 and not text
    assert err == ("Horror is in both LOVES and HATES: a genre can be loved or hated, not both, "
                   "so take it out of one\n")


def test_a_name_several_films_share_is_asked_about(models):
    # In the fixture's catalogue "Stranger (2003)" is the exact name, but "Stranger: Electric
    # Letter (1995)" is rated more; "stolen" begins several titles.
    titles = saved_model.load(models / "two-tower-mse").titles
    assert titles.index("Stranger: Electric Letter (1995)") < titles.index("Stranger (2003)")
    status, text, err = run(recommend.main, ["--likes", "stranger; first ghost", "--models", str(models)])
    assert status == 2 and not text
    assert err.startswith('"stranger" matches 2 movies: "Stranger: Electric Letter (1995)" or "Stranger (2003)"; '
                          'say which: add its year ("stranger 1995") or copy its title as listed')
    status, text, err = run(recommend.main, ["--likes", "stranger 2003; first ghost", "--models", str(models)])
    assert status == 0 and "Stranger (2003)\nFirst Ghost (1991)" in text, err
    status, _, err = run(similar.main, ["--title", "stolen", "--models", str(models)])
    stolen = [t for t in titles if t.startswith("Stolen ")]
    assert status == 2 and err.startswith(f'"stolen" matches {len(stolen)} movies: "{stolen[0]}", ')


def test_titles_separated_by_commas_are_read_as_several(models):
    status, text, err = run(recommend.main, ["--likes", "first ghost, enigma", "--models", str(models)])
    assert status == 0, err
    assert "First Ghost (1991)\nEnigma (1974)" in text
    status, _, err = run(recommend.main, ["--likes", "first ghost, enigmaa", "--models", str(models)])
    assert status == 2 and err.endswith('(favourite titles are separated by ";")\n')


# ------------------------------------------------------------------ through make, as a user runs it

MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(not MAKE, reason="needs make")


def make(target: str, *assignments: str) -> subprocess.CompletedProcess:
    """``make <target> ...`` in the repository, with this interpreter standing in for .venv's
    (``-o .venv/.installed``: the environment is taken as it is)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run([MAKE, "-C", str(REPO), "-o", ".venv/.installed", target, f"PY={sys.executable}",
                           *assignments], capture_output=True, text=True, env=env, timeout=300)


@needs_make
@pytest.mark.parametrize("target, assignments, said", [
    ("recommend", ["LIKES=wild dor"], 'did you mean "Wild Door (2004)"'),
    ("recommend", ["LIKES=stranger"], '"stranger" matches 2 movies'),
    ("recommend", ["LIKES=Horror"], "genres go in LOVES="),
    ("recommend", ["LOVES=Dramma"], '"Dramma" is not a genre of this model'),
    ("recommend", ["LOVES=Horror", "HATES=Horror"], "Horror is in both LOVES and HATES"),
    ("similar", ["TITLE=stolen"], '"stolen" matches '),
])
def test_make_refuses_without_its_crash_line(models, target, assignments, said):
    done = make(target, *assignments, f"MODELS={models}")
    assert said in done.stderr and not done.stdout.strip().startswith("Hello")
    assert "make: ***" not in done.stdout + done.stderr
    assert done.returncode == 0   # refused and said why, which is not a failure of make


@needs_make
def test_make_without_a_saved_model_says_which_command_makes_one(tmp_path):
    done = make("similar", "TITLE=matrix", f"MODELS={tmp_path}")
    assert "There is no saved model yet" in done.stderr and "make: ***" not in done.stdout + done.stderr


@needs_make
def test_make_answers_through_the_same_recipe(models):
    done = make("recommend", "LIKES=first ghost; enigma", "LOVES=horror", "NAME=Ada", f"MODELS={models}")
    assert done.returncode == 0, done.stderr
    assert "Hello, Ada\nBecause you like: [Horror]" in done.stdout


def test_the_commands_themselves_still_fail_a_refused_request(models):
    """A script calling ``python -m commands.recommend`` directly gets status 2 for a refusal."""
    for module, argv in (("commands.recommend", ["--likes", "stranger"]), ("commands.similar", ["--title", "stolen"])):
        done = subprocess.run([sys.executable, "-m", module, *argv, "--models", str(models)], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and "matches" in done.stderr and not done.stdout


def test_a_damaged_model_is_refused_with_the_fix(models, tmp_path):
    folder = tmp_path / "two-tower-mse"
    folder.mkdir()
    (folder / "model.json").write_text((models / "two-tower-mse" / "model.json").read_text())
    (folder / "tensors.pt").write_bytes(b"not a tensor file")
    with pytest.raises(saved_model.ModelError, match="make demo"):
        saved_model.available(tmp_path)


def test_the_better_of_lesson_5s_models_is_chosen_and_named(models):
    base = saved_model.load(models / "two-tower-mse")
    worse = saved_model.SavedModel(base.folder, {**base.meta, "metrics": {"ndcg@10": 0.05}}, base.tensors)
    better = saved_model.SavedModel(base.folder, {**base.meta, "metrics": {"ndcg@10": 0.21}}, base.tensors)
    chosen, why = saved_model.choose([worse, better])
    assert chosen is better and "NDCG@10" in why and "0.210" in why


# ------------------------------------------------------------------ lesson 13's model on ml-latest-small

@pytest.fixture(scope="module")
def small_autoencoder(tmp_path_factory):
    """Lesson 13's model as make demo CODE=reference trains and saves it on ml-latest-small:
    the random split's training users, seed 0, saved by the demo's own function."""
    from course.config import CONFIGS
    from course.paths import data_dir
    from recommender import code as learner_code
    from recommender import models as course_models
    from recommender import ranking
    from solutions import evaluation as ev
    from solutions.pipeline import prepare_stages, read_movielens, to_prepared

    folder = data_dir() / "ml-latest-small"
    if not (folder / "ratings.csv").exists():
        pytest.skip("ml-latest-small is not installed (make data)")
    cfg = CONFIGS["ml-latest-small"]
    code = learner_code.select("reference", lessons=demo.DEMO_LESSONS)
    ratings, movies = read_movielens(folder)
    s = prepare_stages(ratings, movies, ranking.ranking_data_config(cfg), code, split_kind="random")
    task = ev.ranking_task(s, s.train_users, s.val_users, cfg.ranking)
    trained = course_models.train_autoencoder(s, task, cfg, code)
    out = tmp_path_factory.mktemp("small-autoencoder")
    demo.save_autoencoder(out / "autoencoder-two-tower", trained, to_prepared(s), code, cfg.retrieval.persona_strength,
                          {"command": "make demo", "config": "ml-latest-small", "source": "ml-latest-small"})
    return out


@pytest.mark.parametrize("title, wanted", [
    ("Lord of the Rings: The Return of the King, The (2003)", ("Fellowship of the Ring", "Two Towers")),
    ("kill bill vol 1", ("Kill Bill: Vol. 2",)),
    ("american pie", ("American Pie 2", "American Wedding")),
    ("toy story", ("Toy Story 2", "Toy Story 3")),
    ("harry potter and the sorcerer's stone", ("Harry Potter and the Chamber of Secrets",)),
])
def test_similar_puts_sequels_with_their_originals(small_autoencoder, title, wanted):
    status, text, err = run(similar.main, ["--title", title, "-k", "5", "--models", str(small_autoencoder)])
    assert status == 0, err
    nearest = text.split("\n\n", 1)[0].splitlines()[1:]
    assert len(nearest) == 5 and any(w in line for line in nearest for w in wanted), (title, nearest)
    assert "answered by lesson 13 the reference's" in text


@pytest.mark.parametrize("likes, genres", [
    ("spirited away", {"Animation", "Children"}),
    ("toy story", {"Animation", "Children"}),
    ("toy story; finding nemo", {"Animation", "Children"}),
    ("godfather; goodfellas; pulp fiction; departed; heat", {"Crime"}),
    ("alien", {"Horror", "Sci-Fi"}),
    ("notebook; titanic 1997", {"Romance"}),
])
def test_a_newcomers_few_titles_bring_films_of_that_taste(small_autoencoder, likes, genres):
    """One to five titles and no genre named: at least half of the top 10 is of their taste (the
    personas' threshold, tests/test_demo.py's PERSONA_MIN_LIKED)."""
    status, text, err = run(recommend.main, ["--likes", likes, "--models", str(small_autoencoder)])
    assert status == 0, err
    model = saved_model.load(small_autoencoder / "autoencoder-two-tower")
    genre_of = dict(zip(model.titles, model.movie_genres))
    listed = [line.split(". ", 1)[1] for line in text.split("You should watch:\n", 1)[1].split("\n\n", 1)[0].splitlines()]
    fit = sum(bool(set(genre_of[t]) & genres) for t in listed)
    assert len(listed) == 10 and fit >= 5, (likes, fit, listed)
