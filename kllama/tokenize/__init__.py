"""Digit-split tokenization with 20B_tokenizer.json and Megatron/RWKV binidx files."""
