"""The pre-filter skips rules for other categories and never changes a decision."""

from __future__ import annotations

import random

from bench.routing import demo_directory, generated_ruleset, sample_petitions
from routing_engine.facts import compute_facts
from routing_engine.rules.engine import Ruleset, decide


def test_pre_filtered_and_full_evaluation_decide_the_same() -> None:
    rng = random.Random(7)
    directory = demo_directory()
    ruleset = Ruleset.from_doc(generated_ruleset(100, 20))
    for petition in sample_petitions(directory, 200, rng):
        facts = compute_facts(petition, directory)
        if rng.random() < 0.5:
            facts.category = f"gen.cat{rng.randrange(20)}"
            facts.people_count = rng.choice([1, 60])
        fast, full = decide(ruleset, facts), decide(ruleset, facts, prefilter=False)
        assert fast.routing() == full.routing()
        # Of the 100 generated decision rules, only the category's own 5 are evaluated.
        skipped = sum(t.get("skipped", 0) for t in fast.trace if t["phase"] == "decision")
        assert skipped == 100 - (5 if facts.category.startswith("gen.") else 0)
