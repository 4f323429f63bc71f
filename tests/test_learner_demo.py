"""`make demo` runs the learner's own lessons 1-13 (recommender/code.py), on the synthetic
fixture data with a temporary lessons folder (seconds, no MovieLens needed):

- correct lessons in lessons/ -> the demo says they are the learner's, trains on the
  textbook path and prints the reference's figures;
- lesson 7 left as the stub -> lesson 7 is the reference's, the rest the learner's;
- a wrong lesson 8 -> the similar-movie lists change; a wrong lesson 10, 11, 12 or 13 -> the
  ranking table, the time-ordered table, the retrieval or autoencoder row and the saved
  model change;
- the learner's lesson 5 `predict` is what lesson 6 trains with, even though lesson 6's stub
  imports the reference's; an exception in it names the lesson, the function and the check;
- a fast path runs only where every function it stands in for is the reference's;
- make recommend and make similar answer with the learner's lessons 8-9 for a model their
  code trained, the reference's for a model CODE=reference trained; lesson 13's model
  answers once the learner has written lesson 13, their lesson 12's model until then;
- CODE=mine stops at the first function not written yet.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from commands import demo, recommend, similar
from course import index
from course.stubgen import make_stub
from recommender import code as learner_code


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
    """What the demo computed, without the code header, file paths, timings and the words
    that say which path trained (the fast path and the textbook give the same figures)."""
    body = text.split("== Data ==", 1)[1].split("== Figures ==", 1)[0]
    body = re.sub(r" on the (fast|textbook) path", "", body)
    body = re.sub(r"\neach split's own models, .*(?:\n  (?:rank_unseen|ranking_metrics|ease_weights \(EASE\)): .*)*",
                  "", body)                                          # which path ranks
    body = re.sub(r"(?m)\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d\d$", "", body)    # each predictor's time and memory
    body = re.sub(r"(?m)\s+train s\s+rank s\s+peak GiB$", "", body)
    return re.sub(r"\n  \(your lesson 10 made this table; .*\)", "", body)


def ranking_table(text: str, split: str, check_note: bool = True) -> str:
    table = text.split(f"\n{split} split:", 1)[1].split("\n\n", 1)[0]
    table = re.sub(r"(?m)\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d\d$", "", table)   # time and memory
    return table if check_note else re.sub(r"\n  \(your lesson 10 made this table; .*\)", "", table)


def table_row(text: str, split: str, label: str) -> str:
    return next(line for line in ranking_table(text, split).splitlines() if line.strip().startswith(label))


def write_into(folder: Path, number: int, old: str, new: str) -> None:
    """Change the learner's lesson file: one realistic mistake."""
    path = folder / f"{index.lesson(number).module}.py"
    source = path.read_text()
    assert old in source, old
    path.write_text(source.replace(old, new, 1))


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
    assert "lessons 1-13 are yours" in text
    assert "reference's" not in text.split("== Data ==")[0]
    assert "MSE two-tower (lessons 5-6): textbook path (the lessons' own functions), with your lessons 5-6" in text
    assert "softmax two-tower (lesson 12): textbook path" in text
    assert "ran all 300 steps on the textbook path" in text
    assert "your lesson 10 made this table; the reference's metrics give the same numbers" in text
    assert results(text) == results(reference_run)
    # The saved models say whose code trained them, and on which path.
    models = tmp_path / "out" / "models"
    mse = json.loads((models / "two-tower-mse" / "model.json").read_text())["code"]
    assert mse["summary"] == "lessons 1-6 yours" and mse["path"] == "textbook" and mse["mode"] == "auto"
    retrieval = json.loads((models / "softmax-two-tower" / "model.json").read_text())["code"]
    assert retrieval["summary"] == "lessons 1-6, 12 yours"
    autoencoder = json.loads((models / "autoencoder-two-tower" / "model.json").read_text())["code"]
    assert autoencoder["summary"] == "lessons 1-4, 12-13 yours" and autoencoder["path"] == "textbook"
    assert "autoencoder two-tower (lesson 13): textbook path (the lessons' own functions), with your lessons 12-13" \
        in text
    assert "make recommend and make similar will answer with autoencoder-two-tower" in text
    assert "trained by lessons 1-4, 12-13 yours (textbook path); they answer with lessons 9, 13 yours" in text


def test_a_stub_lesson_is_the_reference(tmp_path, reference_run):
    folder = solution_copies(tmp_path / "lessons")
    stub(folder, 7)
    status, text = run_demo(tmp_path, folder)
    assert status == 0, text
    header = text.split("== Data ==")[0]
    assert "lessons 1-6, 8-13 are yours" in header
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
    assert "lessons 1-13 are yours" in text
    assert similar_lists(text) != similar_lists(reference_run)
    # Everything before lesson 8 is unchanged.
    assert results(text.split("== Most similar")[0]) == results(reference_run.split("== Most similar")[0])


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


def test_a_wrong_lesson_1_ranks_its_own_catalogue(tmp_path, reference_run):
    # A catalogue other than the reference's (>= instead of >): every model and the ranking
    # are made from the learner's lessons 1-4, so the table is theirs, on their catalogue.
    folder = solution_copies(tmp_path / "lessons")
    write_into(folder, 1, "rating_counts[rating_counts > min_ratings_per_movie]",
               "rating_counts[rating_counts >= min_ratings_per_movie]")
    status, text = run_demo(tmp_path, folder)
    assert status == 0, text[-2000:]
    movies = re.search(r"random split: .*, ([\d,]+) movies", text).group(1)
    assert movies != re.search(r"random split: .*, ([\d,]+) movies", reference_run).group(1)
    assert "softmax two-tower (lesson 12)" in ranking_table(text, "random")


def test_a_lesson_12_whose_optimiser_never_moves_changes_the_retrieval_row_and_the_saved_model(
        tmp_path, reference_run):
    folder = solution_copies(tmp_path / "lessons")
    write_into(folder, 12, "            p -= lr * m_hat / (v_hat.sqrt() + eps)",
               "            p -= 0.0 * lr * m_hat / (v_hat.sqrt() + eps)")
    status, text = run_demo(tmp_path, folder)
    assert status == 0, text[-2000:]
    for split in ("random", "temporal"):
        label = "softmax two-tower (lesson 12)"
        assert table_row(text, split, label) != table_row(reference_run, split, label), split
        assert table_row(text, split, "EASE") == table_row(reference_run, split, "EASE"), split
    # The saved model is the one this code trained: its parameters are the untrained ones.
    import torch
    saved = torch.load(tmp_path / "out" / "models" / "softmax-two-tower" / "tensors.pt", weights_only=True)
    reference = run_demo(tmp_path / "ref", None, code="reference")
    assert reference[0] == 0
    theirs = torch.load(tmp_path / "ref" / "out" / "models" / "softmax-two-tower" / "tensors.pt",
                        weights_only=True)
    assert not torch.equal(saved["user_W"], theirs["user_W"])
    meta = json.loads((tmp_path / "out" / "models" / "softmax-two-tower" / "model.json").read_text())
    assert meta["code"]["whose"]["12"] == "yours"


def test_a_lesson_11_that_ignores_the_time_changes_the_time_ordered_table(tmp_path, reference_run):
    folder = solution_copies(tmp_path / "lessons")
    write_into(folder, 11, 'rows = rows.sort_values(["userId", "timestamp", "movieId"], kind="stable")',
               'rows = rows.sort_values(["userId", "movieId"], kind="stable")')
    status, text = run_demo(tmp_path, folder)
    assert status == 0, text[-2000:]
    assert "the time-ordered split (lesson 11): yours" in text
    assert ranking_table(text, "temporal", False) != ranking_table(reference_run, "temporal")
    assert ranking_table(text, "random", False) == ranking_table(reference_run, "random")


def test_a_lesson_10_with_a_wrong_ndcg_is_flagged(tmp_path):
    folder = solution_copies(tmp_path / "lessons")
    # The ideal DCG of one relevant movie whatever the number relevant: a realistic slip.
    write_into(folder, 10, "ideal_hits = num_relevant.clamp(max=k).to(torch.int64)",
               "ideal_hits = torch.ones_like(num_relevant).to(torch.int64)")
    status, text = run_demo(tmp_path, folder)
    assert status == 0, text[-2000:]
    for split in ("random", "temporal"):
        table = ranking_table(text, split)
        assert "WARNING: your lesson 10 made this table, and the reference's metrics give other numbers" in table
        assert "ndcg@10: yours" in table
        assert "Run `make check LESSON=10` to see what is wrong." in table


def test_a_fast_path_runs_only_where_every_function_it_stands_in_for_is_the_references(tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    for lesson in index.lessons():
        stub(folder, lesson.number)
    code = learner_code.select("auto", folder, lessons=demo.DEMO_LESSONS)
    from recommender import models
    assert models.mse_path(code).fast
    # One function of lesson 6 written (the reference's batch_loss, copied in): the textbook runs.
    source = (folder / "lesson06_training.py").read_text()
    body = index.lesson(6).solution_path.read_text().split("# BEGIN SOLUTION 6.3\n", 1)[1].split(
        "    # END SOLUTION", 1)[0]
    start = source.index("    # TODO Task 6.3")
    end = source.index("\n", source.index('raise NotImplementedError("Lesson 6.3')) + 1
    (folder / "lesson06_training.py").write_text(source[:start] + body + source[end:])
    code = learner_code.select("auto", folder, lessons=demo.DEMO_LESSONS)
    path = models.mse_path(code)
    assert not path.fast and path.yours == ((6, "batch_loss"),)
    assert path.describe() == "textbook path (the lessons' own functions), with your lesson 6's batch_loss"
    assert models.mse_path(learner_code.select("reference", lessons=demo.DEMO_LESSONS)).fast


def test_recommend_and_similar_answer_with_the_learners_lessons_8_and_9(tmp_path):
    folder = solution_copies(tmp_path / "lessons")
    write_into(folder, 9, 'lines = [f"Hello, {name}",', 'lines = [f"Howdy, {name}",')
    write_into(folder, 8, "def similar_titles(", "def similar_titles_unused(")  # lesson 8 left to the reference
    stub(folder, 8)
    stub(folder, 13)   # lesson 13 not written: lesson 12's model answers, with lessons 8-9
    status, text = run_demo(tmp_path, folder)
    assert status == 0, text[-2000:]
    models_dir = str(tmp_path / "out" / "models")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert recommend.main(["--loves", "Horror", "--models", models_dir]) == 0
    assert out.getvalue().startswith("Howdy, you")
    assert "answered by lesson 9 yours" in out.getvalue()
    assert "Lesson 13's model is saved too, trained by the reference's lesson 13 in place of your stub" \
        in out.getvalue()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert similar.main(["--title", "first ghost", "--models", models_dir]) == 0
    assert "answered by lesson 8 the reference's" in out.getvalue()
    # A model the reference trained answers with the reference's lesson 9, whatever lessons/ holds.
    status, _ = run_demo(tmp_path / "ref", folder, code="reference")
    assert status == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert recommend.main(["--loves", "Horror", "--models", str(tmp_path / "ref" / "out" / "models")]) == 0
    assert out.getvalue().startswith("Hello, you")


def test_a_lesson_13_whose_optimiser_never_moves_changes_the_autoencoder_row_and_the_saved_model(
        tmp_path, reference_run):
    # Lesson 13 trains with lesson 12's Adam: a learner's lesson 13 that steps with a zero
    # learning rate leaves the initial weights, on both splits; the rest of the table stands.
    folder = solution_copies(tmp_path / "lessons")
    write_into(folder, 13, "adam_step(params, loss, state, cfg.lr, cfg.betas, cfg.eps)",
               "adam_step(params, loss, state, 0.0, cfg.betas, cfg.eps)")
    status, text = run_demo(tmp_path, folder)
    assert status == 0, text[-2000:]
    label = "autoencoder two-tower (lesson 13)"
    for split in ("random", "temporal"):
        assert table_row(text, split, label) != table_row(reference_run, split, label), split
        for other in ("EASE", "softmax two-tower (lesson 12)"):
            assert table_row(text, split, other) == table_row(reference_run, split, other), (split, other)
    import torch
    from solutions.lesson13_autoencoder import init_autoencoder
    saved = torch.load(tmp_path / "out" / "models" / "autoencoder-two-tower" / "tensors.pt", weights_only=True)
    assert run_demo(tmp_path / "ref", None, code="reference")[0] == 0
    reference = torch.load(tmp_path / "ref" / "out" / "models" / "autoencoder-two-tower" / "tensors.pt",
                           weights_only=True)
    assert not torch.equal(saved["W"], reference["W"])
    untrained = init_autoencoder(saved["W"].shape[0], saved["W"].shape[1], torch.Generator().manual_seed(0))
    assert torch.equal(saved["W"], untrained.W.detach())     # what this code trained: nothing
    meta = json.loads((tmp_path / "out" / "models" / "autoencoder-two-tower" / "model.json").read_text())
    assert meta["code"]["whose"]["13"] == "yours"
    # The learner wrote lesson 13, so it answers (with its untrained weights): whose code it is, said.
    assert "make recommend and make similar will answer with autoencoder-two-tower" in text
