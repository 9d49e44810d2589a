"""Does the self-evolution loop work, and are the gates why? Held-out pass@1 before and after.

    python bench/efficacy_loop.py [--model models/evoselfcode-small] [--quick]
                                  [--train-tasks N] [--heldout-tasks N] [--infill-tasks N]
                                  [--epochs E] [--fault-rates wrong_code=0.3,...] [--work DIR]

What runs is ``evolution.efficacy`` (its docstring says how): the stand-in generator and
verifier on loopback, ``evoselfcode evolve`` three ways (no gates, syntax gate, all gates) from
the same replies, ``evoselfcode finetune`` on each store, ``evoselfcode eval`` of the base model
and each adapter on the task family's held-out split, and HumanEval-infill before and after.

Printed: held-out pass@1 with Wilson 95% intervals for base, (a), (b), (c); exact McNemar
tests (c) vs base and (c) vs (a); what each store holds (records, and how many of them are
correct code by the stand-in's plan); infill before and after; the fault rates used. Last line:
JSON with ``ratio`` = pass@1 points gained by (c) over base, ``target`` 20, ``p_vs_base``,
``p_vs_ungated`` and ``infill_change_points``.

Full run (defaults): every training task (584), every held-out task (211), finetune's default
epochs (3), 200 infill tasks: 12 minutes on the idle 2-core CPU with the small model
(``--train-tasks``/``--heldout-tasks`` trade precision for time). finetune's default learning
rate (2e-4) teaches the 7M-parameter shipped model nothing in 3 epochs; ``--learning-rate
0.002`` (chosen on the training tasks' own pass rate) does. ``--quick``: 40 training
tasks, 16 held-out, 1 epoch, 12 infill tasks: does everything run?
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evolution.efficacy import (  # noqa: E402
    FULL,
    QUICK,
    EfficacyError,
    Loop,
    Sizes,
    render_table,
    result_json,
    run_loop,
)
from evolution.testserver.standin import FaultRates, FaultRatesError  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=str(REPO / "models" / "evoselfcode-small"))
    parser.add_argument("--quick", action="store_true", help="a few tasks: does it all run?")
    parser.add_argument("--train-tasks", type=int, help="training instructions (default: all)")
    parser.add_argument("--heldout-tasks", type=int, help="held-out tasks (default: all)")
    parser.add_argument("--infill-tasks", type=int, help="HumanEval-infill tasks (0: skip)")
    parser.add_argument("--epochs", type=float, help="fine-tuning epochs (default: finetune's)")
    parser.add_argument("--learning-rate", help="fine-tuning learning rate (default: finetune's)")
    parser.add_argument("--fault-rates", default="", help="e.g. wrong_code=0.3,prose=0.5")
    parser.add_argument("--standin-seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="keep every file here (default: a temp dir)")
    args = parser.parse_args()
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        args.train_tasks if args.train_tasks is not None else base.train_tasks,
        args.heldout_tasks if args.heldout_tasks is not None else base.heldout_tasks,
        args.infill_tasks if args.infill_tasks is not None else base.infill_tasks,
        args.epochs if args.epochs is not None else base.epochs,
        base.max_new_tokens,
    )
    try:
        rates = FaultRates.parse(args.fault_rates)
    except FaultRatesError as exc:
        parser.error(str(exc))
    work = args.work or Path(tempfile.mkdtemp(prefix="evoselfcode-efficacy-"))
    work.mkdir(parents=True, exist_ok=True)
    flags = ("--learning-rate", args.learning_rate) if args.learning_rate else ()
    try:
        outcome = run_loop(Loop(work, args.model, sizes, flags), rates, args.standin_seed)
    except EfficacyError as exc:
        sys.exit(str(exc))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\n" + "\n".join(render_table(outcome)))
    print(json.dumps(result_json(outcome)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
