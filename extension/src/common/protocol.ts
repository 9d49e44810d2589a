/**
 * The server's side of the contract (ARCHITECTURE.md, "LSP protocol"): custom notifications,
 * `workspace/executeCommand` names and the shapes of their arguments and results.
 * Fields the server may leave out are optional; the UI copes with their absence.
 */

/** Custom server → client notifications. */
export const Notifications = {
  status: 'evoselfcode/status',
  evaluationResult: 'evoselfcode/evaluationResult',
  finetuneResult: 'evoselfcode/finetuneResult',
} as const;

/** `workspace/executeCommand` commands the server offers. */
export const ServerCommands = {
  selfEvolve: 'evoselfcode.selfEvolve',
  acceptEvolution: 'evoselfcode.acceptEvolution',
  rejectEvolution: 'evoselfcode.rejectEvolution',
  generateFromInstruction: 'evoselfcode.generateFromInstruction',
  newConversation: 'evoselfcode.newConversation',
  fineTune: 'evoselfcode.fineTune',
  cancelFineTune: 'evoselfcode.cancelFineTune',
  evaluate: 'evoselfcode.evaluate',
  trainingData: 'evoselfcode.trainingData',
  adapters: 'evoselfcode.adapters',
  setApiKeys: 'evoselfcode.setApiKeys',
  status: 'evoselfcode.status',
  /** Run by the client when it inserts an inline item whole (the item's own command). */
  completionAccepted: 'evoselfcode.completionAccepted',
  completionOutcomes: 'evoselfcode.completionOutcomes',
} as const;

export type ServerCommand = (typeof ServerCommands)[keyof typeof ServerCommands];

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export type ModelState = 'loading' | 'ready' | 'failed';

export interface FinetuneProgress {
  state: string;
  step?: number;
  total?: number;
  loss?: number | null;
}

export interface EvaluationSummary {
  passAt1: number;
  modelVersion: string;
  dataset?: string;
  /** How many tasks the run had: the promotion gate's runs use a subset. */
  tasks?: number;
}

/** `evoselfcode/status` and the `evoselfcode.status` command's result. */
export interface ServerStatus {
  state: ModelState;
  reason?: string | null;
  model?: string | null;
  adapter?: string | null;
  device?: string | null;
  dtype?: string | null;
  backend?: string | null;
  randomWeights?: boolean;
  /** A small model made by `evoselfcode pretrain` (the one EvoSelfCode ships). */
  trainedHere?: boolean;
  completions?: {
    requests?: number;
    served?: number;
    empty?: Record<string, number>;
    cacheHits?: number;
    /** Model runs that ended early, at a line end, because the time box closed. */
    timeBoxed?: number;
    /** Background completions of what follows accepting the suggestion shown. */
    prefetch?: { started?: number; stored?: number; used?: number; cancelled?: number };
    /** What became of the suggestions served this session. */
    outcomes?: OutcomeSummary | null;
  };
  latencyMs?: { p50?: number | null; p95?: number | null };
  finetune?: FinetuneProgress | null;
  evaluation?: EvaluationSummary | null;
  sandbox?: SandboxIsolation | null;
}

/** `completions.outcomes` of `evoselfcode/status`: this session's suggestion outcomes. */
export interface OutcomeSummary {
  shown?: number;
  accepted?: number;
  partial?: number;
  dismissed?: number;
  typedOver?: number;
  reverted?: number;
  /** (accepted + partial) / settled suggestions; null before any settled. */
  acceptanceRate?: number | null;
  /** Accepted characters still there at each check ("30s", "5m"). */
  retainedCharRate?: Record<string, number | null>;
  /** Per signal: "observed" (the client reports it), "inferred" (from edits), "measured". */
  signals?: Record<string, string>;
  /** The promoted adapter's live acceptance against its predecessor's (rolled back if lower). */
  acceptanceWatch?: AcceptanceWatch;
  /** With `completion.trainAfterAccepts`: accepted suggestions counted towards the next run. */
  autoTrain?: { acceptedSinceTraining: number; trainAfter: number };
}

export interface AcceptanceWatch {
  adapter?: string;
  previous?: string | null;
  /** "watching", "kept", "rolled-back" or "no-baseline" (too few earlier suggestions). */
  state?: string;
  rate?: number | null;
  shown?: number;
  previousRate?: number | null;
  previousShown?: number;
  pValue?: number | null;
  nextLook?: number | null;
  lastRollback?: { adapter: string; reason: string };
}

/** `evoselfcode.completionOutcomes`: where the outcome log is and what it holds. */
export interface CompletionOutcomesLog {
  path: string;
  enabled: boolean;
  records: number;
  skippedLines: number;
  recent: Record<string, unknown>[];
  session: OutcomeSummary;
}

/** The isolation of the sandbox that runs generated code (`evoselfcode/status`'s `sandbox`). */
export interface SandboxIsolation {
  level: 'full' | 'partial' | 'guard-only' | 'unavailable';
  description?: string;
  /** What the kernel refused, and how to allow it. */
  problems?: string[];
}

/** `evoselfcode/evaluationResult`. */
export interface EvaluationResult {
  modelVersion: string;
  dataset: string;
  tasks: number;
  passAt1: number;
  ci95?: [number, number];
  counts?: Record<string, number>;
  outDir?: string;
}

/** `evoselfcode/finetuneResult`. */
export interface FinetuneResult {
  runId?: string;
  status?: 'finished' | 'cancelled' | 'failed';
  adapterId?: string | null;
  promoted: boolean;
  reason?: string | null;
  reportPath?: string | null;
}

/** What the client asks the self-evolve and instruction commands to work on. */
export interface CodeTarget {
  uri: string;
  range?: Range;
  position?: Position;
  instruction?: string;
}

/** One gate's verdict inside a self-evolve result; servers differ in the flag's name. */
export interface GateResult {
  name?: string;
  gate?: string;
  passed?: boolean;
  ok?: boolean;
  reason?: string | null;
  detail?: string | null;
}

/** A LSP WorkspaceEdit, converted with the client's protocol converter before applying. */
export type ProtocolWorkspaceEdit = import('vscode-languageclient').WorkspaceEdit;

/** A failure that is not a gate's verdict: the network, a key, the sandbox. */
export interface EvolveError {
  /** "generator", "verifier", "sandbox", "locate". */
  role: string;
  /** The exception class, e.g. "EndpointUnreachable", "AuthenticationError". */
  kind: string;
  message: string;
}

/** The `evoselfcode.selfEvolve` result. */
export interface EvolveResult {
  id: string;
  ok: boolean;
  /** accepted: every gate passed; rejected: a gate said no; error: see `error`. */
  status?: 'accepted' | 'rejected' | 'error';
  error?: EvolveError | null;
  functionName?: string | null;
  rejectedBy?: string | null;
  reason?: string | null;
  gates?: GateResult[];
  instruction?: string;
  original: string;
  proposed?: string | null;
  range: Range;
  edit?: ProtocolWorkspaceEdit | null;
  verdict?: string | null;
  confidence?: number | null;
}

export interface AcceptResult {
  recorded: boolean;
  /** The new record, or the one it duplicates. */
  recordId?: string | null;
  duplicate?: boolean;
  /** True when the server applied the edit (workspace/applyEdit) before recording. */
  applied?: boolean;
  /** Overlaps a benchmark: kept in the store, never trained on. */
  flagged?: boolean;
  reasons?: string[];
}

export interface GenerateResult {
  code: string;
  edit?: ProtocolWorkspaceEdit | null;
  /** True when the server applied the edit itself (workspace/applyEdit). */
  applied?: boolean;
  failureReason?: string;
  /** The instruct model that wrote it. */
  model?: string;
  /** What that model is, plainly, when it is a small model trained here or a test model. */
  modelNote?: string;
}

/** `evoselfcode.trainingData`: the store's statistics and where its file is. */
export interface TrainingDataSummary {
  path?: string;
  records?: number;
  bySource?: Record<string, number>;
  flagged?: number;
  trainable?: number;
  duplicatesSkipped?: number;
  unreadableLines?: number;
  lastAdded?: string | null;
  fileBytes?: number;
}

/** `evoselfcode.adapters`: the registry. */
export interface AdapterEntry {
  id: string;
  /** e.g. "candidate", "promoted", "rejected" (by the promotion gate). */
  status?: string;
  promoted?: boolean;
  createdAt?: string;
  metrics?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface AdapterRegistryState {
  promoted?: string | null;
  previous?: string | null;
  adapters?: AdapterEntry[];
  [key: string]: unknown;
}

export interface ApiKeys {
  generator?: string;
  verifier?: string;
}
