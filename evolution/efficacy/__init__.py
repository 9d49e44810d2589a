"""Does the self-evolution loop work, and are the gates why? Held-out pass@1 before and after.

The loop is run as a user runs it, through the command line, three ways from the same
generator outputs (``loop.run_loop``):

1. a stand-in for the 32B generator and the 14B verifier (``evolution.testserver.standin``:
   reference solutions, but at stated rates wrong code, broken code, prose, wrong or missing
   tests, and a noisy verifier) is served on loopback by the scripted test server;
2. ``evoselfcode evolve`` sends it the training split of the composed task family
   (``evaluation.taskfamily``), once per gate policy, each into its own store: (a) ``--gates
   none`` (every reply with code), (b) ``--gates syntax``, (c) ``--gates all``. The stand-in is
   seeded per task, so the three runs get the same replies;
3. ``evoselfcode finetune`` trains a LoRA adapter on each store (no promotion: the loop judges);
4. ``evoselfcode eval`` runs the base model and each adapter on the held-out split
   (``composed-heldout``: pairs of steps never combined in training) in the sandbox, prompted
   as the training pairs were (``--prompt-format instruct``: the training instructions are the
   very words eval sends), greedy; then HumanEval-infill for the base model and (c), so that an
   instruction adapter that damages fill-in-the-middle shows.

``table`` turns the outcome into the printed table and the JSON result. ``bench/efficacy_loop.py``
runs it at full size; ``evoselfcode demo`` runs a short version.
"""

from evolution.efficacy.loop import (
    ARMS,
    DEMO,
    FULL,
    QUICK,
    EfficacyError,
    Loop,
    Outcome,
    Sizes,
    run_loop,
)
from evolution.efficacy.table import TARGET, render_table, result_json, summary_sentence

__all__ = [
    "ARMS",
    "DEMO",
    "FULL",
    "QUICK",
    "TARGET",
    "EfficacyError",
    "Loop",
    "Outcome",
    "Sizes",
    "render_table",
    "result_json",
    "run_loop",
    "summary_sentence",
]
