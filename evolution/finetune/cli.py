"""``evoselfcode finetune`` and ``evoselfcode adapters list|show|promote|rollback|path``.

Registration only builds parsers; torch, transformers and peft load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from evolution.finetune.cli_options import add_config_arguments, config_from_args, given_overrides

FINETUNE_EPILOG = """\
exit status: 0 done (promoted or not: see the result), 1 error, 2 bad setting, 3 bad data,
4 save path exists / nothing to resume, 5 out of memory, 130/143 stopped by SIGINT/SIGTERM
(a checkpoint was written: continue with --resume).

several GPUs (data parallel, one process per GPU; each takes its share of every step):
  accelerate launch --num_processes 4 -m server.cli finetune --progress json ...
QLoRA (4-bit base weights through bitsandbytes, CUDA only; pip install 'evoselfcode[cuda]'):
  evoselfcode finetune --quantization 4bit ...
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    finetune = subparsers.add_parser(
        "finetune",
        help="LoRA fine-tune the local model on the collected pairs, then gate the promotion",
        description="Train a LoRA adapter on the training-data store (records flagged by "
        "decontamination are left out), register it, compare it with the serving model on "
        "held-out pairs and on the pass rate of --eval-dataset (HumanEval by default), and "
        "promote it only if it is not worse. Runs in its "
        "own process: progress as JSON lines with --progress json, a clean stop (checkpoint, "
        "then exit) on SIGTERM/SIGINT, and --resume after a stop or a crash.",
        epilog=FINETUNE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run = finetune.add_argument_group("run")
    run.add_argument(
        "--data",
        help="training pairs: the store or a JSONL of {instruct, code} / {messages} lines "
        "(default: <data dir>/training/pairs.jsonl)",
    )
    run.add_argument(
        "--data-dir",
        help="data folder (default: $EVOSELFCODE_DATA_DIR or ~/.local/share/evoselfcode)",
    )
    run.add_argument(
        "--config", dest="config_file", help="YAML file of settings (see configs/finetune.yaml)"
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --save-path (default: the newest unfinished run)",
    )
    run.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    run.add_argument("--progress", choices=("bar", "json"), default="bar")
    add_config_arguments(finetune)
    finetune.set_defaults(func=_finetune)

    adapters = subparsers.add_parser(
        "adapters",
        help="list, promote or roll back LoRA adapters",
        description="The adapter registry (<data dir>/adapters): every trained adapter with "
        "its data hash, config, metrics, parent and report, and which one serves.",
    )
    data_help = "data folder (the registry is its adapters/)"
    workspace_help = "the completion adapters of this workspace folder (finetune --workspace)"
    adapters.add_argument("--data-dir", help=data_help)
    adapters.add_argument("--workspace", help=workspace_help)
    # Also accepted after the action (`adapters list --data-dir X`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help=data_help)
    common.add_argument("--workspace", default=argparse.SUPPRESS, help=workspace_help)
    actions = adapters.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every adapter, oldest first", parents=[common])
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    show = actions.add_parser("show", help="an adapter's report", parents=[common])
    show.add_argument("id")
    promote = actions.add_parser("promote", help="serve this adapter", parents=[common])
    promote.add_argument("id")
    promote.add_argument(
        "--force", action="store_true", help="promote even an adapter the gate rejected"
    )
    actions.add_parser(
        "rollback", help="serve the previously promoted adapter (or the base)", parents=[common]
    )
    path = actions.add_parser("path", help="print the promoted adapter's folder", parents=[common])
    path.add_argument("--base-model", help="only if trained on this base model")
    adapters.set_defaults(func=_adapters)


def _finetune(args: argparse.Namespace) -> int:
    from evolution.finetune.errors import FinetuneError
    from evolution.finetune.events import RunEvents
    from evolution.finetune.run import RunRequest, run_finetune
    from evolution.finetune.stopping import StopRequest
    from evolution.store.errors import StoreError
    from models.errors import ModelError
    from models.paths import resolve_data_dir

    events = RunEvents(json_lines=args.progress == "json")
    stop = StopRequest()
    try:
        data_dir = resolve_data_dir(args.data_dir)
        request = RunRequest(
            config=config_from_args(args),
            data_path=Path(args.data) if args.data else data_dir / "training" / "pairs.jsonl",
            data_dir=data_dir,
            resume=args.resume,
            overwrite=args.overwrite,
            overrides=given_overrides(args),
        )
        with stop.installed():
            result = run_finetune(request, events, stop)
    except (FinetuneError, ModelError, StoreError) as exc:
        events.error(str(exc), kind=type(exc).__name__)
        return getattr(exc, "exit_code", 1)
    except Exception as exc:  # a bug or an environment problem: still end with an error line
        traceback.print_exc()
        events.error(f"unexpected {type(exc).__name__}: {exc}", kind=type(exc).__name__)
        return 1
    events.result(**result.to_dict())
    if not events.json_lines:
        print(_summary(result.to_dict()), file=sys.stderr)
    return stop.exit_code if result.status == "stopped" else 0


def _summary(result: dict) -> str:
    if result["status"] == "stopped":
        return f"stopped at step {result['step']}/{result['total_steps']}: {result['reason']}"
    verdict = "promoted" if result["promoted"] else "not promoted"
    return (
        f"adapter {result['adapter_id']} {verdict}: {result['reason']}\n"
        f"report: {result['report_path']}"
    )


def _adapters(args: argparse.Namespace) -> int:
    from evolution.finetune.errors import RegistryError
    from evolution.finetune.registry import AdapterRegistry
    from evolution.finetune.workspace_data import completion_registry_root
    from models.paths import resolve_data_dir

    data_dir = resolve_data_dir(args.data_dir)
    registry = (
        AdapterRegistry(completion_registry_root(data_dir, args.workspace))
        if args.workspace
        else AdapterRegistry.in_data_dir(data_dir)
    )
    try:
        return _ADAPTER_ACTIONS[args.action](registry, args)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _list(registry, args: argparse.Namespace) -> int:
    records = registry.records()
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=1, ensure_ascii=False))
        return 0
    if not records:
        print(f"no adapters in {registry.root} yet: run `evoselfcode finetune`")
        return 0
    header = ("ID", "STATUS", "BASE MODEL", "CREATED", "PARENT")
    rows = [(r.id, r.status, r.base_model, r.created_at, r.parent or "-") for r in records]
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]
    marks = ["  "] + ["* " if r.status == "promoted" else "  " for r in records]
    for mark, row in zip(marks, [header, *rows], strict=True):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(mark + "  ".join(cells).rstrip())
    return 0


def _show(registry, args: argparse.Namespace) -> int:
    record = registry.get(args.id)
    text = registry.path_of(record.id) / "report.txt"
    print(
        text.read_text(encoding="utf-8")
        if text.is_file()
        else json.dumps(record.to_dict(), indent=1)
    )
    return 0


def _promote(registry, args: argparse.Namespace) -> int:
    reason = "manual promotion" + (" (forced past the gate)" if args.force else "")
    record = registry.promote(args.id, reason=reason, force=args.force)
    print(f"promoted {record.id}: it serves from the next completion on")
    return 0


def _rollback(registry, args: argparse.Namespace) -> int:
    del args
    record = registry.rollback()
    print(f"rolled back: {record.id if record else 'the base model (no adapter)'} now serves")
    return 0


def _path(registry, args: argparse.Namespace) -> int:
    from evolution.finetune.serving import promoted_adapter_path, same_base_model

    if args.workspace:  # a completion registry: its promoted adapter, if of that base model
        record = registry.promoted()
        fits = record and (
            not args.base_model or same_base_model(record.base_model, args.base_model)
        )
        path = registry.path_of(record.id) if record and fits else None
    else:
        path = promoted_adapter_path(registry.root.parent, base_model=args.base_model)
    if path is None:
        print("no promoted adapter (the base model serves)", file=sys.stderr)
        return 1
    print(path)
    return 0


_ADAPTER_ACTIONS = {
    "list": _list,
    "show": _show,
    "promote": _promote,
    "rollback": _rollback,
    "path": _path,
}
