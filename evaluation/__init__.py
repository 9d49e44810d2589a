"""Evaluation: benchmarks run in a sandbox, scored by pass@k, kept per model version.

    datasets.load_tasks / benchmark_entry_points / benchmark_texts   where tasks come from
    sandbox.Sandbox                     running untrusted programs (workers, limits, isolation)
    runner.evaluate_samples / evaluate_model                         scoring completions
    api.run_evaluation / list_evaluations                            a whole run, stored
    cli                                 ``evoselfcode eval``

Importing this package imports nothing: each module loads what it needs.
"""
