"""Figures that cannot drift: every number a lesson text quotes about ml-latest-small, the
synthetic data, the settings, the model or a run on them is recomputed here.

- ``FIGURES``: (lesson text, quoted text, a function that writes the same text from the
  code and the data). The quote must be in the lesson (line breaks count as spaces) and
  equal what the function writes. Change a setting or the data and the test names the
  sentence to update.
- Sample `make check` transcripts in the lessons: each line's task, points and title are a
  real check's, its detail in brackets is what that check reports on the reference
  (except "approx, ..." details, which show a learner's rounding), and each "Score: X/Y"
  has the lesson's real total Y.

Figures about ML-32M, which the tests cannot have, are marked in the text as published
(GroupLens' counts) or computed from them. Figures about ml-latest-small need it installed
(`make data`); without it those cases are skipped, the rest still run.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from functools import cached_property

import pytest
import torch

from checks import framework
from recommender.models import measure_baselines
from course import index
from course.config import CONFIGS
from course.paths import LESSONS_DIR, data_dir
from solutions.lesson05_weights import predict
from solutions.lesson06_training import evaluate
from solutions.pipeline import new_parameters, prepare_stages, read_movielens, to_prepared, train_model

SMALL, BIG, FIXTURE = CONFIGS["ml-latest-small"], CONFIGS["ml-32m"], CONFIGS["fixture"]


def thousands(value: float, step: int) -> str:
    """12,775 -> '12,800' for step 100: the 'about' figures of the texts."""
    return f"{int(round(value / step) * step):,}"


@contextmanager
def one_thread():
    """Sums in the same order on any machine (as in the notebooks), for this block only."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Facts:
    """Everything the quotes are computed from, each computed once and only when asked."""

    @cached_property
    def small(self):
        folder = data_dir() / "ml-latest-small"
        if not (folder / "ratings.csv").exists():
            pytest.skip("ml-latest-small is not installed (make data)")
        ratings, movies = read_movielens(folder)
        stages = prepare_stages(ratings, movies, SMALL.data)
        stages.movies_table = movies
        return stages

    @cached_property
    def data(self):
        return to_prepared(self.small)

    @cached_property
    def untrained(self):
        with one_thread():
            params = new_parameters(self.data, SMALL.model)
            train = self.data.train
            with torch.no_grad():
                predictions = predict(params, self.data.user_context[train.user_row],
                                      self.data.movie_genres[train.movie_row], train.movie_row)
            return {"mean": float(predictions.mean()), "std": float(predictions.std()),
                    "train_mse": evaluate(params, self.data, train), "target_var": float(train.target.var())}

    @cached_property
    def run(self):
        with one_thread():
            params, history = train_model(self.data, SMALL)
        return history

    @cached_property
    def fixture(self):
        from checks import fixtures
        return fixtures.prepared()


F = Facts()


def _lesson1_duplicate(f):
    movies = f.small.movies_table
    ids = sorted(movies.loc[movies.title == "War of the Worlds (2005)", "movieId"])
    return f'"War of the Worlds (2005)" is both movie {ids[0]} and movie {ids[1]}'


def _lesson2_context(f):
    from course.personas import PERSONAS

    ids = f.small.maps.id_by_title
    slots = f.data.context_index.movie_slot
    assert all(ids[title] in slots for p in PERSONAS for title in p.favourite_titles)
    return (f"{BIG.data.num_context_movies} for `ml-32m` (the post's value), {SMALL.data.num_context_movies} "
            f"for `ml-latest-small` (so that every favourite movie of the lesson 9 personas has a slot)")


def _lesson3_split(f):
    split = f.small.split
    kept, total = split.userId.nunique(), f.small.top_ratings.userId.nunique()
    assert kept == total, "the text says every user is kept"
    history = int(split.is_history.sum())
    return (f"keeps all {kept} users, with about {thousands(history, 1000)} history ratings and "
            f"{thousands(len(split) - history, 1000)} labels")


def _lesson4_shapes(f):
    d = f.data
    return (f"`[{d.user_context.shape[0]}, {d.user_context.shape[1]}]` context matrix, a "
            f"`[{d.movie_genres.shape[0]}, {d.movie_genres.shape[1]}]` genre matrix, and about "
            f"{thousands(len(d.train), 100)} training and {thousands(len(d.val), 100)} validation examples, "
            f"from {d.train.user_row.unique().numel()} and {d.val.user_row.unique().numel()} users")


def _lesson5_sizes(f):
    d, m = f.data, SMALL.model
    params = new_parameters(d, m)
    total = sum(p.numel() for p in params.as_list())
    user = params.user_W.numel() + params.user_b.numel()
    assert m.item_feature_dim == m.item_id_dim
    return (f"(C = {d.context_index.size} context slots, {len(d.genre_index)} genres, {len(d.top_movies):,} "
            f"movies, F = E = {m.item_feature_dim}, the post's sizes) it has {total:,} parameters, and "
            f"{params.item_embedding_table.numel():,} of them are the id table: the movies get a memory of "
            f"their own, the users get only the {user:,} weights and biases")


def _lesson5_untrained(f):
    u = f.untrained
    return (f"they average {u['mean']:.2f} with a standard deviation of {u['std']:.2f} on the training "
            f"examples, so the first training loss is {u['train_mse']:.3f}, worse than the "
            f"{u['target_var']:.2f} that predicting 0")


def _lesson6_run(f):
    h = f.run
    best = h.steps.index(h.best_step)
    assert h.stopped_early
    return (f"training loss of about {h.train_loss[0]:.2f} and a validation loss of about {h.val_loss[0]:.2f}. "
            f"The training loss keeps falling, to about {h.train_loss[-1]:.2f}. The validation loss is best, "
            f"about {h.val_loss[best]:.3f}, at step {h.best_step:,}, and then creeps up: the model has started "
            f"to memorise its {f.data.train.user_row.unique().numel()} training users, so early stopping ends "
            f"the run at step {h.steps[-1]:,} and puts the step-{h.best_step:,} parameters back.")


def _lesson6_baselines(f):
    b = measure_baselines(f.data)
    return (f"about {b.user_mean:.3f}, and predicting each movie's mean debiased rating about "
            f"{b.movie_mean:.3f}")


def _lesson6_gain(f):
    b, h = measure_baselines(f.data), f.run
    better, best = min(b.user_mean, b.movie_mean), min(h.val_loss)
    last = h.val_loss[-1]
    return (f"with it, it is about {round(100 * (better - best) / better)}% better. (The best step is chosen "
            f"on the same validation set, so {best:.3f} is slightly optimistic: the last evaluation, "
            f"{last:.3f}, is an honest upper bound.)")


def _lesson7_fixture(f):
    m = len(f.fixture.top_movies)
    assert 100 <= m < 1000, f"{m} movies is not 'a few hundred'"
    assert FIXTURE.model.item_feature_dim == FIXTURE.model.item_id_dim
    return f"`M` is a few hundred movies and `F = E = {FIXTURE.model.item_id_dim}`"


def _lesson7_small(f):
    m, d = len(f.data.top_movies), SMALL.model
    return (f"On `ml-latest-small`, `M = {m}` and `F = E = {d.item_id_dim}` (the post's sizes), so "
            f"`combined` is `[{m}, {d.user_dim}]`")


FIGURES = [
    ("lesson01_cleaning.md",
     "1000 for `ml-32m` (the post's value), 10 for `ml-latest-small`, and 5 for the small synthetic dataset",
     lambda f: f"{BIG.data.min_ratings_per_movie} for `ml-32m` (the post's value), "
               f"{SMALL.data.min_ratings_per_movie} for `ml-latest-small`, and "
               f"{FIXTURE.data.min_ratings_per_movie} for the small synthetic dataset"),
    ("lesson01_cleaning.md", '"War of the Worlds (2005)" is both movie 34048 and movie 64997', _lesson1_duplicate),
    ("lesson02_vocabularies.md", "250 for `ml-32m` (the post's value), 400 for `ml-latest-small` (so that every "
     "favourite movie of the lesson 9 personas has a slot)", _lesson2_context),
    ("lesson02_vocabularies.md", "and 40 for the checks' small synthetic dataset",
     lambda f: f"and {FIXTURE.data.num_context_movies} for the checks' small synthetic dataset"),
    ("lesson02_vocabularies.md", "should get 19 genres, from `'Action': 0` to `'Western': 18`",
     lambda f: (lambda g: f"should get {len(g)} genres, from `{list(g)[0]!r}: {g[list(g)[0]]}` to "
                          f"`{list(g)[-1]!r}: {g[list(g)[-1]]}`")(f.data.genre_index)),
    ("lesson02_vocabularies.md", "400 + 19 = 419 slots",
     lambda f: f"{SMALL.data.num_context_movies} + {len(f.data.genre_index)} = {f.data.context_index.size} slots"),
    ("lesson03_masking.md",
     "80 % of each user's ratings go to the watch history, and users with 5 ratings or fewer are skipped",
     lambda f: f"{SMALL.data.history_fraction:.0%}".replace("%", " %") + " of each user's ratings go to the "
               f"watch history, and users with {SMALL.data.min_ratings_per_user} ratings or fewer are skipped"),
    ("lesson03_masking.md", "keeps all 610 users, with about 63,000 history ratings and 16,000 labels",
     _lesson3_split),
    ("lesson04_debiasing.md", "users with 2 to 499 labels are kept, 80 % of users train",
     lambda f: f"users with {SMALL.data.min_labels} to {SMALL.data.max_labels - 1} labels are kept, "
               f"{SMALL.data.train_user_fraction:.0%}".replace("%", " %") + " of users train"),
    ("lesson04_debiasing.md", "`[610, 419]` context matrix, a `[2121, 19]` genre matrix, and about 12,800 "
     "training and 3,400 validation examples, from 488 and 122 users", _lesson4_shapes),
    ("lesson05_weights.md", "trained on the 610 users of `ml-latest-small`",
     lambda f: f"trained on the {len(f.data.user_ids)} users of `ml-latest-small`"),
    ("lesson05_weights.md", "The post uses F = E = 25",
     lambda f: f"The post uses F = E = {BIG.model.item_feature_dim}"),
    ("lesson05_weights.md", "25 for `ml-32m`, 25 for `ml-latest-small`, 6 for the checks' synthetic data",
     lambda f: f"{BIG.model.item_feature_dim} for `ml-32m`, {SMALL.model.item_feature_dim} for "
               f"`ml-latest-small`, {FIXTURE.model.item_feature_dim} for the checks' synthetic data"),
    ("lesson05_weights.md", "(C = 419 context slots, 19 genres, 2,121 movies, F = E = 25, the post's sizes) "
     "it has 75,175 parameters, and 53,025 of them are the id table: the movies get a memory of their own, "
     "the users get only the 21,000 weights and biases", _lesson5_sizes),
    ("lesson05_weights.md", "they average 0.16 with a standard deviation of 0.61 on the training examples, so "
     "the first training loss is 1.243, worse than the 0.85 that predicting 0", _lesson5_untrained),
    ("lesson06_training.md", "(0.1, then 0.01 from step 10,000, then 0.001 from step 30,000), full-set losses "
     "every 1,000 steps",
     lambda f: "(" + ", then ".join(f"{rate:g}" + (f" from step {step:,}" if step else "")
                                   for step, rate in BIG.train.lr_schedule)
               + f"), full-set losses every {BIG.train.eval_every:,} steps"),
    ("lesson06_training.md", "`ml-latest-small` has only about 12,800 training examples",
     lambda f: f"`ml-latest-small` has only about {thousands(len(f.data.train), 100)} training examples"),
    ("lesson06_training.md", "(batch 256, rate 0.2 then 0.05, weight decay 6e-3, an evaluation every 250 steps, "
     "patience 10)",
     lambda f: f"(batch {SMALL.train.batch_size}, rate "
               + " then ".join(f"{rate:g}" for _, rate in SMALL.train.lr_schedule)
               + f", weight decay {SMALL.train.weight_decay:.0e}".replace("e-03", "e-3")
               + f", an evaluation every {SMALL.train.eval_every} steps, patience {SMALL.train.patience})"),
    ("lesson06_training.md", "training loss of about 1.24 and a validation loss of about 1.16. The training loss "
     "keeps falling, to about 0.47. The validation loss is best, about 0.786, at step 1,000, and then creeps "
     "up: the model has started to memorise its 488 training users, so early stopping ends the run at step "
     "3,500 and puts the step-1,000 parameters back.", _lesson6_run),
    ("lesson06_training.md", "about 0.881, and predicting each movie's mean debiased rating about 0.871",
     _lesson6_baselines),
    ("lesson06_training.md", "with it, it is about 10% better. (The best step is chosen on the same validation "
     "set, so 0.786 is slightly optimistic: the last evaluation, 0.795, is an honest upper bound.)",
     _lesson6_gain),
    ("lesson07_embeddings.md", "`M` is a few hundred movies and `F = E = 6`", _lesson7_fixture),
    ("lesson07_embeddings.md", "On `ml-latest-small`, `M = 2121` and `F = E = 25` (the post's sizes), so "
     "`combined` is `[2121, 50]`", _lesson7_small),
    ("lesson08_similarity.md", "vectors of 50 numbers (`F + E` on `ml-latest-small`)",
     lambda f: f"vectors of {SMALL.model.user_dim} numbers (`F + E` on `ml-latest-small`)"),
    ("lesson08_similarity.md", "For the 2,121 movies of `ml-latest-small`, that is 4.5 million pairs",
     lambda f: f"For the {len(f.data.top_movies):,} movies of `ml-latest-small`, that is "
               f"{len(f.data.top_movies) ** 2 / 1e6:.1f} million pairs"),
    ("lesson08_similarity.md", "The same 2,121 movies",
     lambda f: f"The same {len(f.data.top_movies):,} movies"),
    ("lesson09_personas.md", "keeps the post's 2.0 for `ml-32m` and the checks, and sets `persona_strength` "
     "to 4.0 for `ml-latest-small`",
     lambda f: f"keeps the post's {BIG.data.persona_strength:.1f} for `ml-32m` and the checks, and sets "
               f"`persona_strength` to {SMALL.data.persona_strength:.1f} for `ml-latest-small`"
               if FIXTURE.data.persona_strength == BIG.data.persona_strength else "(the checks differ)"),
]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("name, quote, compute", FIGURES,
                         ids=[f"{name.split('_')[0]}-{i}" for i, (name, _, _) in enumerate(FIGURES)])
def test_quoted_figure_is_what_the_code_computes(name, quote, compute):
    text = _flat((LESSONS_DIR / name).read_text())
    assert quote in text, f"{name} no longer says: {quote!r} (update FIGURES with the text)"
    assert compute(F) == quote, f"{name} quotes a figure the code no longer gives; it should say:\n{compute(F)}"


# ---------------------------------------------------------------- sample transcripts

TRANSCRIPT_LINE = re.compile(r"^\s+(ok|FAIL|TODO|ERR|TIME|MISS|REF)\s+(\d+\.\d+)\s+(\d+)/(\d+)\s+(.*?)(?:\s{2}\((.*)\))?$")


def transcript_lines():
    for lesson in index.lessons():
        if not lesson.text_path.exists():
            continue
        for line in lesson.text_path.read_text().splitlines():
            match = TRANSCRIPT_LINE.match(line)
            if match:
                yield pytest.param(lesson.number, *match.groups(), id=f"lesson{lesson.number}-{match.group(2)}-"
                                   f"{match.group(5)[:30]}")


@pytest.mark.parametrize("number, status, task, earned, points, title, detail", list(transcript_lines()))
def test_sample_transcript_lines_are_real_checks(number, status, task, earned, points, title, detail):
    checks = [c for c in framework.checks_for(number) if c.task == task and c.title == title]
    assert checks, f"lesson {number}'s sample output shows a check {task} {title!r} that does not exist"
    assert int(points) == checks[0].points
    assert int(earned) == (checks[0].points if status == "ok" else 0)
    if status == "ok" and detail and not detail.startswith("approx"):
        lesson = index.lesson(number)
        module, error = framework.load_file(lesson.solution_path, f"figures_{lesson.module}")
        result = framework.run_lesson(number, module, lesson.solution_path, error, tasks=[task])
        details = {r.title: r.detail for r in result.results}
        assert details[title] == detail, f"the check reports ({details[title]}), the lesson text says ({detail})"


@pytest.mark.parametrize("lesson", index.lessons(), ids=lambda lesson: f"lesson{lesson.number}")
def test_sample_scores_have_the_lessons_total(lesson):
    total = sum(c.points for c in framework.checks_for(lesson.number))
    for earned, out_of in re.findall(r"Score: (\d+)/(\d+)", lesson.text_path.read_text()):
        assert int(out_of) == total and int(earned) <= total, f"lesson {lesson.number}: Score {earned}/{out_of}"



def test_lesson_9_worked_example_and_the_fewer_than_n_rule():
    from solutions.lesson09_personas import recommend

    text = _flat(index.lesson(9).text_path.read_text())
    assert "`[0.5, 2.0, 1.0, 2.0, -1.0, 3.0]` with `exclude_rows=[5]` and `n=3` give `[1, 3, 2]`" in text
    assert recommend(torch.tensor([0.5, 2.0, 1.0, 2.0, -1.0, 3.0]), [5], 3) == [1, 3, 2]
    # "-inf and a stable sort" alone returns excluded rows when fewer than n are left:
    # neither the text nor a hint may call it the whole job.
    scores = torch.tensor([1.0, 2.0, 3.0])
    masked = scores.clone()
    masked[[1, 2]] = float("-inf")
    naive = [int(i) for i in torch.sort(-masked, stable=True).indices[:3]]
    assert naive != recommend(scores, [1, 2], 3) == [0]
    hints = " ".join(hint for task in index.lesson(9).tasks for hint in task.hints)
    for where in (text, hints):
        assert "does both jobs" not in where
    assert "fewer than n" in hints and "fewer than `n` movies are left" in text
