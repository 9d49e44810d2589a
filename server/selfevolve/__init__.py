"""Self-evolution from the editor: the flow's long-lived parts, proposals and their edits.

``service`` holds what outlives one evolution (the HTTP clients, the sandbox, the training-data
store, the API keys handed in by the editor, the proposals waiting for Accept / Reject);
``request`` reads and checks the command's arguments; ``target`` pins where a proposal goes and
builds its ``WorkspaceEdit``; ``messages`` words results for people. The LSP handlers are in
``server/features/self_evolve.py``; the flow itself is ``evolution.evolve``.
"""
