"""Instruction to code: a comment or selection in, code from the local instruct model out."""
