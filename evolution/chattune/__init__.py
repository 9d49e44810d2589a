"""``evoselfcode chat-tune``: a small instruction tune of the base model trained here.

Docstring → function pairs are cut (with ``ast``) from the very files the base model trained on
(``pairs.py``); pairs from its held-out files are the evaluation set, never trained on. The
whole model is fine-tuned on them as chat turns, rendered exactly as "Generate code from this
instruction" prompts (``train.py``), and written as a model folder with its card (``export.py``).
"""
