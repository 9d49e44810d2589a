"""One completion request from position to suggestion, shared by both LSP completion methods.

On the event loop: check the document and position, wait out the debounce, copy the window,
try the cache (or wait for the prefetch of this very window). On the model thread
(``server.generation``): build the token-budgeted prompt, generate the candidates with the
block-end ``stop_check``, the time box and the job's ``CancelToken``, post-process. A served
answer starts the prefetch of what follows its acceptance (``server.prefetch``). Every path
that ends without a suggestion names its reason, and the status board counts it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.workspace import Workspace

from server.cache import CompletionCache
from server.context import InfillWindow, infill_window
from server.documents import Cursor, LineDocument, cursor_at, open_document
from server.errors import DocumentError
from server.generation import Produced, generate_suggestions
from server.model_host import ModelHost
from server.postprocess import Filtered, PostProcessor, Suggestion
from server.prefetch import Prefetcher
from server.reasons import EmptyReason
from server.scheduler import JobDropped, ModelWorker
from server.settings import CompletionSettings, Settings
from server.status import StatusBoard
from server.typing_rhythm import TypingRhythm

if TYPE_CHECKING:
    from models.types import CancelToken, CodeModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompletionRequest:
    uri: str
    position: types.Position
    invoked: bool  # asked for explicitly: no debounce
    formatting: types.FormattingOptions | None = None
    selected: types.SelectedCompletionInfo | None = None  # the IntelliSense item in focus


@dataclass(frozen=True)
class Answer:
    """A suggestion placed in the document, or the reason there is none."""

    suggestion: Suggestion | None
    reason: EmptyReason | None = None
    detail: str = ""
    document: LineDocument | None = None
    # In client units: where the inserted text begins (the cursor, or earlier) and where the
    # replaced text ends (the cursor, or later on the same line).
    start: types.Position | None = None
    end: types.Position | None = None
    lead: str = ""  # text put before the suggestion (an IntelliSense item it extends)
    line_prefix: str = ""  # the cursor's line before the cursor
    cached: bool = False
    window: InfillWindow | None = None  # what the suggestion was made for
    alternatives: tuple[Answer, ...] = ()  # further candidates, placed the same way

    @property
    def text(self) -> str:
        return self.lead + (self.suggestion.text if self.suggestion else "")


def empty(reason: EmptyReason, detail: str = "") -> Answer:
    return Answer(None, reason, detail)


class CompletionEngine:
    def __init__(
        self,
        *,
        workspace: Callable[[], Workspace],
        settings: Callable[[], Settings],
        host: ModelHost,
        worker: ModelWorker,
        cache: CompletionCache,
        status: StatusBoard,
        on_stats: Callable[[], None],
    ):
        self._workspace = workspace
        self._settings = settings
        self.host = host
        self.worker = worker
        self.cache = cache
        self.status = status
        self._on_stats = on_stats
        self._latest: dict[str, int] = {}  # newest request number per document (debounce)
        self.rhythm = TypingRhythm()
        self._counter = 0
        self.prefetcher = Prefetcher(
            host=host, worker=worker, cache=cache, status=status, on_stats=on_stats
        )

    async def complete(self, request: CompletionRequest) -> Answer:
        started = time.perf_counter()
        self.status.record_request()
        try:
            answer = await self._complete(request)
        except asyncio.CancelledError:
            self._record(empty(EmptyReason.CANCELLED, "$/cancelRequest"), started)
            raise
        self._record(answer, started)
        if answer.suggestion is not None and answer.window is not None:
            settings = self._settings().completion
            self.prefetcher.schedule(answer.window, answer.suggestion, settings, request.formatting)
        return answer

    def _record(self, answer: Answer, started: float) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        if answer.suggestion is not None:
            self.status.record_served(elapsed_ms, cached=answer.cached)
        else:
            reason = answer.reason or EmptyReason.ERROR
            self.status.record_empty(reason)
            log.debug("no completion (%s): %s", reason, answer.detail)
        self._on_stats()

    def _locate(self, request: CompletionRequest) -> tuple[LineDocument, Cursor] | Answer:
        try:
            document = open_document(self._workspace(), request.uri)
        except DocumentError as exc:
            return empty(EmptyReason.UNKNOWN_DOCUMENT, str(exc))
        try:
            return document, cursor_at(document, request.position)
        except DocumentError as exc:
            return empty(EmptyReason.BAD_POSITION, str(exc))

    async def _debounced(self, uri: str, delay_ms: float) -> bool:
        """Wait ``delay_ms``; true when no newer request for ``uri`` arrived meanwhile."""
        self._counter += 1
        number = self._latest[uri] = self._counter
        await asyncio.sleep(delay_ms / 1000)
        if self._latest.get(uri) == number:
            del self._latest[uri]
            return True
        return False

    async def _complete(self, request: CompletionRequest) -> Answer:
        settings = self._settings().completion
        if not settings.enabled:
            return empty(EmptyReason.DISABLED, "evoselfcode.completion.enabled is false")
        located = self._locate(request)
        if isinstance(located, Answer):
            return located
        if not request.invoked and settings.debounce_ms > 0:
            self.rhythm.keystroke(request.uri)
            wait_ms = settings.debounce_ms
            if settings.adaptive_debounce:
                wait_ms = self.rhythm.wait_ms(request.uri, wait_ms)
            if not await self._debounced(request.uri, wait_ms):
                return empty(EmptyReason.DEBOUNCED, "a newer request arrived")
            located = self._locate(request)  # the document may have changed meanwhile
            if isinstance(located, Answer):
                return located
        document, cursor = located
        window = infill_window(
            self._workspace(),
            document,
            cursor,
            context_tokens=settings.context_tokens,
            prefix_share=settings.prefix_share,
            open_documents=settings.open_documents,
        )
        start, lead, line_prefix = request.position, "", window.line_prefix
        if request.selected is not None:
            extended = _extend_with_selection(document, cursor, window, request.selected)
            if extended is not None:
                window, lead = extended
                start = request.selected.range.start
        placed = partial(
            _placed,
            request=request,
            document=document,
            window=window,
            start=start,
            lead=lead,
            line_prefix=line_prefix,
        )

        if (answer := self._from_cache(window, placed, settings.candidates)) is not None:
            return answer
        model = self.host.model
        if model is None:
            if self.status.state == "failed":
                return empty(EmptyReason.MODEL_FAILED, self.status.reason or "")
            return empty(EmptyReason.MODEL_LOADING, "the model is loading")
        # The prefetch of this very window may be running: its answer comes sooner.
        if await self.prefetcher.wait_for(window) and (
            answer := self._from_cache(window, placed, settings.candidates)
        ):
            return answer
        processor = PostProcessor(window, request.formatting)
        run = partial(self._generate, model, window, processor, settings)
        job = self.worker.submit_completion(request.uri, run)
        try:
            produced: Produced = await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.cancel(EmptyReason.CANCELLED)
            raise
        except JobDropped as dropped:
            return empty(dropped.reason, "dropped before it ran")
        except Exception as exc:  # one bad generation must not take the server down
            log.exception("completion failed for %s", request.uri)
            return empty(EmptyReason.ERROR, f"{type(exc).__name__}: {exc}")
        if job.reason is not None:
            return empty(job.reason, "stopped part-way")
        outcome = produced.outcome
        if isinstance(outcome, Filtered):
            if settings.temperature == 0:  # greedy: the same window gives the same output
                self.cache.put(window, outcome)
            return empty(outcome.reason, outcome.detail)
        self.cache.put_all(window, outcome)
        return placed(outcome, cached=False)

    def _generate(
        self,
        model: CodeModel,
        window: InfillWindow,
        processor: PostProcessor,
        settings: CompletionSettings,
        token: CancelToken,
    ) -> Produced:
        """Runs on the model thread; counted even when the request is gone by the end."""
        produced = generate_suggestions(model, window, processor, settings, token)
        self.status.record_generation(
            produced.prompt_tokens,
            produced.prompt_tokens - produced.prefilled_tokens,
            time_boxed=produced.time_boxed,
        )
        return produced

    def _from_cache(
        self, window: InfillWindow, placed: Callable[..., Answer], candidates: int
    ) -> Answer | None:
        hit = self.cache.lookup(window)
        if hit is None:
            return None
        if hit.filtered is not None:
            return empty(hit.filtered.reason, f"{hit.filtered.detail} (cached)")
        if hit.prefetch_used:
            self.status.record_prefetch("used")
        return placed(hit.suggestions[:candidates], cached=True)


def _placed(
    suggestions: tuple[Suggestion, ...],
    *,
    cached: bool,
    request: CompletionRequest,
    document: LineDocument,
    window: InfillWindow,
    start: types.Position,
    lead: str,
    line_prefix: str,
) -> Answer:
    """The first suggestion as the answer, the others as its alternatives."""
    position = request.position
    placed = []
    for suggestion in suggestions:
        replaced = window.line_suffix[: suggestion.replace_after]
        units = document.position_codec.client_num_units(replaced)
        end = types.Position(line=position.line, character=position.character + units)
        placed.append(
            Answer(
                suggestion,
                document=document,
                start=start,
                end=end,
                lead=lead,
                line_prefix=line_prefix,
                cached=cached,
                window=window,
            )
        )
    return replace(placed[0], alternatives=tuple(placed[1:]))


def _extend_with_selection(
    document: LineDocument,
    cursor: Cursor,
    window: InfillWindow,
    selected: types.SelectedCompletionInfo,
) -> tuple[InfillWindow, str] | None:
    """Complete as if the IntelliSense item in focus were accepted, so VS Code can show the
    suggestion with the popup open; None when the item does not end at the cursor."""
    try:
        start = cursor_at(document, selected.range.start)
        end = cursor_at(document, selected.range.end)
    except DocumentError:
        return None
    if not (start.line == end.line == cursor.line and end.column == cursor.column):
        return None
    replaced = cursor.column - start.column
    if replaced > len(window.line_prefix):
        return None
    line_prefix = window.line_prefix[: len(window.line_prefix) - replaced] + selected.text
    prefix = window.prefix[: len(window.prefix) - replaced] + selected.text
    return replace(window, prefix=prefix, line_prefix=line_prefix), selected.text
