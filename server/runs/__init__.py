"""Long runs in child processes: fine-tuning and evaluation, relayed to the editor.

Both run our own commands (``evoselfcode finetune|eval --progress json``) as children of the
server, for three reasons: the completion model's thread stays free, so inline completions keep
coming while they run (on a 2-core CPU the child is also given one core less); cancelling is a
signal, which the commands handle cleanly (fine-tuning checkpoints first) and which frees all
their memory; and a crash in training or generation never takes the editor's server down. The
cost is a second copy of the weights in memory while a run lasts (3 GB for the 1.5B model in
bf16), and a few seconds to load them.

``child`` starts a command and reads its JSON lines; ``finetune`` and ``evaluation`` turn them
into ``$/progress``, ``evoselfcode/status`` fields and the final notification; ``adapters``
answers ``evoselfcode.adapters`` from the registry.
"""
