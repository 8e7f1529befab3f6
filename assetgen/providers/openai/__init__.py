"""The OpenAI-compatible Images API provider and everything only it needs.

``provider`` (the :class:`~assetgen.providers.openai.provider.OpenAIProvider`,
over httpx), ``models`` (the model table, with lifecycle and prices),
``lifecycle``, ``estimates``, ``inputs`` (edit images), ``wire`` (request and
answer formats), ``retry``, ``limits``, ``profile_check`` (what a model's
profile refuses: the offline provider applies it too) and ``batch`` (the
Files and Batch API). Importing this package imports none of them, so the
model table can be read without httpx.
"""
