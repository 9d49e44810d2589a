"""``self_evolve``: one function through the generator, the gates and the verifier.

    result = await self_evolve(
        EvolveRequest(source=text, where=Position(12, 4), path="app.py", instruction=None),
        settings, clients=clients, sandbox=sandbox, on_progress=print,
    )
    result.status        # "accepted" | "rejected" | "error"
    result.gates         # every gate that ran, in order; the last one failed when rejected
    result.proposed      # the new text for result.location.range

Stages: locate → generate → reply → syntax → execution → verifier. The flow stops at the first
gate that fails, or accepted after the last gate of ``settings.gates`` (``gates.GatePolicy``;
"all" unless a measurement asks for less). Network and key problems end it with ``status ==
"error"`` and a message saying which role failed where; they are never reported as a gate's
verdict. Cancel it by cancelling its task (``asyncio.CancelledError`` propagates; nothing is
recorded).

``clients`` and ``sandbox`` are borrowed when given (the language server and the batch command
keep them open across calls); otherwise they are opened for this call and closed after it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

from evaluation.errors import SandboxError
from evolution.clients.errors import (
    AuthenticationError,
    BadRequest,
    ClientError,
    EndpointUnreachable,
    LogprobsUnsupported,
    RequestTimeout,
)
from evolution.evolve.errors import FunctionNotFound
from evolution.evolve.gates import (
    GATES_OF_POLICY,
    GateResult,
    execution_gate,
    reply_gate,
    syntax_gate,
)
from evolution.evolve.instruction import Instruction, build_instruction
from evolution.evolve.locate import FunctionLocation, Position, Range, locate_function
from evolution.evolve.parse import parse_reply
from evolution.evolve.prompts import (
    generator_messages,
    prompt_hash,
    verifier_messages,
    writer_messages,
)
from evolution.evolve.result import (
    STAGES,
    ErrorInfo,
    EvolveResult,
    ModelCall,
    ProgressEvent,
    Status,
)
from evolution.evolve.settings import EvolveClients, EvolveSettings
from evolution.evolve.verify import verdict_from_choice, verifier_gate

if TYPE_CHECKING:
    from evaluation.sandbox import Sandbox
    from evolution.clients.choice import Choice
    from evolution.clients.config import ClientConfig
    from evolution.evolve.prompts import Messages

ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class EvolveRequest:
    """One function to evolve (``source`` + ``where``), or, with no source, one to write.

    ``instruction`` holds the user's words; without source it is the whole task.
    """

    source: str | None = None
    where: Position | Range | None = None
    path: str | None = None
    instruction: str | None = None


class _Stop(Exception):
    """Ends the flow early with a finished result."""

    def __init__(self, result: EvolveResult) -> None:
        self.result = result


async def self_evolve(
    request: EvolveRequest,
    settings: EvolveSettings,
    *,
    clients: EvolveClients | None = None,
    sandbox: Sandbox | None = None,
    on_progress: ProgressCallback | None = None,
) -> EvolveResult:
    """Run the whole flow for one request (see the module docstring)."""
    run = _Run(request, settings, on_progress)
    own_clients = clients is None
    clients = clients or EvolveClients.open(settings)
    try:
        return await run.execute(clients, sandbox)
    except _Stop as stop:
        return stop.result
    finally:
        if own_clients:
            await clients.aclose()
        run.close_sandbox()


class _Run:
    """The state of one evolution as it moves through the stages."""

    def __init__(
        self, request: EvolveRequest, settings: EvolveSettings, on_progress: ProgressCallback | None
    ) -> None:
        self.request = request
        self.settings = settings
        self.on_progress = on_progress
        self.started = time.perf_counter()
        self.result = EvolveResult(
            id=uuid.uuid4().hex,
            status="error",
            instruction=None,
            location=None,
            reason="",
            path=request.path,
            gate_policy=settings.gates,
        )
        self._own_sandbox: Sandbox | None = None

    async def execute(self, clients: EvolveClients, sandbox: Sandbox | None) -> EvolveResult:
        if sandbox is not None:  # known now: refuse before the generator is paid for
            self._check_isolation(sandbox)
        location, instruction = self._locate()
        self._update(location=location, instruction=instruction)
        text = await self._generate(clients, location, instruction)
        is_method = location is not None and location.is_method
        parsed = parse_reply(text, location.name if location else None, is_method=is_method)
        name = parsed.name
        self._gate("reply", self._truncation_hint(reply_gate(parsed, name, location)))
        code = parsed.code or ""
        self._update(proposed_function=code, tests=parsed.tests)
        self._stop_if_policy_ends_after("reply")
        context = location.context.execution_prelude(code, name) if location else ""
        self._gate("syntax", self._truncation_hint(syntax_gate(code, context)))
        self._stop_if_policy_ends_after("syntax")
        self._progress("execution", "running the generated tests in the sandbox")
        sandbox = sandbox or await self._sandbox()
        self._check_isolation(sandbox)
        try:
            gate = await execution_gate(
                sandbox,
                location,
                code,
                parsed.tests,
                name,
                self.settings.test_timeout_s,
                self.request.path,
            )
        except SandboxError as exc:  # closed or broken: not the code's fault
            self._fail_error("sandbox", type(exc).__name__, f"the sandbox failed: {exc}")
        self._gate("execution", self._truncation_hint(gate), announce=False)
        await self._verify(clients, instruction, code)
        verifier = self.result.gates[-1].reason
        return self._finish("accepted", f"every gate passed; {verifier}")

    # --- stages ---

    def _locate(self) -> tuple[FunctionLocation | None, Instruction]:
        request = self.request
        self._progress("locate", "finding the function")
        if request.source is None:
            words = (request.instruction or "").strip()
            if not words:
                self._fail_error("locate", "ValueError", "no code and no instruction: no task")
            return None, Instruction(words, words, None, (), "")
        try:
            location = locate_function(request.source, request.where or Position(0, 0))
        except FunctionNotFound as exc:
            self._fail_error("locate", type(exc).__name__, str(exc))
        limit = self.settings.max_function_chars
        if len(location.code) > limit:
            lines = location.code.count("\n")
            message = (
                f"`{location.name}` has {lines} lines ({len(location.code)} characters), more "
                f"than the {limit} characters a generator prompt takes: select a smaller function"
            )
            self._fail_error("locate", "FunctionTooLong", message)
        return location, build_instruction(location, request.instruction)

    async def _generate(
        self, clients: EvolveClients, location: FunctionLocation | None, instruction: Instruction
    ) -> str:
        settings = self.settings
        if location is not None:
            context = location.context.prompt_text(
                location.code, location.name, settings.context_chars
            )
            messages = generator_messages(location, instruction, context)
            self._update(context_text=context)
        else:
            messages = writer_messages(instruction)
        sampling = {
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "max_tokens": settings.max_tokens,
            "n": 1,
        }
        self._progress("generate", f"asking {_where(settings.generator)}")
        try:
            choices = await clients.generator.chat(
                messages, model=settings.generator.model, **sampling
            )
        except ClientError as exc:
            self._fail_network(settings.generator, exc)
        if not choices:
            message = f"generator at {settings.generator.base_url} returned no choices"
            self._fail_error("generator", "MalformedResponse", message)
        choice = choices[0]
        self._update(generator=_call(settings.generator, messages, sampling, choice))
        return choice.text

    async def _verify(self, clients: EvolveClients, instruction: Instruction, code: str) -> None:
        settings = self.settings
        messages = verifier_messages(instruction, code)
        # One greedy word; its first token's candidates give the confidence.
        sampling: dict[str, Any] = {"temperature": 0.0, "max_tokens": 3, "n": 1}
        sampling["logprobs"] = settings.verifier_top_logprobs
        self._progress("verifier", f"asking {_where(settings.verifier)}")
        started = time.perf_counter()
        try:
            model = settings.verifier.model
            try:
                choices = await clients.verifier.chat(messages, model=model, **sampling)
            except (BadRequest, LogprobsUnsupported):  # a server that refuses logprobs
                sampling.pop("logprobs")
                choices = await clients.verifier.chat(messages, model=model, **sampling)
        except ClientError as exc:
            self._fail_network(settings.verifier, exc)
        if not choices:
            message = f"verifier at {settings.verifier.base_url} returned no choices"
            self._fail_error("verifier", "MalformedResponse", message)
        choice = choices[0]
        verdict = verdict_from_choice(choice)
        call = _call(settings.verifier, messages, sampling, choice)
        self._update(verifier=call, verdict=verdict.answer, confidence=verdict.confidence)
        gate = verifier_gate(
            verdict,
            min_confidence=settings.min_verifier_confidence,
            require_confidence=settings.require_confidence,
            started=started,
        )
        self._gate("verifier", gate, announce=False)

    # --- bookkeeping ---

    def _stop_if_policy_ends_after(self, stage: str) -> None:
        """Accept now when the gate policy runs no gate after ``stage`` (``--gates``)."""
        policy = self.settings.gates
        if GATES_OF_POLICY[policy][-1] == stage:
            skipped = [g for g in GATES_OF_POLICY["all"] if g not in GATES_OF_POLICY[policy]]
            reason = f"recorded under --gates {policy}: {', '.join(skipped)} not run"
            raise _Stop(self._finish("accepted", reason))

    def _truncation_hint(self, gate: GateResult) -> GateResult:
        """A failed gate on a reply cut at max_tokens says so: the likely cause."""
        call = self.result.generator
        if gate.passed or call is None or call.finish_reason != "length":
            return gate
        hint = f" (the reply was cut off at max_tokens = {self.settings.max_tokens})"
        return replace(gate, reason=gate.reason + hint)

    def _gate(self, stage: str, gate: GateResult, *, announce: bool = True) -> None:
        if announce:
            self._progress(stage, f"checking: {stage}")
        self._update(gates=[*self.result.gates, gate])
        if not gate.passed:
            raise _Stop(self._finish("rejected", f"{gate.name}: {gate.reason}"))

    def _fail_network(self, config: ClientConfig, exc: ClientError) -> NoReturn:
        self._fail_error(config.name, type(exc).__name__, _network_message(config, exc))

    def _fail_error(self, role: str, kind: str, message: str) -> NoReturn:
        self._update(error=ErrorInfo(role, kind, message))
        raise _Stop(self._finish("error", message))

    def _finish(self, status: Status, reason: str) -> EvolveResult:
        self._progress("done", reason)
        duration = round(time.perf_counter() - self.started, 3)
        self._update(status=status, reason=reason, duration_s=duration)
        return self.result

    def _update(self, **changes: Any) -> None:
        self.result = replace(self.result, **changes)

    def _progress(self, stage: str, message: str) -> None:
        if self.on_progress is not None:
            self.on_progress(ProgressEvent(stage, message, STAGES.index(stage)))

    async def _sandbox(self) -> Sandbox:
        from evaluation.sandbox import Sandbox

        try:
            self._own_sandbox = await asyncio.to_thread(Sandbox, 1)
        except (SandboxError, OSError) as exc:
            self._fail_error("sandbox", type(exc).__name__, f"the sandbox could not start: {exc}")
        assert self._own_sandbox is not None
        return self._own_sandbox

    def _check_isolation(self, sandbox: Sandbox) -> None:
        """The execution gate runs generated code only where the sandbox is fully isolated,
        unless the user allowed less (``allow_guard_only``)."""
        refusal = sandbox.isolation.refusal(self.settings.allow_guard_only)
        if refusal is not None:
            self._fail_error("sandbox", "IsolationRefused", refusal)

    def close_sandbox(self) -> None:
        if self._own_sandbox is not None:
            self._own_sandbox.close()


def _where(config: ClientConfig) -> str:
    return f"{config.name} {config.model} at {config.base_url}"


def _call(
    config: ClientConfig, messages: Messages, sampling: dict[str, Any], choice: Choice
) -> ModelCall:
    return ModelCall(
        model=config.model,
        base_url=config.base_url,
        prompt_hash=prompt_hash(messages),
        sampling=dict(sampling),
        finish_reason=choice.finish_reason,
        text=choice.text,
    )


def _network_message(config: ClientConfig, exc: ClientError) -> str:
    """What went wrong, in the user's terms, with the client's own explanation."""
    role = config.name
    if isinstance(exc, EndpointUnreachable):
        headline = f"{role} unreachable at {config.base_url}"
    elif isinstance(exc, RequestTimeout):
        headline = f"{role} at {config.base_url} did not answer in time"
    elif isinstance(exc, AuthenticationError):
        headline = f"{role} at {config.base_url} refused the API key"
    else:
        headline = f"{role} at {config.base_url} failed ({type(exc).__name__})"
    tried = f" (after {exc.attempts} attempts)" if exc.attempts > 1 else ""
    hint = f" {exc.hint}" if exc.hint else ""
    return f"{headline}: {exc.detail}{tried}.{hint}"
