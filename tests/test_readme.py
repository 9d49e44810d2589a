"""The README stays true: every setting, CLI subcommand and LSP command is documented.

The settings table is generated from package.json; after changing a setting, run
``python tests/test_readme.py`` to rewrite it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN = "<!-- settings table: generated from package.json -->"
END = "<!-- end of settings table -->"
GROUP_TITLES = {
    "server": "Server and local model",
    "remote": "Remote completion backend",
    "completion": "Inline completion",
    "chat": "Instruction to code (local instruct model)",
    "generator": "Self-evolution: generator",
    "verifier": "Self-evolution: verifier",
    "evolution": "Self-evolution: gates",
    "finetune": "Fine-tuning",
    "evaluation": "Evaluation",
}


def settings_table() -> str:
    properties = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["contributes"][
        "configuration"
    ]["properties"]
    rows = ["| setting | default | what it does |", "|---|---|---|"]
    group = None
    for key, spec in properties.items():
        short = key.removeprefix("evoselfcode.")
        this_group = short.split(".")[0] if "." in short else "server"
        if this_group != group:
            group = this_group
            rows.append(f"| **{GROUP_TITLES.get(group, group)}** | | |")
        text = spec.get("markdownDescription") or spec.get("description", "")
        text = re.sub(r"`#(evoselfcode\.[\w.]+)#`", r"`\1`", text)
        text = text.replace("|", "\\|").replace("\n", " ")
        if spec.get("enum"):
            text += " One of: " + ", ".join(f"`{value}`" for value in spec["enum"]) + "."
        default = json.dumps(spec.get("default"), ensure_ascii=False)
        rows.append(f"| `{key}` | `{default}` | {text} |")
    return "\n".join(rows)


def test_the_settings_table_matches_package_json():
    text = README.read_text(encoding="utf-8")
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == settings_table(), "run `python tests/test_readme.py` to regenerate it"


def test_every_cli_subcommand_is_documented():
    from server.cli import build_parser

    parser = build_parser()
    [subparsers] = [a for a in parser._actions if a.dest == "command"]
    text = README.read_text(encoding="utf-8")
    for name in subparsers.choices:  # type: ignore[union-attr]
        assert f"`evoselfcode {name}" in text, f"README does not document `evoselfcode {name}`"


def test_every_server_command_and_notification_is_documented():
    text = README.read_text(encoding="utf-8")
    architecture = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    names = set(re.findall(r"`(evoselfcode[./][A-Za-z]+)`", architecture))
    assert len(names) > 10
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert not missing, f"README does not document {missing}"


if __name__ == "__main__":
    content = README.read_text(encoding="utf-8")
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{settings_table()}\n{END}{tail}", encoding="utf-8")
    sys.exit(0)
