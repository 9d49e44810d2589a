"""Fixtures for the language-server tests: a model that never stops, and LSP session helpers.

End-to-end tests drive ``python -m server serve`` over stdio with pytest-lsp, as any
spec-following client would. The smoke model has RANDOM WEIGHTS and usually answers with an
end-of-text token at once; ``endless_model_dir`` silences special tokens, line breaks and
whitespace-only tokens in a copy, so greedy decoding always writes one long junk line and
stops only at max tokens, the time limit or a cancellation. Tests assert plumbing and
post-processing, never content.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "server", "serve"])
STATUS = "evoselfcode/status"
# Model loading imports torch: allow for a slow, shared machine.
READY_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def endless_model_dir(smoke_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the smoke model (RANDOM WEIGHTS) that never ends a line or the text."""
    from models.smoke import silence_tokens

    target = tmp_path_factory.mktemp("models") / "endless"
    shutil.copytree(smoke_model_dir, target)
    silence_tokens(target, blank_pieces=True)
    return target


@pytest.fixture(scope="session")
def lora_adapter_dir(endless_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter (random weights) for the smoke model, saved as peft saves them."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(endless_model_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    target = tmp_path_factory.mktemp("adapters") / "tuned-1"
    get_peft_model(model, config).save_pretrained(target)
    return target


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def raw(tmp_path_factory: pytest.TempPathFactory):
    """A bare JSON-RPC client (``rawlsp.RawClient``) of a server whose model folder is empty:
    for what a well-behaved client never sends. One server per module."""
    from tests.server.rawlsp import RawClient

    client = await RawClient.start()
    response = await client.initialize({"model": str(tmp_path_factory.mktemp("no-model"))})
    assert "capabilities" in response["result"]
    yield client
    await client.close()


def capabilities(*, inline: bool = True) -> types.ClientCapabilities:
    """VS Code's capabilities, with LSP 3.18 inline completions unless ``inline`` is false."""
    caps = client_capabilities("visual-studio-code")
    assert caps.text_document is not None
    caps.text_document.inline_completion = (
        types.InlineCompletionClientCapabilities() if inline else None
    )
    return caps


def plain(value: Any) -> Any:
    """Custom notifications arrive as namedtuples; make them dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def record_status(client: LanguageClient) -> list[dict]:
    """Every ``evoselfcode/status`` the client receives, in order."""
    received: list[dict] = []
    client.feature(STATUS)(lambda ls, params: received.append(plain(params)))
    return received


async def wait_for(
    check: Callable[[], Any], timeout: float = READY_TIMEOUT_S, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy."""

    async def poll() -> Any:
        while not (result := check()):
            await asyncio.sleep(0.02)
        return result

    try:
        return await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None


async def wait_for_state(received: list[dict], state: str, after: int = 0) -> dict:
    return await wait_for(
        lambda: next((s for s in received[after:] if s["state"] == state), None),
        what=f"status {state!r}",
    )


def default_data_dir(workspace: Path) -> Path:
    """The ``dataDir`` that ``initialize`` gives a server unless its settings name one."""
    return workspace.parent / "data"


async def initialize(
    client: LanguageClient, workspace: Path, settings: dict, *, inline: bool = True
) -> types.InitializeResult:
    workspace.mkdir(parents=True, exist_ok=True)
    # Keep the servers off the user's data folder (adapter registry, training data).
    settings = {"dataDir": str(default_data_dir(workspace)), **settings}
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(inline=inline),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)],
            initialization_options=settings,
        )
    )


@contextlib.asynccontextmanager
async def ready_session(
    client: LanguageClient, workspace: Path, settings: dict, *, inline: bool = True
) -> AsyncIterator[types.InitializeResult]:
    """Initialize ``client``'s server (``initialize``) and wait until its model is ready; shut
    it down on leaving. The body of a module's ``pytest_lsp.fixture``::

        async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "name", settings):
            yield

    Sets on the client what tests read: ``statuses`` (every status since before initialize,
    ``record_status``), ``workspace_dir``, ``data_dir`` (where ``initialize`` put it) and
    ``init_result``."""
    statuses = record_status(client)
    client.statuses = statuses  # type: ignore[attr-defined]
    client.workspace_dir = workspace  # type: ignore[attr-defined]
    client.data_dir = Path(settings.get("dataDir", default_data_dir(workspace)))  # type: ignore[attr-defined]
    result = await initialize(client, workspace, settings, inline=inline)
    client.init_result = result  # type: ignore[attr-defined]
    await wait_for_state(statuses, "ready")
    yield result
    await client.shutdown_session()


def open_document(
    client: LanguageClient, uri: str, text: str, version: int = 1, language: str = "python"
) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=version, text=text
            )
        )
    )


def edit_document(
    client: LanguageClient,
    uri: str,
    version: int,
    start: types.Position,
    end: types.Position,
    text: str,
) -> None:
    """One ``didChange``: ``text`` in place of the range from ``start`` to ``end``."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=start, end=end), text=text
                )
            ],
        )
    )


def inline_params(
    uri: str, line: int, character: int, *, invoked: bool = True
) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=kind.Invoked if invoked else kind.Automatic
        ),
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
    )


async def status_now(client: LanguageClient) -> dict:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="evoselfcode.status")
    )
    return plain(result)
