"""`make demo` runs the learner's own code (commands/learner_code.py), on the synthetic
fixture data with a temporary lessons folder (seconds, no MovieLens needed):

- correct lessons in lessons/ -> the demo says they are the learner's and prints the
  reference's figures;
- lesson 7 left as the stub -> lesson 7 is the reference's, the rest the learner's;
- a wrong lesson 8 -> the similar-movie lists change;
- the learner's lesson 5 `predict` is what lesson 6 trains with, even though lesson 6's stub
  imports the reference's; an exception in it names the lesson, the function and the check;
- CODE=mine stops at the first function not written yet.
"""
from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest

from commands import demo, learner_code
from course import index
from course.stubgen import make_stub


def run_demo(tmp_path: Path, lessons: Path | None, code: str = "auto") -> tuple[int, str]:
    out = io.StringIO()
    argv = ["--synthetic", "fixture", "--out", str(tmp_path / "out"), "--no-progress", "--device", "cpu",
            "--code", code]
    if lessons is not None:
        argv += ["--lessons", str(lessons)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = demo.main(argv)
    return status, out.getvalue()


def solution_copies(folder: Path) -> Path:
    """A lessons folder holding a learner who wrote exactly the reference (under other names)."""
    folder.mkdir(parents=True, exist_ok=True)
    for lesson in index.lessons():
        shutil.copy(lesson.solution_path, folder / lesson.solution_path.name)
    return folder


def stub(folder: Path, number: int) -> None:
    lesson = index.lesson(number)
    (folder / f"{lesson.module}.py").write_text(make_stub(lesson.solution_path.read_text(), lesson))


def results(text: str) -> str:
    """What the demo computed, without the code header, file paths and timings."""
    body = text.split("== Data ==", 1)[1].split("== Figures ==", 1)[0]
    return body


def similar_lists(text: str) -> str:
    return text.split("== Most similar movies", 1)[1].split("== Recommendations", 1)[0]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    status, text = run_demo(tmp_path_factory.mktemp("reference"), None, code="reference")
    assert status == 0, text
    return text


def test_reference_mode_says_so(reference_run):
    assert "the reference solutions (solutions/) for every lesson (CODE=reference)" in reference_run


def test_correct_lessons_are_the_learners_and_reproduce_the_reference(tmp_path, reference_run):
    status, text = run_demo(tmp_path, solution_copies(tmp_path / "lessons"))
    assert status == 0, text
    assert "lessons 1-9 are yours" in text
    assert "reference's" not in text.split("== Data ==")[0]
    assert results(text) == results(reference_run)
    # The saved model says whose code trained it.
    meta = (tmp_path / "out" / "models" / "two-tower-mse" / "model.json").read_text()
    assert '"code": "lessons 1-9 yours"' in meta


def test_a_stub_lesson_is_the_reference(tmp_path, reference_run):
    folder = solution_copies(tmp_path / "lessons")
    stub(folder, 7)
    status, text = run_demo(tmp_path, folder)
    assert status == 0, text
    header = text.split("== Data ==")[0]
    assert "lessons 1-6, 8-9 are yours" in header
    assert "lesson 7 is the reference's" in header
    assert results(text) == results(reference_run)


def test_a_wrong_lesson_8_changes_the_similar_movies(tmp_path, reference_run):
    folder = solution_copies(tmp_path / "lessons")
    path = folder / "lesson08_similarity.py"
    source = path.read_text()
    # The farthest movies instead of the nearest: a realistic sign mistake.
    wrong = source.replace("order = torch.sort(distances, stable=True).indices[:k]",
                           "order = torch.sort(-distances, stable=True).indices[1:k + 1]")
    assert wrong != source
    path.write_text(wrong)
    status, text = run_demo(tmp_path, folder)
    assert status == 0, text
    assert "lessons 1-9 are yours" in text
    assert similar_lists(text) != similar_lists(reference_run)
    # Everything before lesson 8 is unchanged.
    assert text.split("== Most similar")[0].split("== Data ==")[1] == \
        reference_run.split("== Most similar")[0].split("== Data ==")[1]


def test_the_learners_predict_is_what_trains(tmp_path):
    # Lesson 6's file imports the reference's predict (as the stub does); lesson 5's own
    # predict fails, and the demo says so in words.
    folder = solution_copies(tmp_path / "lessons")
    path = folder / "lesson05_weights.py"
    source = path.read_text()
    broken = re.sub(r"(def predict\(.*?\"\"\".*?\"\"\"\n)", r'\1    raise RuntimeError("oops")\n', source,
                    count=1, flags=re.S)
    assert broken != source
    path.write_text(broken)
    assert re.search(r"from solutions\.lesson05_weights import .*\bpredict\b",
                     (folder / "lesson06_training.py").read_text())
    status, text = run_demo(tmp_path, folder)
    assert status == 1
    assert "The demo stopped in your code: lesson 5, function `predict`" in text
    assert "RuntimeError: oops" in text
    assert "make check LESSON=5" in text


def test_the_reference_loop_trains_the_learners_predict_too(tmp_path):
    # Lesson 6 left as the stub: the reference's training loop runs, and it calls the
    # learner's lesson 5 predict, not the reference's.
    folder = solution_copies(tmp_path / "lessons")
    stub(folder, 6)
    path = folder / "lesson05_weights.py"
    path.write_text(re.sub(r"(def predict\(.*?\"\"\".*?\"\"\"\n)", r'\1    raise RuntimeError("oops")\n',
                           path.read_text(), count=1, flags=re.S))
    status, text = run_demo(tmp_path, folder)
    assert status == 1
    assert "lesson 6 is the reference's" in text
    assert "The demo stopped in your code: lesson 5, function `predict`" in text


def test_code_mine_names_the_first_function_not_written(tmp_path):
    folder = solution_copies(tmp_path / "lessons")
    stub(folder, 7)
    status, text = run_demo(tmp_path, folder, code="mine")
    assert status == 2
    assert "CODE=mine: `movie_embeddings` (task 7.1" in text
    assert "is not written yet in" in text and "lesson07_embeddings.py" in text
    assert "== Data ==" not in text


def test_stub_detection_function_by_function(tmp_path):
    folder = solution_copies(tmp_path / "lessons")
    stub(folder, 9)
    # Write one function of lesson 9's stub: lesson 9 is then partly the learner's.
    path = folder / "lesson09_personas.py"
    ref = index.lesson(9).solution_path.read_text()
    body = ref.split("# BEGIN SOLUTION 9.5\n", 1)[1].split("    # END SOLUTION", 1)[0]
    text = path.read_text()
    start = text.index("    # TODO Task 9.5")
    end = text.index('raise NotImplementedError("Lesson 9.5', start)
    end = text.index("\n", end) + 1
    path.write_text(text[:start] + body + text[end:])
    code = learner_code.select("auto", folder, lessons=range(1, 10))
    assert code.whose(9) == learner_code.PARTLY
    assert [c.function for c in code.choices[9] if c.mine] == ["format_recommendations"]
    # The reference fills in what is not written, inside the learner's own module too.
    assert code.l9.recommend.__code__.co_filename == str(index.lesson(9).solution_path)
    assert code.l9.format_recommendations.__code__.co_filename == str(path)
    assert "lesson 9: reference resolve_title, persona_context, score_catalogue, recommend" in code.summary()


def test_every_stub_function_is_detected_and_no_solution_function_is():
    for lesson in index.lessons():
        namespace: dict = {}
        exec(compile(make_stub(lesson.solution_path.read_text(), lesson), "stub", "exec"), namespace)
        solution = __import__(f"solutions.{lesson.module}", fromlist=["x"])
        for task in lesson.tasks:
            assert learner_code.is_stub(namespace[task.function], task), task.id
            assert not learner_code.is_stub(getattr(solution, task.function), task), task.id


def test_a_file_that_cannot_load_runs_the_reference_and_says_why(tmp_path):
    folder = solution_copies(tmp_path / "lessons")
    (folder / "lesson04_debiasing.py").write_text("def user_mean_ratings(split:\n")
    code = learner_code.select("auto", folder, lessons=range(1, 10))
    assert code.whose(4) == learner_code.REFERENCE and code.whose(3) == learner_code.MINE
    assert "lesson04_debiasing.py cannot be loaded (SyntaxError" in code.summary()
    assert "make check LESSON=4" in code.summary()
    with pytest.raises(learner_code.CodeChoiceError, match="CODE=mine: lesson 4"):
        learner_code.select("mine", folder, lessons=range(1, 10))


def test_a_wrong_lesson_1_still_gets_a_ranking_table(tmp_path):
    # A catalogue other than the reference's (>= instead of >): the learner's MSE model does
    # not fit the reference's ranking inputs, so the ranking row comes from a reference model
    # and the demo says so, instead of failing on mismatched shapes.
    folder = solution_copies(tmp_path / "lessons")
    path = folder / "lesson01_cleaning.py"
    source = path.read_text()
    wrong = source.replace("rating_counts[rating_counts > min_ratings_per_movie]",
                           "rating_counts[rating_counts >= min_ratings_per_movie]")
    assert wrong != source
    path.write_text(wrong)
    status, text = run_demo(tmp_path, folder)
    assert status == 0, text[-2000:]
    assert "your lessons 1-4 give other inputs than the reference's" in text
    assert "softmax two-tower (lesson 12)" in text
