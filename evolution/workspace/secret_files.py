"""Files that hold secrets: by their name, or by what their text holds.

A completion model trained on a key can complete it for anyone who later reads its weights or
its suggestions, so a file that looks like it holds one is left out whole. The checks err on
the side of leaving a file out: the cost is one file less to learn from, and the scan reports
it. What was found is named (a kind and a line), never the secret itself.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections import Counter

# Names of files that hold keys or credentials by convention.
SECRET_NAME_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pypirc",
    ".htpasswd",
)

_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
# Tokens whose shape alone says which service issued them.
_SERVICE_TOKEN = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"  # GitHub
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r")"
)
# A string literal of 16+ key characters assigned to a name (or dict key) that says secret.
_KEY_ASSIGNMENT = re.compile(
    r"""(?ix)
    \b\w*(?:api[_-]?key|secret|access[_-]?key|auth[_-]?token|access[_-]?token|password
          |passwd|private[_-]?key|client[_-]?secret|bearer)\w*
    ["']?\s*[:=]\s*[rbuf]{0,2}
    (["'])(?P<value>[A-Za-z0-9_\-+/=.~:]{16,})\1
    """
)
# Values that are placeholders in examples and docs, not keys.
_PLACEHOLDER = re.compile(r"your|example|placeholder|changeme|dummy|xxxx|\.\.\.|<|\{", re.I)
# Keys are random: below this many bits per character a value reads like words or a path.
MIN_KEY_ENTROPY = 3.0


def is_secret_name(name: str) -> bool:
    """Whether a file's name says it holds secrets (``.env``, ``server.pem``, ``id_rsa``)."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in SECRET_NAME_PATTERNS)


def find_secret(text: str) -> str | None:
    """What kind of secret ``text`` seems to hold and on which line, or None."""
    for kind, regex in (("a private key", _PRIVATE_KEY), ("a service token", _SERVICE_TOKEN)):
        match = regex.search(text)
        if match:
            return f"{kind} on line {_line_of(text, match.start())}"
    for match in _KEY_ASSIGNMENT.finditer(text):
        if _looks_random(match.group("value")):
            return f"a key assigned on line {_line_of(text, match.start())}"
    return None


def _looks_random(value: str) -> bool:
    if (
        _PLACEHOLDER.search(value)
        or not re.search(r"\d", value)
        or not re.search("[A-Za-z]", value)
    ):
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= MIN_KEY_ENTROPY


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
