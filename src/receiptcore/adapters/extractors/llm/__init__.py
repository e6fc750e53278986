"""The LLM extractors: ``anthropic`` (Claude vision, a forced tool) and ``openai-compatible`` (any server with
an OpenAI-style chat completions API), with what they share.

Modules: ``config`` (their typed configurations, built by the composition root), ``base`` (the metered, retried
call and the health they report), ``budget`` (the daily spend cap), ``retry`` (backoff with jitter on tenacity),
``images`` (pages → modest JPEGs), ``schema`` (the receipt JSON schema and the prompt), ``output`` (validation of
the untrusted answer).
"""
