"""What the course tells its users about what runs is true of the code.

Each promise is a sentence quoted from the README, a lesson text, the walkthrough, docs/ or
a command's message, and a function that checks it against the code. Change the sentence
or the code alone and the test names the promise to update. (Figures quoted in lesson texts
are tied to the code by tests/test_lesson_figures.py, the measured ones by
tests/test_figures.py.)
"""
from __future__ import annotations

import re

import pytest

from commands import check, demo, saved_model
from course import index
from course.paths import REPO
from fast import mse_training
from recommender import code as learner_code
from recommender import models, ranking


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _every_lesson_runs_in_the_demo():
    numbers = tuple(lesson.number for lesson in index.lessons())
    assert demo.DEMO_LESSONS == tuple(range(1, 14)) == numbers


def _lesson_13_answers_once_written():
    # The autoencoder trains in the demo with lesson 13's functions (the learner's where
    # written), and make recommend answers with it only when its lesson 13 is the learner's
    # (or CODE=reference trained it); a learner's stub leaves the answer to lesson 12's model.
    assert 13 in models.AUTOENCODER_LESSONS and "train_autoencoder" in models.AUTOENCODER_CALLS[13]
    assert saved_model.lesson_13_answers({"mode": "reference", "whose": {"13": "reference"}})
    assert saved_model.lesson_13_answers({"mode": "auto", "whose": {"13": "yours"}})
    assert saved_model.lesson_13_answers({"mode": "auto", "whose": {"13": "partly yours"}})
    assert not saved_model.lesson_13_answers({"mode": "auto", "whose": {"13": "reference"}})
    assert saved_model.AUTOENCODER_ANSWERING_LESSONS == (9, 13)
    import inspect

    from commands import recommend, similar
    assert "code.l13" in inspect.getsource(recommend.answer) and "newcomers.scores" in inspect.getsource(
        recommend.answer)
    assert "code.l13.similar_movies" in inspect.getsource(similar.answer)


def _lessons_10_to_12_are_the_learners():
    # Lesson 10 ranks and scores every model (recommender.ranking calls code.l10 through
    # solutions.evaluation), lesson 11 splits (prepare_stages calls code.l11), lesson 12 trains.
    assert set(ranking.METRIC_FUNCTIONS) <= {t.function for t in index.lesson(10).tasks}
    assert 12 in models.RETRIEVAL_LESSONS and "train_retrieval" in models.RETRIEVAL_CALLS[12]
    import inspect

    from solutions import evaluation, pipeline
    assert "code.l11" in inspect.getsource(pipeline.prepare_stages)
    for function in (evaluation.evaluate_ranking, evaluation.evaluate_scores, evaluation.baseline_scorers,
                     evaluation.ease_scorer, evaluation.train_retrieval_model, evaluation.retrieval_scorer):
        assert "code" in inspect.signature(function).parameters, function.__name__


def _fast_path_only_where_every_function_is_the_references(tmp_path):
    from course.stubgen import make_stub

    for lesson in index.lessons():
        (tmp_path / lesson.stub_path.name).write_text(make_stub(lesson.solution_path.read_text(), lesson))
    stubs = learner_code.select("auto", tmp_path, lessons=demo.DEMO_LESSONS)
    assert models.mse_path(stubs).fast
    (tmp_path / "lesson05_weights.py").write_text(index.lesson(5).solution_path.read_text())
    written = learner_code.select("auto", tmp_path, lessons=demo.DEMO_LESSONS)
    assert not models.mse_path(written).fast
    assert set(mse_training.STANDS_FOR[5]) == {"user_tower", "item_tower", "predict"}
    assert list(mse_training.STANDS_FOR[6]) == ["learning_rate", "sample_minibatch", "batch_loss", "sgd_step",
                                                "evaluate", "train"]


def _recommend_answers_with_lessons_8_and_9():
    assert saved_model.ANSWERING_LESSONS == (8, 9)
    assert demo.RETRIEVAL_KIND in saved_model.KINDS


PROMISES = [
    ("README.md", "Every function of lessons 1 to 13 comes from your `lessons/` files where you have written it, "
                  "and from the reference (`solutions/`) only where a function is still the stub",
     _every_lesson_runs_in_the_demo),
    ("README.md", "Your lesson 10 ranks and scores every model in the table, your lesson 11 makes the time-ordered "
                  "split, your lesson 12 trains the retrieval model, and your lesson 13 trains the autoencoder",
     _lessons_10_to_12_are_the_learners),
    ("README.md", "your lesson 13 trains the autoencoder that recommends for the personas and that `make recommend` "
                  "and `make similar` answer with; until you have written lesson 13, your lesson 12's model answers "
                  "(the reference's lesson 13 still fills its row of the table, but never answers for you).",
     _lesson_13_answers_once_written),
    ("lessons/lesson13_autoencoder.md", "`make demo` trains it with your lesson 13 (seed 0) on both splits",
     _every_lesson_runs_in_the_demo),
    ("lessons/lesson13_autoencoder.md", "Until you have written lesson 13, the demo still fills its row with the "
                                        "reference's lesson 13, but `make recommend` answers with your lesson 12's "
                                        "model.", _lesson_13_answers_once_written),
    ("lessons/lesson12_retrieval.md", "and so does `make recommend`, until you have written lesson 13",
     _lesson_13_answers_once_written),
    ("docs/walkthrough.md", "your lesson 13's autoencoder once you have written lesson 13, your lesson 12's retrieval "
                            "model until then", _lesson_13_answers_once_written),
    ("README.md", "a faster path (`fast/`, proven equal to them by a test) that runs only where every function it "
                  "stands in for is the reference's.", _fast_path_only_where_every_function_is_the_references),
    ("lessons/lesson06_training.md", "`make demo` trains with your `train` (or the reference's, calling yours) as soon "
                                     "as you have written any of lesson 5's `user_tower`, `item_tower` and `predict` "
                                     "or this lesson's functions from `learning_rate` to `train`, and takes the fast "
                                     "path only where all of them are the reference's",
     _fast_path_only_where_every_function_is_the_references),
    ("lessons/lesson09_personas.md", "so `make recommend LIKES=\"toy story; finding nemo\" LOVES=Animation "
                                     "HATES=Horror` answers for anyone, you included, in a few seconds, with your "
                                     "lesson 9 functions", _recommend_answers_with_lessons_8_and_9),
    ("lessons/lesson12_retrieval.md", "`make demo` trains this model with your lesson 12 on both splits (your lesson "
                                      "11 makes the time-ordered one) and prints your lesson 10's table with it",
     _lessons_10_to_12_are_the_learners),
    ("docs/walkthrough.md", "your lesson 10 ranks and scores every model, your lesson 11 makes the time-ordered split, "
                            "your lesson 12 trains the retrieval model", _lessons_10_to_12_are_the_learners),
    ("docs/walkthrough.md", "(they answer with your lessons 8-9 for a model your code trained, and with your lessons "
                            "9 and 13 for the autoencoder)", _recommend_answers_with_lessons_8_and_9),
    ("docs/architecture.md", "`recommender/paths.py` runs a fast path only where every function it stands in for is "
                             "the reference's", _fast_path_only_where_every_function_is_the_references),
    ("commands/check.py", "Run `make demo` to train it on MovieLens with your own lessons 1-13",
     _every_lesson_runs_in_the_demo),
    ("commands/check.py", "saves the autoencoder your lesson 13 trained for `make recommend`",
     _lesson_13_answers_once_written),
]


@pytest.mark.parametrize("path, sentence, holds", PROMISES, ids=[f"{p}: {s[:40]}" for p, s, _ in PROMISES])
def test_promise(path, sentence, holds, tmp_path):
    text = normalise((REPO / path).read_text())
    # Python sources quote the sentence over several string literals: join them first.
    if path.endswith(".py"):
        text = normalise(re.sub(r'"\s*\n\s*"', "", (REPO / path).read_text()))
    assert normalise(sentence) in text, f"{path} no longer says: {sentence!r} (update this promise, or the text)"
    if "tmp_path" in holds.__code__.co_varnames[:holds.__code__.co_argcount]:
        holds(tmp_path)
    else:
        holds()

