"""Talking to an OpenAI-compatible provider: the client factory, the API key's keychain
entry, model listing and connection checks."""
