"""The seed-002 data-generation pipeline: function names by FIM vs left-to-right, then bodies.

    evoselfcode datagen --config configs/datagen.yaml [--stage names|code|all|import]
                        [--shard i/N] [--merge] [--progress bar|json]

Stage A asks the generator for function names with two prompts (``prompts``), the design's
FIM prompt and a left-to-right control, and compares them (``pipeline.abtest``); stage B has
it write a function for every kept name, and for every description of an optional input file;
the code filters keep what parses, passes ruff, is long enough and is new. Work is split into
items with stable ids and seeds (``items``), run with bounded concurrency (``runner``) and
written to sharded parts as it finishes (``writer``), so a killed run resumes and several
machines can share one run. ``importer`` moves the result into the training-data store.

Modules: ``config`` (+ ``validate``), ``prompts``, ``items``, ``schemas``, ``writer``,
``runner``, ``filters.names``, ``filters.code``, ``pipeline.namegen``, ``pipeline.codegen``,
``pipeline.scoring``, ``pipeline.abtest``, ``pipeline.orchestrator``, ``importer``, ``logs``,
``command`` (the CLI handler), ``errors``.
"""

from evolution.datagen.config import DatagenConfig, load_config
from evolution.datagen.errors import ConfigError, DatagenError, InputError, OutputError, RunLocked

__all__ = [
    "ConfigError",
    "DatagenConfig",
    "DatagenError",
    "InputError",
    "OutputError",
    "RunLocked",
    "load_config",
]
