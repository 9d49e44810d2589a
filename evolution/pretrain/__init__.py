"""``evoselfcode pretrain``: the project's own small code model, trained from scratch here.

``corpus`` finds and cleans Python source (``cleaning``, ``dedup``), ``tokenizer`` trains the
BPE, ``samples`` renders FIM / repo-level / left-to-right samples with the runtime's prompt
functions, ``tokencache`` stores their tokens, ``data`` ties those together; ``model``,
``train``, ``loop`` and ``checkpoint`` train; ``card`` writes the model folder; ``run`` and
``cli`` are the command. Importing the package imports none of torch or transformers.
"""
