"""Training data from the user's own code (issue 15, item 2).

``scan`` finds the workspace's Python files worth learning from (``.gitignore`` respected;
generated, vendored, minified, huge and secret files left out, each with its reason);
``split`` holds files out by path for the gate; ``accepted`` turns accepted-and-kept
completions from the server's outcome log into targets; ``examples`` lays both out as FIM
training examples in Qwen2.5-Coder's repo-level format through pretraining's and the
server's own prompt functions; ``data`` runs it all, deduplicated and decontaminated;
``report`` prints it for ``evoselfcode workspace-data``.
"""

from evolution.workspace.accepted import (
    RECORD_REASONS,
    AcceptedTarget,
    TargetSearch,
    find_accepted_targets,
    read_outcome_log,
)
from evolution.workspace.data import (
    REASONS,
    WorkspaceData,
    WorkspaceOptions,
    build_workspace_data,
    workspace_decontaminator,
)
from evolution.workspace.examples import (
    ExampleConfig,
    FimExample,
    accepted_examples,
    file_examples,
)
from evolution.workspace.scan import ScanResult, Skip, WorkspaceFile, scan_workspace
from evolution.workspace.split import split_by_path, split_point

__all__ = [
    "REASONS",
    "RECORD_REASONS",
    "AcceptedTarget",
    "ExampleConfig",
    "FimExample",
    "ScanResult",
    "Skip",
    "TargetSearch",
    "WorkspaceData",
    "WorkspaceFile",
    "WorkspaceOptions",
    "accepted_examples",
    "build_workspace_data",
    "file_examples",
    "find_accepted_targets",
    "read_outcome_log",
    "scan_workspace",
    "split_by_path",
    "split_point",
    "workspace_decontaminator",
]
