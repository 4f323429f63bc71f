"""benchmarks/hostile_class.py builds the class it says it builds, and its verdicts flag an
escape. Nothing is graded here: grading the class is the benchmark (a measurement), and the
attacks themselves are graded by tests/test_classroom.py, tests/test_evidence.py and
tests/test_sandbox_limits.py."""
from __future__ import annotations

import os
import stat
from collections import Counter

from benchmarks.hostile_attacks import instructor_copy
from benchmarks.hostile_catalogue import ATTACKS, Context, source_for
from benchmarks.hostile_class import (DEFAULT_LESSONS, attack_verdict, build_class, escape_verdicts, expected_reports,
                                      learner_verdicts, parse_lessons, plan_class, tree_hashes)
from checks.framework import checks_for
from course import index


def test_the_default_class_is_the_mix_the_docstring_states():
    lessons = parse_lessons(DEFAULT_LESSONS)
    plans = plan_class(50, lessons)
    dealt = Counter(name for plan in plans for name, _ in plan.attacks)
    assert sum(plan.honest for plan in plans) == 5 and len(plans) == 50
    assert set(dealt) == set(ATTACKS) and len(ATTACKS) == 39 and min(dealt.values()) >= 2
    for plan in plans:
        numbers = [lesson for _, lesson in plan.attacks]
        assert len(numbers) == len(set(numbers)) and set(numbers) <= set(lessons)
        assert all(ATTACKS[name].lesson in (None, lesson) for name, lesson in plan.attacks)
        assert plan.honest or 1 <= len(plan.attacks) <= 2


def test_the_builder_writes_what_the_plan_says(tmp_path):
    lessons = [3, 6]
    plans = plan_class(3, lessons)
    assert [p.name for p in plans] == ["honest00", "hostile00", "hostile01"] and plans[0].honest
    ctx = Context.make(tmp_path, "nonce0", 1)
    instructor_copy(ctx.repo)
    build_class(ctx.class_dir, plans, lessons, ctx)
    kinds = {"folder": stat.S_ISDIR, "fifo": stat.S_ISFIFO, "symlink": stat.S_ISLNK}
    for plan in plans:
        attacked = {lesson: name for name, lesson in plan.attacks}
        for number in lessons:
            path = ctx.class_dir / plan.name / "lessons" / index.lesson(number).stub_path.name
            mode = path.lstat().st_mode
            attack = ATTACKS.get(attacked.get(number, ""))
            if attack is None:
                assert path.read_bytes() == index.lesson(number).solution_path.read_bytes()
            elif attack.file in kinds:
                assert kinds[attack.file](mode), (plan.name, number, attack.name)
            elif attack.file.startswith("hardlink"):
                assert path.stat().st_nlink == 2
            else:
                assert path.read_bytes() == source_for(attack, number, ctx)
    # Every attack's file of the full class is Python (but the one that is not text on purpose).
    for plan in plan_class(50, parse_lessons(DEFAULT_LESSONS)):
        for name, number in plan.attacks:
            if ATTACKS[name].file == "source" and name != "binary":
                compile(source_for(ATTACKS[name], number, ctx), f"{plan.name}/{name}", "exec")


def _report(lesson: int, status: str = "PASS") -> dict:
    checks = [{"task": c.task, "title": c.title, "status": status, "message": "", "output": ""}
              for c in checks_for(lesson)]
    earned = sum(c.points for c in checks_for(lesson)) if status == "PASS" else 0
    return {"lessons": [{"lesson": lesson, "earned": earned, "checks": checks, "load_error": None}],
            "notes": [], "shared_files": [], "tampering": [], "environment_changes": []}


def test_the_verdicts_flag_a_forged_pass_and_an_escape(tmp_path):
    from benchmarks.hostile_class import LearnerPlan

    # A forged part that passed is flagged; the same checks failing is the verdict held.
    assert attack_verdict(ATTACKS["daemon"], 3, _report(3, "ERROR"))[0]
    assert not attack_verdict(ATTACKS["daemon"], 3, _report(3, "PASS"))[0]
    assert not attack_verdict(ATTACKS["l8_forged_count"], 8, _report(8, "PASS"))[0]
    assert not attack_verdict(ATTACKS["l10_ones"], 10, _report(10, "PASS"))[0]     # no check caught it
    assert not attack_verdict(ATTACKS["folder"], 6, _report(6, "PASS"))[0]         # scored, and no note
    plans = [LearnerPlan("honest00"), LearnerPlan("hostile00", [("memory", 3)])]
    rows = learner_verdicts(plans, {"honest00": _report(3), "hostile00": _report(3)}, [3])
    assert [(r["what"], r["ok"]) for r in rows] == [("honest", True), ("memory", False)]
    # Something written beside the class, or a changed checkout, is an escape.
    ctx = Context.make(tmp_path, "nonce1", 1)
    for folder in (ctx.repo, ctx.class_dir, ctx.reports):
        folder.mkdir(parents=True)
    (ctx.class_dir / "a.py").write_text("mine")
    before = {"repository copy unchanged": tree_hashes(ctx.repo), "every checkout unchanged": tree_hashes(ctx.class_dir)}
    for name in expected_reports(plans):
        (ctx.reports / name).write_text("report")
    clean = escape_verdicts(ctx, before, ctx.reports, 0, expected_reports(plans))
    assert all(r["ok"] for r in clean), [r for r in clean if not r["ok"]]
    (ctx.outside / "canary-nonce1").write_text("owned")
    (ctx.class_dir / "a.py").write_text("owned")
    (ctx.reports / "extra.txt").write_text(ctx.secret.read_text())
    failed = {r["what"] for r in escape_verdicts(ctx, before, ctx.reports, 1, expected_reports(plans)) if not r["ok"]}
    assert failed == {"every checkout unchanged", "no file written beside the class", "only the reports written",
                      "the host's secret in no report, no report 'owned'", "no connection to the host's listener"}
    assert os.path.exists(ctx.secret)
