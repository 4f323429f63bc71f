"""`make bench`'s code path on tiny data (`--smoke`): every stage runs and the figures file
has its keys. Speed is measured by `make bench`, never asserted."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_smoke_run_writes_its_figures(tmp_path):
    out = tmp_path / "bench.json"
    process = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--smoke", "--json", str(out)],
                             cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    figures = json.loads(out.read_text())
    for key in ("prep_fixture_s", "prep_fixture_peak_gib", "fixture_demo_s", "fixture_peak_gib",
                "fixture_train_0k_s", "fixture_eval_share", "similar_s", "similar_peak_gib",
                "train_steps_per_s", "train_gflops", "matmul_gflops"):
        assert key in figures, key
    assert 0 < figures["fixture_eval_share"] < 1
    assert figures["fixture_one_evaluation_s"] > 0 and figures["fixture_one_evaluation_one_thread_s"] > 0
    assert re.search(r"fixture: one full evaluation [0-9,]+ ms with its parts on \d+ thread", process.stdout)
    stages = [row["stage"] for row in figures["fixture_stages"]]
    assert stages[1:5] == ["lesson 1: cleaning", "lesson 2: vocabularies", "lesson 3: masking",
                           "lesson 4: debiasing, examples"]
    assert re.search(r"blocked and all-pairs neighbours: ([0-9,]+) of \1 rows identical", process.stdout)
    # Both paths of lesson 6, and make demo with the reference's code and with a learner's (textbook).
    for key in ("fixture_fast_steps_per_s", "fixture_textbook_steps_per_s", "fixture_textbook_evaluation_s",
                "fixture_demo_reference_s", "fixture_demo_learner_s", "fixture_demo_learner_ratio",
                "fixture_ranking_eval_s", "fixture_ranking_users", "fixture_retrieval_train_s"):
        assert figures[key] > 0, key
    assert figures["run"]["mode"] == "smoke"
