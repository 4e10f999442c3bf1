"""Talking to OpenAI-compatible chat endpoints: client, retries, structured output, cache, accounting.

Only `client.py` imports `openai`; everything else here works on plain dataclasses so it can be
tested without a server and reused by the batch path.
"""
