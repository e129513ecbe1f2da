"""Routing speed: decisions per second and p50/p99 latency for the demo ruleset and for
a generated ruleset of 1,000 rules, pre-filtered engine against plain evaluation of
every rule (business-rules' own run_all over the same rules). One run, ratios printed.

    make bench        (or: .venv/bin/python -m bench.routing)
"""

from __future__ import annotations

import copy
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from business_rules import run_all

from routing_engine.config import DEFAULT_RULESET
from routing_engine.facts import Facts, compute_facts
from routing_engine.rules.actions import Outcome, RoutingActions
from routing_engine.rules.engine import Ruleset, decide
from routing_engine.rules.variables import PetitionVariables
from shared.directory import Directory, parse_directory_file, snapshot_of

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "shared" / "demo" / "qinghe_county.json"
N_DECISIONS = 3000


def demo_directory() -> Directory:
    return snapshot_of(parse_directory_file(DEMO.read_text(encoding="utf-8")))


def sample_petitions(directory: Directory, n: int, rng: random.Random) -> list[dict[str, Any]]:
    villages = [d.code for d in directory.divisions.values() if d.level == "village"]
    categories = [c for c in directory.categories if c != "discipline.official"]
    return [
        {
            "type": "complaint",
            "category": rng.choice(categories),
            "division_code": rng.choice(villages),
            "addressed_to": "qinghe.petition_bureau",
            "people_count": rng.choice([1, 1, 1, 3, 6]),
            "title": "反映问题",
            "content": rng.choice(["拖欠工资三个月", "邻居噪音扰民", "工地起火了", "物业乱收费"]),
        }
        for _ in range(n)
    ]


def generated_ruleset(n_rules: int, n_categories: int) -> dict[str, Any]:
    """`n_rules` decision rules keyed by `n_categories` synthetic categories, ahead of
    the demo's own rules: the shape of a large county's table of local exceptions."""
    doc = copy.deepcopy(json.loads(DEFAULT_RULESET.read_text(encoding="utf-8")))
    doc["version"] = f"generated-{n_rules}"
    doc.pop("golden_cases", None)
    rules = []
    for i in range(n_rules):
        rid = f"gen_{i}"
        rules.append(
            {
                "id": rid,
                "conditions": {
                    "all": [
                        {
                            "name": "category",
                            "operator": "equal_to",
                            "value": f"gen.cat{i % n_categories}",
                        },
                        {
                            "name": "people_count",
                            "operator": "greater_than_or_equal_to",
                            "value": 50 + i % 7,
                        },
                    ]
                },
                "actions": [{"name": "assign_competent_unit", "params": {"rule": rid}}],
            }
        )
    doc["decision_rules"] = rules + doc["decision_rules"]
    return doc


def time_each(facts: list[Facts], run: Callable[[Facts], Any]) -> list[float]:
    out = []
    for f in facts:
        start = time.perf_counter()
        run(f)
        out.append(time.perf_counter() - start)
    return out


def summary(name: str, samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    rate = len(samples) / sum(samples)
    print(f"  {name:<34} {rate:>9.0f}/s   p50 {p50:6.3f} ms   p99 {p99:6.3f} ms")
    return {"rate": rate, "p50": p50, "p99": p99}


def plain_run_all(ruleset: Ruleset) -> Callable[[Facts], Any]:
    rules = ruleset.doc["decision_rules"]
    flags = ruleset.doc.get("flag_rules", [])

    def run(f: Facts) -> None:
        outcome = Outcome()
        variables, actions = PetitionVariables(f), RoutingActions(f, outcome)
        run_all(flags, variables, actions)
        run_all(rules, variables, actions, stop_on_first_trigger=True)

    return run


def bench(label: str, ruleset: Ruleset, facts: list[Facts]) -> None:
    print(
        f"{label}: {len(ruleset.doc['decision_rules']) + len(ruleset.doc.get('flag_rules', []))} rules"
    )
    for f in facts[:200]:  # warm up caches
        decide(ruleset, f)
    fast = summary("pre-filtered engine", time_each(facts, lambda f: decide(ruleset, f)))
    full = summary(
        "same engine, every rule", time_each(facts, lambda f: decide(ruleset, f, prefilter=False))
    )
    plain = summary("business-rules run_all", time_each(facts, plain_run_all(ruleset)))
    print(
        f"  ratio pre-filtered / run_all: {fast['rate'] / plain['rate']:.1f}x throughput, "
        f"p99 {plain['p99'] / fast['p99']:.1f}x lower; vs every rule {fast['rate'] / full['rate']:.1f}x"
    )


def main() -> None:
    rng = random.Random(20261128)
    directory = demo_directory()
    petitions = sample_petitions(directory, N_DECISIONS, rng)
    facts = [compute_facts(p, directory) for p in petitions]
    start = time.perf_counter()
    for p in petitions:
        compute_facts(p, directory)
    print(
        f"facts: {N_DECISIONS / (time.perf_counter() - start):.0f} petitions/s (directory look-ups)"
    )
    bench(
        "demo ruleset",
        Ruleset.from_doc(json.loads(DEFAULT_RULESET.read_text(encoding="utf-8"))),
        facts,
    )
    big = Ruleset.from_doc(generated_ruleset(1000, 200))
    for f in facts:
        f.category = f"gen.cat{rng.randrange(200)}"  # petitions of the generated categories
    bench("generated ruleset", big, facts)


if __name__ == "__main__":
    main()
